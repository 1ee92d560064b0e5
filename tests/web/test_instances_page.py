"""Instances sharing one PostgreSQL database, as the status page, /api/status and
``newsmonitor sources`` show them: the live ones with their heartbeat age, leases and lag,
a warning when they run different configurations, who polled each source last."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from click.testing import CliRunner

from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import Config
from monitor.daemon.service import Daemon
from monitor.daemon.status import RuntimeStatus
from monitor.store import repo
from monitor.store.db import Database
from monitor.web.server import start
from tests.support.configs import make_config

SOURCES = [{"name": "wire", "feed": "http://127.0.0.1:1/feed.xml"}, {"name": "quiet", "feed": "http://127.0.0.1:1/q.xml"}]


def config_with(tmp_path: Path, postgres_url: str, query: str, *, write: bool = False) -> Config:
    return make_config(
        tmp_path,
        sources=SOURCES,
        rules=[{"name": "r", "query": query}],
        notifiers={"chat": "json://127.0.0.1:1/hook"},
        allow=["127.0.0.1:1"],
        extra=f"database: {postgres_url}\ninstances: {{heartbeat: 10s}}",
        write=write,
    )


async def test_the_status_page_lists_live_instances_and_warns_of_a_configuration_mismatch(
    tmp_path: Path, postgres_url: str
) -> None:
    clock = FakeClock()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    same = [Daemon(config_with(tmp_path / "a", postgres_url, "quake"), workers=0, clock=clock) for _ in range(2)]
    other = Daemon(config_with(tmp_path / "b", postgres_url, "volcano"), workers=0, clock=clock)
    daemons = [*same, other]
    server = None
    try:
        for daemon in daemons:
            await daemon.start()
        await other._heartbeat()
        clock.advance(31)  # silent for more than 3 heartbeats of 10 s: not listed as live
        for daemon in same:
            await daemon._heartbeat()
        clock.advance(4)
        server = await start(RuntimeStatus(same[0].rt, cache_for=0), "127.0.0.1:0")
        base = f"http://127.0.0.1:{server.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/api/status") as resp:
                agreeing = await resp.json()
            await other._heartbeat()  # back, with its own configuration
            async with http.get(f"{base}/api/status") as resp:
                differing = await resp.json()
            async with http.get(f"{base}/") as resp:
                page = await resp.text()
    finally:
        if server is not None:
            await server.stop()
        for daemon in daemons:
            await daemon.close()
    rows = {r["id"]: r for r in agreeing["instances"]}
    assert sorted(rows) == sorted(d.rt.instance_id for d in same)
    assert [
        (r["heartbeat_age_seconds"], r["leases"], r["lag_seconds"], r["this"])
        for r in (rows[d.rt.instance_id] for d in same)
    ] == [(4.0, 0, 0.0, True), (4.0, 0, 0.0, False)]
    assert agreeing["config_mismatch"] == ""
    ages = {r["id"]: r["heartbeat_age_seconds"] for r in differing["instances"]}
    assert ages == {same[0].rt.instance_id: 4.0, same[1].rt.instance_id: 4.0, other.rt.instance_id: 0.0}
    assert "2 different configurations" in differing["config_mismatch"]
    assert 'class="warning"' in page and "2 different configurations" in page
    assert all(d.rt.instance_id in page for d in daemons) and "4 s ago" in page and "(this one)" in page


def test_sources_says_which_instance_polled_each_source_last(tmp_path: Path, postgres_url: str) -> None:
    config_with(tmp_path, postgres_url, "quake", write=True)
    db = Database(postgres_url)
    try:
        db.migrate()
        with db.write() as conn:
            repo.save_source(conn, repo.SourceState("wire", polls=3, last_poll_at=100.0, polled_by="host-b:42:beef"))
    finally:
        db.close()
    result = CliRunner().invoke(main, ["sources", "--config", str(tmp_path / "config.yaml")])
    assert result.exit_code == 0, result.output
    header, wire, quiet = result.output.splitlines()[:3]
    assert header.split()[5:8] == ["POLLED", "BY", "LAST"]
    assert wire.startswith("wire ") and "host-b:42:beef" in wire
    assert quiet.startswith("quiet ") and " - " in quiet.split("never polled", 1)[1]
