"""``newsmonitor init``: a commented starter configuration, asked for in a terminal or given
by options; it never overwrites a file."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from monitor.cli.base import config_option, main
from monitor.cli.configfile import fail
from monitor.config import parse_settings
from monitor.config.starter import NOTIFIER, SCHEMA_FILE, StarterChoices, starter_config
from monitor.errors import ConfigError
from monitor.redact import redact_text


@main.command("init")
@config_option
@click.option(
    "--notify", "notify_url", metavar="URL", help="Where alerts go: an apprise URL (kept in a file of its own, mode 0600)."
)
@click.option("--rule", "query", metavar="QUERY", help="The first watch rule, e.g. '\"rare earths\" OR lithium'.")
@click.option("--rule-name", metavar="NAME", help="Its name (default: made from the query).")
@click.option("--no-input", is_flag=True, help="Never ask: take only what the options say (the default without a terminal).")
def init(config_path: str | None, notify_url: str | None, query: str | None, rule_name: str | None, no_input: bool) -> None:
    """Write a commented starter configuration (default ./newsmonitor.yaml); never overwrite one.

    In a terminal it asks for what the options leave out: where alerts go (an apprise URL)
    and a first rule. The URL is a credential, so it goes into a file of its own beside the
    configuration (mode 0600), which the configuration reads with ${file:...}; a URL given
    as ${VAR} is written as it is. The schema file editors complete keys with is written
    beside it too. Exit 2 when the file exists or what was given is invalid.
    """
    from monitor.subscriptions.plan import slugify

    path = Path(config_path or "newsmonitor.yaml")
    interactive = not no_input and sys.stdin.isatty()
    secret = path.parent / f"{path.stem}.{NOTIFIER}.secret"
    for existing in (path, secret):
        if existing.exists() or existing.is_symlink():
            fail(f"{existing} exists; init never overwrites a file (move it away, or pass --config NEWPATH)")
    query = _ask_query(query, interactive)
    notify_url = _ask_notify(notify_url, interactive)
    name = rule_name or slugify(query) or "first-rule"
    choices = StarterChoices(rule_name=name, query=query)
    if notify_url and "${" not in notify_url:
        _write_new(secret, notify_url + "\n", mode=0o600)
        choices = StarterChoices(
            rule_name=name,
            query=query,
            notify_value=f"${{file:{secret.resolve()}}}",
            notify_note=f"the URL itself is in {secret.name} (mode 0600), never in this file",
        )
    elif notify_url:
        choices = StarterChoices(rule_name=name, query=query, notify_value=notify_url)
    text = starter_config(choices)
    notes = _starter_problems(text, str(path), secret)
    _write_new(path, text, mode=0o644)
    click.echo(f"wrote {path}")
    if choices.notify_note:
        click.echo(f"wrote {secret} (mode 0600): the notifier URL; keep it out of version control")
    schema_path = path.parent / SCHEMA_FILE
    if not schema_path.exists():
        from monitor.config.schema import schema_text

        schema_path.write_text(schema_text(), encoding="utf-8")
        click.echo(f"wrote {schema_path} (the schema editors complete and check keys with)")
    for note in notes:
        click.echo(f"note: {note}")
    given = f" --config {path}" if config_path else ""
    click.echo("next: add sources, then check the file and try the rules:")
    click.echo(f"  newsmonitor add{given} https://www.example.org/world/   (finds the site's feed)")
    click.echo(f"  newsmonitor import-opml{given} subscriptions.opml        (another reader's export)")
    click.echo(f"  newsmonitor check{given} && newsmonitor once --dry-run{given}")


def _ask_query(query: str | None, interactive: bool) -> str:
    """The first rule's query, asked until it parses in a terminal; exit 2 otherwise when missing or invalid."""
    from monitor.config.check import check_query

    while True:
        if query is None:
            if not interactive:
                fail("give the first rule with --rule QUERY (or run init in a terminal to be asked)")
            query = str(click.prompt('First rule, what to watch for (e.g. "rare earths" OR lithium)'))
        problem = check_query(query)
        if problem is None:
            return query
        if not interactive:
            fail(f"--rule: {problem}")
        click.echo(f"  {problem}; try again")
        query = None


def _ask_notify(url: str | None, interactive: bool) -> str | None:
    """The notifier URL (None: none yet), asked until apprise knows it in a terminal; exit 2 otherwise when invalid."""
    from monitor.notify.deliver import check_apprise_url

    while True:
        if url is None:
            if not interactive:
                return None
            url = str(
                click.prompt(
                    # a credential: not echoed, so it stays out of the terminal's scrollback
                    "Where alerts go: an apprise URL (tgram://TOKEN/CHAT, mailtos://user:pass@host, ...; "
                    "not shown as you type; empty: none yet)",
                    default="",
                    show_default=False,
                    hide_input=True,
                )
            ).strip()
            if not url:
                return None
        problem = None if "${" in url else check_apprise_url(url)
        if problem is None:
            return url
        if not interactive:
            fail(f"--notify: {problem}")
        click.echo(f"  {problem}; try again")
        url = None


def _starter_problems(text: str, name: str, secret: Path) -> list[str]:
    """Validate the starter ``text`` as ``check`` would; return notes (variables the user's
    ${VAR} names that are not set yet). Exits 2, removing ``secret``, on any other problem."""
    try:
        parse_settings(text, name)
    except ConfigError as exc:
        unset = [p for p in exc.problems if "environment variable" in p and "not set" in p]
        others = [p for p in exc.problems if p not in unset]
        if others:
            secret.unlink(missing_ok=True)
            click.echo("newsmonitor: the starter configuration would not be valid; nothing written:", err=True)
            for problem in others:
                click.echo("  " + redact_text(problem), err=True)
            sys.exit(2)
        return [redact_text(p.split(": ", 2)[-1]) + " before `check` or `run`" for p in unset]
    return []


def _write_new(path: Path, text: str, *, mode: int) -> None:
    """Create ``path`` with ``text``; exits 2 if it appeared meanwhile (never overwritten)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        fail(f"{path} exists; init never overwrites a file")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
