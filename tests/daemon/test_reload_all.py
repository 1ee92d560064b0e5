"""``newsmonitor reload --all``: every instance sharing a PostgreSQL database re-reads its
configuration (LISTEN/NOTIFY, a lost listener connection opened again, a missed notice
caught up), a SIGHUP to one instance reaches the others, a refused file is reported; on
SQLite ``reload`` sends SIGHUP to the daemon holding the file.

Daemons run in this process (``run()`` as tasks), ``reload`` in a thread beside them."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import ConfigError, load_config
from monitor.daemon.runtime import config_hash
from monitor.daemon.service import Daemon
from monitor.store.db import libpq_url
from tests.support.configs import config_data
from tests.support.waiting import wait_for


def settings(tmp_path: Path, database: str, rules: list[str]) -> dict[str, Any]:
    return config_data(
        tmp_path,
        sources=[{"name": "s", "feed": "http://127.0.0.1:1/feed.xml", "enabled": False}],
        rules=[{"name": f"r{i}", "query": query} for i, query in enumerate(rules)],
        notifiers={"chat": "json://127.0.0.1:1/hook"},
        allow=["127.0.0.1:1"],
        # no heartbeat during the test: only the notices (and reconnections) carry a request
        extra=f"database: {database}\ncluster: {{enabled: false}}\ninstances: {{heartbeat: 1h}}",
    )


async def cli(*args: str) -> tuple[int, str, str]:
    """``newsmonitor ARGS`` in a thread of this process (a process of its own takes seconds to
    start on a loaded machine), while the daemons go on in the event loop."""
    result = await asyncio.to_thread(CliRunner().invoke, main, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, data: dict[str, Any]) -> str:
    """Write the file; the hash of the configuration it holds."""
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return config_hash(load_config(str(path)))


async def hashes(daemon: Daemon) -> dict[str, str]:
    return {m.id: m.config_hash for m in await daemon.rt.store.leases.members()}


async def heartbeats_say(daemon: Daemon, expected: dict[str, str]) -> dict[str, str]:
    """The membership rows' hashes once they are ``expected`` (each instance writes its
    heartbeat after its reload, in the background), or as they are after 30 s."""
    for _ in range(300):
        found = await hashes(daemon)
        if found == expected:
            break
        await asyncio.sleep(0.1)
    return found


async def test_reload_all_reaches_every_instance_even_after_its_listener_lost_its_connection(
    tmp_path: Path, postgres_url: str
) -> None:
    path = tmp_path / "config.yaml"
    first = write(path, settings(tmp_path, postgres_url, ["earthquake"]))
    daemons = [Daemon(load_config(str(path)), workers=0) for _ in range(3)]
    runs = [asyncio.create_task(d.run(install_signals=False)) for d in daemons]
    try:
        assert await wait_for(lambda: all(d.reload_listener and d.reload_listener.backend_pid for d in daemons))
        ids = {d.rt.instance_id for d in daemons}
        assert await heartbeats_say(daemons[0], dict.fromkeys(ids, first)) == dict.fromkeys(ids, first)

        second = write(path, settings(tmp_path, postgres_url, ["earthquake", "flood"]))
        code, out, err = await cli("reload", "--all", "--config", str(path), "--wait", "30")
        assert (code, err) == (0, ""), out
        assert out.count(f"reloaded: runs {second}") == 3
        assert await hashes(daemons[0]) == dict.fromkeys(ids, second)
        assert all(len(d.rt.rules) == 2 for d in daemons)

        # the listener of one instance loses its connection (the server ends it) and opens a new one
        listener = daemons[1].reload_listener
        assert listener is not None and listener.connections == 1
        with psycopg.connect(libpq_url(postgres_url), autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (listener.backend_pid,))
        third = write(path, settings(tmp_path, postgres_url, ["earthquake", "flood", "storm"]))
        # the notice may go out while the connection is down: the reconnection catches it up
        code, out, _ = await cli("reload", "--all", "--config", str(path), "--wait", "30")
        assert code == 0 and out.count(f"reloaded: runs {third}") == 3, out
        assert listener.connections == 2
        assert all(len(d.rt.rules) == 3 for d in daemons)

        # a SIGHUP to one instance that changes its configuration asks the others too
        fourth = write(path, settings(tmp_path, postgres_url, ["earthquake"]))
        assert await daemons[2]._hangup()
        assert await heartbeats_say(daemons[0], dict.fromkeys(ids, fourth)) == dict.fromkeys(ids, fourth)
        assert all(len(d.rt.rules) == 1 for d in daemons)
    finally:
        for daemon in daemons:
            daemon.stop()
        await asyncio.gather(*runs, return_exceptions=True)
        for daemon in daemons:
            await daemon.close()


async def test_reload_all_reports_an_instance_that_refuses_the_file(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yaml"
    data = settings(tmp_path, postgres_url, ["earthquake"])
    first = write(path, data)
    daemon = Daemon(load_config(str(path)), workers=0)
    run = asyncio.create_task(daemon.run(install_signals=False))
    try:
        assert await wait_for(lambda: daemon.reload_listener and daemon.reload_listener.backend_pid)
        me = {daemon.rt.instance_id: first}
        assert await heartbeats_say(daemon, me) == me
        code, out, err = await cli("reload", "--config", str(path))
        assert code == 2 and "reload --all" in err and out == ""
        # a file the daemon refuses: every problem logged, its row says so, the request handled
        data["rules"].append({"name": "broken", "query": "AND AND"})
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        request = await daemon.rt.store.leases.request_reload(None)
        assert await wait_for(lambda: daemon._reload_gen == request.generation, timeout=30)
        assert daemon.rt.metrics.config_reload_errors._value.get() == 1 and len(daemon.rt.rules) == 1
        refused = [m for m in await daemon.rt.store.leases.members() if m.reload_gen == request.generation]
        assert [(m.reload_ok, m.config_hash) for m in refused] == [(False, first)]
        # the command checks the file first: an invalid one is reported and no instance asked
        code, out, err = await cli("reload", "--all", "--config", str(path), "--wait", "30")
        assert code == 2 and "broken" in out + err and "asked" not in out
        assert daemon._reload_gen == request.generation
        # a file the command accepts and the daemon does not (its environment lacks a variable,
        # say): the command names the instance that refused it
        data["rules"].pop()
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        code, out, _ = await cli("instances", "--config", str(path))
        assert code == 0 and f"{first} (refused the file at its last reload: see its log)" in out

        def refuse(path: str, **_: object) -> object:
            raise ConfigError([f"{path}: rules[1].query: environment variable NM_RULE not set"])

        monkeypatch.setattr("monitor.daemon.service.load_config", refuse)
        code, out, err = await cli("reload", "--all", "--config", str(path), "--wait", "30")
        assert code == 1 and f"refused the configuration it read (see its log); still runs {first}" in out, err
        assert daemon.rt.metrics.config_reload_errors._value.get() == 2
    finally:
        daemon.stop()
        await run
        await daemon.close()


async def test_reload_on_sqlite_signals_the_daemon_holding_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    database = f"sqlite:///{tmp_path}/state.db"
    write(path, settings(tmp_path, database, ["earthquake"]))
    code, _, err = await cli("reload", "--config", str(path))
    assert code == 1 and "no daemon" in err
    daemon = Daemon(load_config(str(path)), workers=0)
    run = asyncio.create_task(daemon.run(install_signals=True))  # SIGHUP to this process reloads it
    try:
        assert await wait_for(lambda: daemon.scheduler is not None)
        write(path, settings(tmp_path, database, ["earthquake", "flood"]))
        code, out, err = await cli("reload", "--all", "--config", str(path))
        assert code == 0 and f"pid {os.getpid()}" in out, err
        assert await wait_for(lambda: len(daemon.rt.rules) == 2)
    finally:
        daemon.stop()
        await run
        await daemon.close()
    code, _, err = await cli("reload", "--config", str(path))
    assert code == 1 and "no daemon" in err
