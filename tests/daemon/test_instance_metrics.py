"""/metrics of an instance sharing a PostgreSQL database: every series names the instance
(the id ``newsmonitor instances`` lists); a SQLite daemon's series carry no instance label."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp

from monitor.daemon.service import Daemon
from monitor.daemon.status import RuntimeStatus
from monitor.web.server import start
from tests.support.configs import make_config

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? \S+$")


async def scrape(daemon: Daemon) -> list[str]:
    """The sample lines (no comments) of the daemon's /metrics, read over HTTP."""
    server = await start(RuntimeStatus(daemon.rt), "127.0.0.1:0")
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}/metrics") as resp:
            assert resp.status == 200
            text = await resp.text()
    finally:
        await server.stop()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def config_for(tmp_path: Path, database: str) -> object:
    return make_config(
        tmp_path,
        sources=[{"name": "s", "feed": "http://127.0.0.1:1/feed.xml"}],
        rules=[{"name": "r", "query": "x"}],
        notifiers={"chat": "json://127.0.0.1:1/hook"},
        allow=["127.0.0.1:1"],
        extra=f"database: {database}\ncluster: {{enabled: false}}",
    )


async def test_every_series_of_an_instance_on_postgresql_names_it(tmp_path: Path, postgres_url: str) -> None:
    daemons = [Daemon(config_for(tmp_path, postgres_url), workers=0) for _ in range(2)]  # type: ignore[arg-type]
    try:
        for daemon in daemons:
            await daemon.run_once(deliver=False)  # a failed poll: labelled counters have samples
        for daemon in daemons * 2:  # the second round sees both
            await daemon._heartbeat()
        for daemon in daemons:
            lines = await scrape(daemon)
            me = daemon.rt.instance_id
            assert len(lines) > 20
            unlabelled = [line for line in lines if f'instance="{me}"' not in line]
            assert unlabelled == []
            assert any(line.startswith("newsmonitor_polls_total{") and 'outcome="error"' in line for line in lines)
            assert f'newsmonitor_instance_info{{instance="{me}"}} 1.0' in lines
            assert f'newsmonitor_config_mismatch{{instance="{me}"}} 0.0' in lines
            assert f'newsmonitor_instances_live{{instance="{me}"}} 2.0' in lines
        members = await daemons[0].rt.store.leases.members()
        assert sorted(m.id for m in members) == sorted(d.rt.instance_id for d in daemons)
    finally:
        for daemon in daemons:
            await daemon.close()


async def test_a_configuration_differing_between_instances_is_a_metric(tmp_path: Path, postgres_url: str) -> None:
    first = Daemon(config_for(tmp_path, postgres_url), workers=0)  # type: ignore[arg-type]
    other = config_for(tmp_path / "other", postgres_url)
    other.settings.rules[0].query = "y"  # type: ignore[attr-defined]
    second = Daemon(other, workers=0)  # type: ignore[arg-type]
    try:
        for daemon in (first, second):
            await daemon.start()
        await first._heartbeat()
        await second._heartbeat()
        await first._heartbeat()
        for daemon in (first, second):
            lines = await scrape(daemon)
            assert f'newsmonitor_config_mismatch{{instance="{daemon.rt.instance_id}"}} 1.0' in lines
    finally:
        for daemon in (first, second):
            await daemon.close()


async def test_a_sqlite_daemon_labels_no_series_with_an_instance(tmp_path: Path) -> None:
    daemon = Daemon(config_for(tmp_path, f"sqlite:///{tmp_path}/state.db"), workers=0)  # type: ignore[arg-type]
    try:
        await daemon.run_once(deliver=False)
        lines = await scrape(daemon)
    finally:
        await daemon.close()
    assert lines and all(_SAMPLE.match(line) for line in lines)
    assert [line for line in lines if "instance=" in line] == []
