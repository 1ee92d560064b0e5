"""``newsmonitor instances``: the instances sharing the database, their heartbeat, leases and lag."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from monitor.cli.base import config_option, load_or_exit, main
from monitor.cli.state import NO_DATABASE, open_store
from monitor.clock import SYSTEM_CLOCK
from monitor.daemon.runtime import config_hash
from monitor.store import cluster


@main.command()
@config_option
def instances(config_path: str | None) -> None:
    """List the instances sharing the (PostgreSQL) database: id, last heartbeat, source leases
    held, how late their polls ran, and the hash of the configuration each runs (marked when
    it differs from this file's); instances silent for three heartbeats are listed as gone."""
    config = load_or_exit(config_path)
    db = open_store(config)
    if db is None:
        click.echo(NO_DATABASE)
        return
    with db.read() as conn:
        found = cluster.members(conn)
    db.close()
    now = SYSTEM_CLOCK.timestamp()
    beat = config.settings.instances.heartbeat
    mine = config_hash(config)
    width = max([24, *(len(m.id) for m in found)])
    click.echo(f"{'INSTANCE':<{width}} {'STATE':<5} {'HEARTBEAT':<20} {'LEASES':>6} {'LAG':>7} CONFIG")
    for m in found:
        live = "live" if m.heartbeat_at >= now - 3 * beat else "gone"
        when = datetime.fromtimestamp(m.heartbeat_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        differs = "" if m.config_hash == mine else " (differs from this file)"
        click.echo(f"{m.id:<{width}} {live:<5} {when:<20} {m.leases:>6} {m.lag:>6.1f}s {m.config_hash}{differs}")
    if not found:
        click.echo("(no instance has written a heartbeat: they do with a PostgreSQL database)")
