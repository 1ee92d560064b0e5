"""Commands that read or change the stored state: ``sources`` and ``outbox`` (``outbox retry``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from monitor.cli.base import config_option, load_or_exit, main
from monitor.redact import redact_text


@main.command()
@config_option
def sources(config_path: str | None) -> None:
    """Show each source's health: ok / failing since, last error, next poll."""
    config = load_or_exit(config_path)
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
    config = load_or_exit(config_path)
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
    config = load_or_exit(config_path or ctx.obj)
    from monitor.store import repo
    from monitor.store.db import Database

    db = Database(config.database_url)
    db.migrate()
    from monitor.clock import SYSTEM_CLOCK

    with db.write() as conn:
        count = repo.retry_rows(conn, row_id=row_id, all_dead=all_dead, now=SYSTEM_CLOCK.timestamp())
    click.echo(f"requeued {count} row{'s' if count != 1 else ''}")
    db.close()
