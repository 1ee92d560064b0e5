"""Commands that read or change the stored state: ``sources`` and ``outbox`` (``outbox retry``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from monitor.cli.base import config_option, load_or_exit, main
from monitor.clock import SYSTEM_CLOCK
from monitor.config import Config
from monitor.errors import StoreError
from monitor.models import OutboxStatus
from monitor.redact import redact_text
from monitor.store import repo
from monitor.store.db import Database
from monitor.web.view import SourceHealth


def open_store(config: Config) -> Database | None:
    """The configured database as it is (never created or migrated), or ``None`` if it does not exist yet.

    These commands run beside a running daemon: they must not change its schema, and a
    database that is too old or too new is a clear error (exit 1), not a traceback.
    """
    try:
        return Database.open_existing(config.database_url)
    except StoreError as exc:
        click.echo(f"newsmonitor: {exc}", err=True)
        sys.exit(1)


NO_DATABASE = "(no database yet: the daemon has not run with this configuration)"


@main.command()
@config_option
def sources(config_path: str | None) -> None:
    """Show each source's health (ok, failing, gone, blocked, empty, stale, never polled,
    disabled), last error and next poll, and what to do about each state shown."""
    config = load_or_exit(config_path)
    from monitor.daemon.status import source_statuses

    db = open_store(config)
    states: dict[str, repo.SourceState] = {}
    if db is not None:
        with db.read() as conn:
            states = {s.name: s for s in repo.all_sources(conn)}
        db.close()
    rows = source_statuses(config.settings.sources, states, config.settings.health, SYSTEM_CLOCK.timestamp())
    # as wide as what they hold, so that the columns after them stay aligned
    name_width = max([24, *(len(row.name) for row in rows)])
    status_width = max([12, *(len(row.detail) for row in rows)])
    click.echo(f"{'SOURCE':<{name_width}} {'STATUS':<{status_width}} {'POLLS':>6} {'NEXT POLL':<20} LAST ERROR")
    for row in rows:
        nxt = _when(row.next_poll_at)
        click.echo(
            f"{row.name:<{name_width}} {row.detail:<{status_width}} {row.polls:>6} {nxt:<20} {row.last_error[:80]}"
        )
    if db is None:
        click.echo(NO_DATABASE)
    shown = [health for health in SourceHealth if health is not SourceHealth.OK and any(r.health is health for r in rows)]
    for health in shown:
        click.echo(f"{health.value}: {health.advice}")


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
    config = load_or_exit(config_path)
    db = open_store(config)
    rows: list[repo.OutboxEntry] = []
    if db is not None:
        with db.read() as conn:
            rows = repo.list_outbox(conn, [OutboxStatus.PENDING, OutboxStatus.DEAD, OutboxStatus.CANCELLED])
        db.close()
    click.echo(f"{'ID':>6} {'STATUS':<9} {'TARGET':<16} {'RULE':<20} {'TRIES':>5} {'KEY':<24} LAST ERROR")
    for row in rows:
        click.echo(
            f"{row.id:>6} {row.status:<9} {row.target[:16]:<16} {row.rule[:20]:<20} "
            f"{row.attempts:>5} {row.key:<24} {redact_text(row.last_error or '')[:60]}"
        )
    click.echo(f"{len(rows)} rows" + ("" if db is not None else " " + NO_DATABASE))


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
    config = load_or_exit(config_path or ctx.obj)
    db = open_store(config)
    if db is None:
        click.echo(f"requeued 0 rows {NO_DATABASE}")
        return
    with db.write() as conn:
        count = repo.retry_rows(conn, row_id=row_id, all_dead=all_dead, now=SYSTEM_CLOCK.timestamp())
    click.echo(f"requeued {count} row{'s' if count != 1 else ''}")
    db.close()
