"""The command-line interface: a thin click shell over :class:`monitor.daemon.worker.Daemon`.

Exit status: 0 success, 1 a command-level failure (e.g. no match, a failed send),
2 invalid configuration or usage.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime

import click

from monitor import __version__
from monitor.config import Config, default_config_path, load_config
from monitor.errors import ConfigError, StoreError
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


def _load(config_path: str | None) -> Config:
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


def _logging(verbose: int) -> None:
    install_logging(logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsmonitor")
def main() -> None:
    """newsmonitor: watch news feeds and section pages, alert on stories that match your rules."""


@main.command()
@config_option
@verbose_option
def check(config_path: str | None, verbose: int) -> None:
    """Validate the configuration and every rule; list every problem (exit 2 if any)."""
    _logging(verbose)
    config = _load(config_path)
    s = config.settings
    for warning in config.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"{config.path}: OK: {len(s.sources)} sources, {len(s.rules)} rules, {len(s.notifiers)} notifiers"
    )


@main.command()
@config_option
@verbose_option
@click.option("--workers", default=1, show_default=True, help="Parser worker processes (0 = a thread).")
def run(config_path: str | None, verbose: int, workers: int) -> None:
    """Run the daemon until SIGTERM or Ctrl-C."""
    _logging(max(verbose, 1))
    config = _load(config_path)
    from monitor.daemon.worker import Daemon

    async def main_() -> int:
        daemon = Daemon(config, workers=workers)
        try:
            return await daemon.run()
        finally:
            await daemon.close()

    try:
        sys.exit(asyncio.run(main_()))
    except StoreError as exc:
        click.echo(f"newsmonitor: {exc}", err=True)
        sys.exit(1)


@main.command()
@config_option
@verbose_option
@click.option("--dry-run", is_flag=True, help="Print the alerts that would be sent; record and send nothing.")
@click.option("--workers", default=1, show_default=True, help="Parser worker processes (0 = a thread).")
def once(config_path: str | None, verbose: int, dry_run: bool, workers: int) -> None:
    """Poll every source once, deliver what is due, and exit."""
    _logging(verbose)
    config = _load(config_path)
    from monitor.daemon.worker import Daemon

    async def main_() -> None:
        daemon = Daemon(config, workers=workers)
        try:
            results = await daemon.run_once(record=not dry_run)
        finally:
            await daemon.close()
        for result in results:
            line = f"{result.source}: {result.status}, {result.listed} listed, {result.new} new"
            if result.error:
                line += f" ({result.error})"
            click.echo(line)
            if dry_run:
                for story, matches in result.alerts:
                    click.echo(f"  would alert: {story.title} <{story.url}>")
                    for match in matches:
                        snippet = match.snippets[0].plain() if match.snippets else ""
                        click.echo(f"    rule {match.rule}: {snippet}")

    try:
        asyncio.run(main_())
    except StoreError as exc:
        click.echo(f"newsmonitor: {exc}", err=True)
        sys.exit(1)


@main.command("test-source")
@config_option
@click.argument("name_or_url")
@click.option("-v", "--verbose", count=True, help="Also list every rejected link and why.")
def test_source(config_path: str | None, name_or_url: str, verbose: int) -> None:
    """Run one source once without recording anything; print the stories it found."""
    install_logging(logging.INFO if verbose else logging.WARNING)
    from monitor.storyload import run_test_source

    code = asyncio.run(run_test_source(config_path, name_or_url, verbose=verbose > 0, echo=click.echo))
    sys.exit(code)


@main.command("test-notify")
@config_option
@click.argument("target")
def test_notify(config_path: str | None, target: str) -> None:
    """Send one test message to every URL of notifier TARGET."""
    install_logging(logging.WARNING)
    config = _load(config_path)
    from monitor.daemon.targets import build_targets
    from monitor.notify.deliver import Outcome, privacy_url, send
    from monitor.notify.message import Message

    targets = build_targets(config)
    if target not in targets:
        click.echo(f"unknown notifier '{target}'; defined: {', '.join(targets) or 'none'}", err=True)
        sys.exit(2)
    t = targets[target]
    message = Message(
        kind="health",
        target=target,
        items=[],
        note="newsmonitor test message: delivery works.",
        keys=["nm-test"],
    )
    rendered = t.renderer.render(message)
    failed = False
    for dest in t.destinations:
        result = send(
            dest.url,
            title=rendered.title,
            body=rendered.body,
            body_format=rendered.body_format,
            key="nm-test",
            timeout=config.settings.delivery.timeout,
        )
        click.echo(f"{privacy_url(dest.url)}: {result.outcome.value} {result.detail}")
        failed = failed or result.outcome is not Outcome.SENT
    sys.exit(1 if failed else 0)


@main.command()
@config_option
def sources(config_path: str | None) -> None:
    """Show each source's health: ok / failing since, last error, next poll."""
    config = _load(config_path)
    from monitor.store import repo
    from monitor.store.db import Database

    db = Database(config.database_url)
    db.migrate()
    with db.read() as conn:
        states = {s.name: s for s in repo.all_sources(conn)}
    click.echo(f"{'SOURCE':<24} {'STATUS':<26} {'POLLS':>6} {'NEXT POLL':<20} LAST ERROR")
    for src in config.settings.sources:
        state = states.get(src.name)
        if state is None:
            status, polls, nxt, err = ("disabled" if not src.enabled else "never polled"), 0, "-", ""
        else:
            status = "ok" if not state.failing_since else f"failing since {_when(state.failing_since)}"
            polls, nxt, err = state.polls, _when(state.next_poll_at), state.last_error or ""
        click.echo(f"{src.name:<24} {status:<26} {polls:>6} {nxt:<20} {redact_text(err)[:80]}")
    db.close()


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


@main.group(invoke_without_command=True)
@config_option
@click.pass_context
def outbox(ctx: click.Context, config_path: str | None) -> None:
    """List pending, dead and cancelled alerts (subcommand: retry)."""
    ctx.obj = config_path
    if ctx.invoked_subcommand is not None:
        return
    config = _load(config_path)
    from monitor.store import repo
    from monitor.store.db import Database

    db = Database(config.database_url)
    db.migrate()
    with db.read() as conn:
        rows = repo.list_outbox(conn, ["pending", "dead", "cancelled"])
    click.echo(f"{'ID':>6} {'STATUS':<9} {'TARGET':<16} {'RULE':<20} {'TRIES':>5} {'KEY':<24} LAST ERROR")
    for row in rows:
        click.echo(
            f"{row['id']:>6} {row['status']:<9} {row['target'][:16]:<16} {row['rule'][:20]:<20} "
            f"{row['attempts']:>5} {row['key']:<24} {redact_text(row['last_error'] or '')[:60]}"
        )
    click.echo(f"{len(rows)} rows")
    db.close()


@outbox.command("retry")
@click.argument("row_id", required=False, type=int)
@click.option("--all-dead", is_flag=True, help="Requeue every dead row.")
@config_option
@click.pass_context
def outbox_retry(ctx: click.Context, row_id: int | None, all_dead: bool, config_path: str | None) -> None:
    """Requeue one row (by ID) or every dead row; the running daemon sends them."""
    if row_id is None and not all_dead:
        click.echo("give a row ID or --all-dead", err=True)
        sys.exit(2)
    config = _load(config_path or ctx.obj)
    from monitor.store import repo
    from monitor.store.db import Database

    db = Database(config.database_url)
    db.migrate()
    import time

    with db.write() as conn:
        count = repo.retry_rows(conn, row_id=row_id, all_dead=all_dead, now=time.time())
    click.echo(f"requeued {count} row{'s' if count != 1 else ''}")
    db.close()


@main.command()
@click.option("--duration", default=30.0, show_default=True, help="Seconds to run.")
@click.option("--port", default=0, help="Port of the bundled news site (0 = any free port).")
def demo(duration: float, port: int) -> None:
    """Run the real daemon for ~30 s against a bundled news site on 127.0.0.1 (offline)."""
    from monitor.demo.run import run_demo

    sys.exit(asyncio.run(run_demo(duration=duration, port=port, echo=click.echo)))


def _register_optional() -> None:
    try:
        from monitor.cli_rules import match, test_rule
    except ImportError:  # pragma: no cover - the rule commands ship with the package
        return
    main.add_command(test_rule, "test-rule")
    main.add_command(match, "match")


_register_optional()
