"""The ``newsmonitor`` group and what every command shares: options, config loading, logging."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from monitor import __version__
from monitor.errors import ConfigError
from monitor.logformat import LogFormat, set_log_format
from monitor.redact import install_logging, redact_text

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.config.queries import QueryCheck
    from monitor.config.rulesection import CheckedRules

log = logging.getLogger("monitor")

_CONFIG_HELP = "The YAML configuration file (default: ./newsmonitor.yaml, else $XDG_CONFIG_HOME/newsmonitor/config.yaml)."


ConfigCallback = Callable[[click.Context, click.Parameter, str | None], str | None]


def inherited_config(*, unless: str | None = None) -> ConfigCallback:
    """The callback of a command's ``--config`` that makes it the file the command runs with:
    its own ``--config`` if given, else the ``--config`` given to an enclosing group
    (``newsmonitor --config FILE check``), else what the option read from
    ``NEWSMONITOR_CONFIG`` (options that read it), else None.

    ``unless`` names another of the command's parameters that, when given, stands instead
    of an inherited file (``match --rules FILE``).
    """

    def resolve(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if param.name is None or ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
            return value
        if unless is not None and ctx.params.get(unless) is not None:
            return value
        parent = ctx.parent
        while parent is not None:
            given = parent.params.get("config_path")
            if isinstance(given, str):
                return given
            parent = parent.parent
        return value

    return resolve


config_option = click.option(
    "--config",
    "config_path",
    envvar="NEWSMONITOR_CONFIG",
    default=None,
    metavar="PATH",
    callback=inherited_config(),
    help=_CONFIG_HELP,
)
verbose_option = click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")


def _choose_log_format(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        set_log_format(value)


#: on the group and on the commands a service runs (``run``, ``once``): the last one given wins
log_format_option = click.option(
    "--log-format",
    type=click.Choice([f.value for f in LogFormat]),
    default=None,
    envvar="NEWSMONITOR_LOG_FORMAT",
    expose_value=False,
    is_eager=True,
    callback=_choose_log_format,
    help="Log lines as text (default) or one JSON object per line, for log collectors; "
    "secrets are masked in both. Also NEWSMONITOR_LOG_FORMAT.",
)


def load_or_exit(
    config_path: str | None, queries: QueryCheck | None = None, known_rules: CheckedRules | None = None
) -> Config:
    """The configuration at ``config_path`` (default: :func:`default_config_path`), its rule
    queries checked by ``queries`` and a rules section with the bytes of ``known_rules``
    taken from it; an invalid file is listed on stderr and exits 2."""
    # imported here: the config models bring pydantic, which commands without a config do not need
    from monitor.config import default_config_path, load_config

    path = config_path or default_config_path()
    try:
        return load_config(path, queries=queries, known_rules=known_rules)
    except ConfigError as exc:
        click.echo(
            f"newsmonitor: invalid configuration ({len(exc.problems)} problem"
            f"{'s' if len(exc.problems) != 1 else ''}):",
            err=True,
        )
        for problem in exc.problems:
            click.echo("  " + redact_text(problem), err=True)
        sys.exit(2)


def setup_logging(verbose: int) -> None:
    install_logging(logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING)


class LazyGroup(click.Group):
    """A command group whose commands are imported when they are run, not when the group is.

    Each command module imports the stages it drives (the daemon imports SQLAlchemy,
    aiohttp, apprise, trafilatura ...: about a second); ``newsmonitor match`` needs none of
    them. :meth:`lazy` names the module of a command; the module registers the command on
    the group when it is imported. ``--help`` lists every command, so it imports them all.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._modules: dict[str, str] = {}

    def lazy(self, module: str, *names: str) -> None:
        """Commands ``names`` are registered by importing ``module`` (a dotted name)."""
        for name in names:
            self._modules[name] = module

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self._modules})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = self._modules.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(module)
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsmonitor")
@click.option(
    "--config",
    "config_path",
    default=None,
    metavar="PATH",
    help="The configuration file of every command below (a command's own --config wins). " + _CONFIG_HELP,
)
@log_format_option
def main(config_path: str | None) -> None:
    """newsmonitor: watch news feeds and section pages, alert on stories that match your rules."""
    name_entry_script(sys.modules.get("__main__"))


def name_entry_script(script: ModuleType | None) -> None:
    """Name the ``newsmonitor`` script, when it is the main module, as the module it stands for.

    multiprocessing runs the main script again in every worker process it starts (the parser
    workers), unless the main module was run by name (``python -m``): the script's one line,
    ``from monitor.cli import main``, would cost each worker the whole command-line interface
    (0.7 s and 70 MB). It does what ``python -m monitor`` does, so it gets that module's
    name, which multiprocessing does not run again. Any other main module is left alone.
    """
    if script is None or getattr(script, "__spec__", None) is not None or getattr(script, "main", None) is not main:
        return
    script.__spec__ = importlib.util.find_spec("monitor.__main__")
