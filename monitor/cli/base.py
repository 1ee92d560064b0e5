"""The ``newsmonitor`` group and what every command shares: options, config loading, logging."""

from __future__ import annotations

import logging
import sys

import click

from monitor import __version__
from monitor.config import Config, default_config_path, load_config
from monitor.errors import ConfigError
from monitor.redact import install_logging, redact_text

log = logging.getLogger("monitor")

config_option = click.option(
    "--config",
    "config_path",
    envvar="NEWSMONITOR_CONFIG",
    default=None,
    metavar="PATH",
    help="The YAML configuration file (default: ./newsmonitor.yaml, else $XDG_CONFIG_HOME/newsmonitor/config.yaml).",
)
verbose_option = click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")


def load_or_exit(config_path: str | None) -> Config:
    path = config_path or default_config_path()
    try:
        return load_config(path)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsmonitor")
def main() -> None:
    """newsmonitor: watch news feeds and section pages, alert on stories that match your rules."""
