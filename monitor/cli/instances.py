"""``newsmonitor instances``: the instances sharing the database, their heartbeat, leases and
lag; ``newsmonitor reload``: the running daemon, or with ``--all`` every instance, re-reads
its configuration."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from monitor.cli.base import config_option, load_or_exit, main
from monitor.cli.state import NO_DATABASE, open_store
from monitor.clock import SYSTEM_CLOCK
from monitor.config import Config
from monitor.daemon.runtime import config_hash
from monitor.store import cluster, reloads
from monitor.store.db import Database


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
        refused = "" if m.reload_ok else " (refused the file at its last reload: see its log)"
        click.echo(
            f"{m.id:<{width}} {live:<5} {when:<20} {m.leases:>6} {m.lag:>6.1f}s {m.config_hash}{differs}{refused}"
        )
    if not found:
        click.echo("(no instance has written a heartbeat: they do with a PostgreSQL database)")


@main.command("reload")
@config_option
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Every instance sharing the (PostgreSQL) database re-reads its configuration.",
)
@click.option(
    "--wait",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds to wait for every instance to say how its reload went (with --all).",
)
def reload_command(config_path: str | None, every: bool, wait: float) -> None:
    """Make the running daemon re-read its configuration file, as SIGHUP does.

    The file is validated first: if it is invalid, every problem is listed and nothing is
    reloaded (exit 2). With a SQLite database the daemon holding it gets SIGHUP. With
    PostgreSQL, --all asks every live instance (through the database: LISTEN/NOTIFY, and
    their heartbeats should a notice be missed) and waits for each one's answer; exit 1
    when one refused the new configuration, did not answer, or none is running.
    """
    config = load_or_exit(config_path)
    db = open_store(config)
    if db is None:
        click.echo(f"newsmonitor: no daemon runs with {config.path}: {NO_DATABASE}", err=True)
        sys.exit(1)
    try:
        if not db.shared:
            db.close()
            _signal_sqlite_daemon(config.database_url)
            return
        if not every:
            click.echo(
                "newsmonitor: with a PostgreSQL database several instances may share the work: "
                "`newsmonitor reload --all` makes every one re-read its configuration "
                "(or send SIGHUP to one instance: it asks the others when its configuration changed)",
                err=True,
            )
            sys.exit(2)
        sys.exit(_reload_all(db, config, wait))
    finally:
        db.close()


def _signal_sqlite_daemon(database_url: str) -> None:
    """SIGHUP to the daemon holding the SQLite file of ``database_url``; exits 1 when none does."""
    from sqlalchemy.engine import make_url

    from monitor.store.owner import holder_pid

    path = Path(make_url(database_url).database or "")
    pid = holder_pid(path)
    if pid is None:
        click.echo(f"newsmonitor: no daemon is running on the database {path} (none holds its lock)", err=True)
        sys.exit(1)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        click.echo(
            f"newsmonitor: the daemon holding {path} (pid {pid}) is not visible from here (another "
            "container or process namespace?): send it SIGHUP where it runs",
            err=True,
        )
        sys.exit(1)
    except PermissionError:
        click.echo(f"newsmonitor: not allowed to signal the daemon holding {path} (pid {pid}): run as its user", err=True)
        sys.exit(1)
    click.echo(f"sent SIGHUP to the daemon (pid {pid}) using {path}; its log says whether the new configuration applies")


def _reload_all(db: Database, config: Config, wait: float) -> int:
    """Ask every instance to reload and report each one's answer; the exit status."""
    beat = config.settings.instances.heartbeat
    mine = config_hash(config)
    with db.write() as conn:
        live = cluster.members(conn, since=SYSTEM_CLOCK.timestamp() - 3 * beat)
        request = reloads.request_reload(conn, config_hash=None, by=f"newsmonitor reload --all on {socket.gethostname()}")
    if not live:
        click.echo("no live instance shares the database; each one reads the file when it starts")
        return 1
    click.echo(f"asked {len(live)} instance(s) to re-read their configuration (request {request.generation})")
    deadline = time.monotonic() + wait
    waiting = {m.id for m in live}
    answers: dict[str, cluster.Member] = {}
    while waiting and time.monotonic() < deadline:
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        with db.read() as conn:
            now = SYSTEM_CLOCK.timestamp()
            for member in cluster.members(conn):
                if member.id in waiting and member.reload_gen >= request.generation:
                    answers[member.id] = member
                    waiting.discard(member.id)
            still_live = {m.id for m in cluster.members(conn, since=now - 3 * beat)}
        waiting &= still_live  # an instance that stopped meanwhile is not waited for
    failed = False
    width = max([24, *(len(m.id) for m in live)])
    for member in live:
        answer = answers.get(member.id)
        if answer is None:
            failed = True
            state = "stopped meanwhile" if member.id not in waiting else f"no answer within {wait:g} s"
            click.echo(f"{member.id:<{width}} {state}")
        elif not answer.reload_ok:
            failed = True
            click.echo(
                f"{member.id:<{width}} refused the configuration it read (see its log); "
                f"still runs {answer.config_hash}"
            )
        else:
            differs = "" if answer.config_hash == mine else " (differs from this file: its file or environment differ)"
            click.echo(f"{member.id:<{width}} reloaded: runs {answer.config_hash}{differs}")
    return 1 if failed else 0
