"""Commands that read or change the stored state: ``sources`` and ``outbox`` (``outbox retry``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from monitor.cli.base import config_option, load_or_exit, main
from monitor.clock import SYSTEM_CLOCK
from monitor.config import Config
from monitor.config.durations import parse_duration
from monitor.daemon.outbox import Zones, describe, headline, local_time, wait_of
from monitor.errors import StoreError
from monitor.models import OutboxStatus
from monitor.notify.sanitize import single_line
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
    disabled), last error and next poll, what to do about each state shown, and what to
    know about a source's listing (a feed cut at the entry limit). Where instances share a
    PostgreSQL database, a POLLED BY column names the instance that recorded each source's
    last poll."""
    config = load_or_exit(config_path)
    from monitor.daemon.status import source_statuses

    db = open_store(config)
    states: dict[str, repo.SourceSummary] = {}
    if db is not None:
        with db.read() as conn:
            states = {s.name: s for s in repo.source_summaries(conn)}
        db.close()
    rows = source_statuses(config.settings.sources, states, config.settings.health, SYSTEM_CLOCK.timestamp())
    # as wide as what they hold, so that the columns after them stay aligned
    name_width = max([24, *(len(row.name) for row in rows)])
    status_width = max([12, *(len(row.detail) for row in rows)])
    # instances sharing a PostgreSQL database: which one recorded each source's last poll
    shared = any(row.polled_by for row in rows)
    by_width = max([9, *(len(row.polled_by) for row in rows)])
    by_head = f"{'POLLED BY':<{by_width}} " if shared else ""
    click.echo(f"{'SOURCE':<{name_width}} {'STATUS':<{status_width}} {'POLLS':>6} {'NEXT POLL':<20} {by_head}LAST ERROR")
    for row in rows:
        nxt = _when(row.next_poll_at)
        by = f"{row.polled_by or '-':<{by_width}} " if shared else ""
        click.echo(
            f"{row.name:<{name_width}} {row.detail:<{status_width}} {row.polls:>6} {nxt:<20} {by}{row.last_error[:80]}"
        )
    if db is None:
        click.echo(NO_DATABASE)
    for row in rows:
        if row.note:
            click.echo(f"note: {row.name}: {row.note}")
    shown = [health for health in SourceHealth if health is not SourceHealth.OK and any(r.health is health for r in rows)]
    for health in shown:
        click.echo(f"{health.value}: {health.advice}")


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


#: how far back ``outbox --sent`` looks without ``--since`` (seconds)
SENT_SINCE = 86400.0


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@main.group(invoke_without_command=True)
@config_option
@click.option("--sent", is_flag=True, help="List the alerts delivered instead, oldest first.")
@click.option(
    "--since",
    metavar="DURATION",
    callback=_since,
    help="With --sent: those delivered in the last DURATION (30m, 12h, 7d, ...; default 1d).",
)
@click.pass_context
def outbox(ctx: click.Context, config_path: str | None, sent: bool, since: float | None) -> None:
    """List pending, sending, dead and cancelled alerts: tries, why each waits, when it is due (subcommand: retry).

    With --sent, list what was delivered instead.
    """
    ctx.obj = config_path
    if ctx.invoked_subcommand is not None:
        return
    if since is not None and not sent:
        raise click.UsageError("--since goes with --sent")
    config = load_or_exit(config_path)
    db = open_store(config)
    now = SYSTEM_CLOCK.timestamp()
    zones = Zones.of(config)
    if sent:
        count = _list_sent(db, now - (since if since is not None else SENT_SINCE), zones)
    else:
        count = _list_waiting(db, now, zones)
    click.echo(f"{count} rows" + ("" if db is not None else " " + NO_DATABASE))


def _list_waiting(db: Database | None, now: float, zones: Zones) -> int:
    """Print the pending, sending, dead and cancelled rows; returns how many."""
    rows: list[repo.OutboxEntry] = []
    dests: dict[str, repo.DestinationState] = {}
    if db is not None:
        with db.read() as conn:
            rows = repo.list_outbox(
                conn, [OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.DEAD, OutboxStatus.CANCELLED]
            )
            dests = repo.all_destinations(conn)
        db.close()
    click.echo(
        f"{'ID':>6} {'STATUS':<9} {'TARGET':<16} {'RULE':<20} {'TRIES':>5} {'DUE':<21} {'WAITING':<38} "
        f"{'KEY':<24} LAST ERROR"
    )
    for row in rows:
        zone = zones.of_target(row.target)
        wait = wait_of(row, dests.get(row.dest), now)
        due = local_time(wait.until, zone) if wait is not None else "-"
        click.echo(
            f"{row.id:>6} {row.status:<9} {row.target[:16]:<16} {row.rule[:20]:<20} {row.attempts:>5} "
            f"{due:<21} {describe(wait, now, zone):<38} {row.key:<24} {redact_text(row.last_error or '')[:60]}"
        )
    return len(rows)


def _list_sent(db: Database | None, since: float, zones: Zones) -> int:
    """Print the rows sent at or after ``since``; returns how many."""
    rows: list[repo.OutboxEntry] = []
    if db is not None:
        with db.read() as conn:
            rows = repo.list_sent(conn, since)
        db.close()
    click.echo(f"{'ID':>6} {'SENT':<21} {'TARGET':<16} {'RULE':<20} {'TRIES':>5} {'KEY':<24} TITLE")
    for row in rows:
        sent_at = local_time(row.sent_at, zones.of_target(row.target))
        click.echo(
            f"{row.id:>6} {sent_at:<21} {row.target[:16]:<16} {row.rule[:20]:<20} {row.attempts:>5} "
            f"{row.key:<24} {single_line(headline(row), 70)}"
        )
    return len(rows)


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
