"""G-1 (b) and G-4: reloading the configuration into a running daemon (SIGHUP).

A broken file changes nothing (every problem logged, counted, the old rules keep
matching); a good one applies rules, notifiers and sources at once, and pending alerts
for a removed notifier are cancelled with a reason, never sent to it nor lost silently.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pytest_httpserver import HTTPServer

from monitor.cli import main
from monitor.config import load_config
from monitor.daemon.service import Daemon
from monitor.daemon.status import RuntimeStatus
from monitor.demo.receiver import Receiver
from monitor.store import repo
from tests.support.configs import config_data
from tests.support.feeds import Item, story_items
from tests.support.process import DaemonProcess
from tests.support.servers import Feed, free_port
from tests.support.waiting import wait_for
from tests.support.yamlbombs import LOAD_MEMORY, alias_bomb


def write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def settings(tmp_path: Path, server: HTTPServer, sources: list[dict[str, Any]], rules: list[dict[str, Any]],
             notifiers: dict[str, str]) -> dict[str, Any]:
    return config_data(tmp_path, sources=sources, rules=rules, notifiers=notifiers,
                       allow=[f"127.0.0.1:{server.port}", "127.0.0.1"], extra="delivery: {retry_cap: 2s}")


def story(i: int, words: str) -> Item:
    return Item(f"Report {i}: {words}", f"http://127.0.0.1/news/report-{i}", f"r-{i}", f"Body about {words}.")


def outbox(daemon: Daemon) -> dict[str, int]:
    with daemon.rt.store.database.read() as conn:
        return repo.outbox_counts(conn)


def cancelled_reasons(daemon: Daemon) -> list[str]:
    from sqlalchemy import select

    from monitor.store.schema import outbox as table

    with daemon.rt.store.database.read() as conn:
        return [str(r) for r in conn.execute(select(table.c.last_error).where(table.c.status == "cancelled"))]


async def test_reload_keeps_running_config_on_error_and_applies_a_good_one(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    wire = Feed(httpserver, "/wire.xml")
    wire.items = story_items(3)
    extra = Feed(httpserver, "/extra.xml")
    extra.items = story_items(4, start=100, words="beta")  # already there when the source is added
    dead = f"json://127.0.0.1:{free_port()}/x"  # nothing listens: its alerts stay pending
    path = tmp_path / "newsmonitor.yaml"
    good = settings(tmp_path, httpserver, [{"name": "wire", "feed": wire.url, "full_text": False}],
                    [{"name": "alpha", "query": "alpha"}], {"hook": receiver.url, "dead": dead})
    write(path, good)
    daemon = Daemon(load_config(str(path)), workers=0)
    running = asyncio.create_task(daemon.run(install_signals=False))
    try:
        assert await wait_for(lambda: wire.hits >= 1, 15)
        await asyncio.sleep(0.5)  # the priming poll is recorded

        # a broken file: every problem logged once, counted, nothing changes
        broken = {**good, "rules": [{"name": "alpha", "query": "alpha AND ("}, {"name": "x", "qurey": "y"}]}
        write(path, broken)
        caplog.set_level(logging.INFO, logger="monitor.daemon")
        matcher = daemon.rt.matcher
        assert await daemon.reload() is False
        assert daemon.rt.matcher is matcher
        failures = [r.getMessage() for r in caplog.records if "config reload failed" in r.getMessage()]
        assert len(failures) == 1
        assert "newsmonitor.yaml:" in failures[0] and "rules[0].query" in failures[0] and "rules[1]" in failures[0]
        metrics = daemon.rt.metrics
        assert metrics.config_reload_errors._value.get() == 1
        assert metrics.config_reload_ok._value.get() == 0
        assert (await RuntimeStatus(daemon.rt).status_view()).to_json()["config"]["last_reload"].startswith("failed at ")

        # the running rules still match: the old config is intact
        wire.items = [story(1, "alpha"), *wire.items]
        assert await wait_for(lambda: len(receiver.messages) == 1, 15)
        assert "Report 1" in receiver.messages[0].title + receiver.messages[0].body
        assert await wait_for(lambda: outbox(daemon).get("pending", 0) == 1, 10)  # the dead notifier's row

        # a good file: a new rule, a new source, the dead notifier gone
        write(path, settings(tmp_path, httpserver,
                             [{"name": "wire", "feed": wire.url, "full_text": False},
                              {"name": "extra", "feed": extra.url, "full_text": False}],
                             [{"name": "alpha", "query": "alpha"}, {"name": "beta", "query": "beta"}],
                             {"hook": receiver.url}))
        assert await daemon.reload() is True
        assert metrics.config_reload_ok._value.get() == 1
        assert daemon.scheduler is not None and daemon.scheduler.get_job("extra") is not None
        assert (await RuntimeStatus(daemon.rt).status_view()).to_json()["config"]["last_reload"] == "ok"
        # the removed notifier's pending alert is cancelled with a reason, not sent, not lost
        assert await wait_for(lambda: outbox(daemon).get("cancelled", 0) == 1, 15)
        assert any("removed from the configuration" in r for r in cancelled_reasons(daemon))

        # the new source primes (its 4 old "beta" stories alert nobody); the new rule fires
        assert await wait_for(lambda: extra.hits >= 1, 15)
        await asyncio.sleep(1.5)
        assert len(receiver.messages) == 1
        wire.items = [story(2, "beta"), *wire.items]
        assert await wait_for(lambda: len(receiver.messages) == 2, 15)
        assert "beta" in receiver.messages[1].body and "Report 2" in receiver.messages[1].title + receiver.messages[1].body

        # a source removed: its job stops
        write(path, settings(tmp_path, httpserver, [{"name": "extra", "feed": extra.url, "full_text": False}],
                             [{"name": "beta", "query": "beta"}], {"hook": receiver.url}))
        assert await daemon.reload() is True
        assert daemon.scheduler.get_job("wire") is None
        hits = wire.hits
        await asyncio.sleep(2.5)
        assert wire.hits <= hits + 1  # at most a poll already under way
        await asyncio.sleep(0)
    finally:
        daemon.stop()
        assert await asyncio.wait_for(running, 15) == 0
        await daemon.close()
    listed = CliRunner().invoke(main, ["outbox", "--config", str(path)])
    assert listed.exit_code == 0, listed.output
    assert "cancelled" in listed.output and "destination removed from the configuration" in listed.output


async def test_sighup_reloads_a_running_daemon(tmp_path: Path) -> None:
    """The real signal, to a real process: a broken file is reported and survived, a good
    one is applied, and SIGTERM still stops the daemon cleanly."""
    port = free_port()
    base = {
        "database": f"sqlite:///{tmp_path}/s.db",
        "allow_networks": [f"127.0.0.1:{port}"],
        "defaults": {"interval": "5s"},
        "notifiers": {"hook": f"json://127.0.0.1:{port}/x"},
        "sources": [{"name": "dead", "feed": f"http://127.0.0.1:{port}/feed.xml"}],
        "rules": [{"name": "r", "query": "x"}],
    }
    path = tmp_path / "c.yaml"
    write(path, base)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "run", "--config", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ},
    )
    assert proc.stderr is not None
    seen = b""

    async def until(marker: bytes) -> None:
        nonlocal seen
        while marker not in seen:
            line = await asyncio.wait_for(proc.stderr.readline(), 30)  # type: ignore[union-attr]
            assert line, f"daemon exited early: {seen.decode()[-2000:]}"
            seen += line

    try:
        await until(b"newsmonitor running")
        path.write_text(path.read_text() + "rulez: []\n")
        proc.send_signal(signal.SIGHUP)
        await until(b"config reload failed")
        await until(b"did you mean 'rules'")
        assert b"c.yaml:" in seen and b": rulez: unknown key" in seen
        write(path, {**base, "rules": [{"name": "r", "query": "x"}, {"name": "s", "query": "y"}]})
        proc.send_signal(signal.SIGHUP)
        await until(b"configuration reloaded")
        assert b"2 rules" in seen.split(b"configuration reloaded", 1)[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()[-2000:]


async def test_sighup_with_an_alias_bomb_is_one_problem_and_costs_nothing(tmp_path: Path) -> None:
    """Issue 12: through SIGHUP a 442-byte alias bomb grew the daemon to 2.5 GB (a container
    limit would have killed it). Now the reload fails at the alias, the daemon stays small
    and keeps its configuration, and a good file still applies."""
    port = free_port()
    base = {
        "database": f"sqlite:///{tmp_path}/s.db",
        "allow_networks": [f"127.0.0.1:{port}"],
        "defaults": {"interval": "5s"},
        "notifiers": {"hook": f"json://127.0.0.1:{port}/x"},
        "sources": [{"name": "dead", "feed": f"http://127.0.0.1:{port}/feed.xml"}],
        "rules": [{"name": "r", "query": "x"}],
    }
    path = tmp_path / "c.yaml"
    write(path, base)
    daemon = await DaemonProcess(path, tmp_path / "daemon.log", memory=2 * LOAD_MEMORY).start()
    try:
        path.write_text(alias_bomb(8, 442))
        daemon.send(signal.SIGHUP)
        assert await daemon.logged("config reload failed", 60)
        assert f"{path}:6:10: this alias (*a3) repeats 7,381 nodes" in daemon.text(), daemon.text()[-3000:]
        assert daemon.alive() and daemon.peak_rss() < LOAD_MEMORY // 2
        write(path, {**base, "rules": [{"name": "r", "query": "x"}, {"name": "s", "query": "y"}]})
        daemon.send(signal.SIGHUP)
        assert await daemon.logged("configuration reloaded", 60)
    finally:
        assert await daemon.stop() == 0, daemon.text()[-3000:]


async def test_a_failed_reload_is_one_log_line_and_short_intervals_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11: a reload refused for a notifier URL was logged twice (apprise's own raw
    complaint, secret included, then ours); the "under 60s" warning came once per source."""
    path = tmp_path / "newsmonitor.yaml"
    sources = [{"name": f"s{i}", "feed": f"http://127.0.0.1:1/{i}.xml"} for i in range(3)]
    good = config_data(tmp_path, sources=sources, rules=[{"name": "r", "query": "x"}],
                       notifiers={"hook": "json://127.0.0.1:1/x"}, allow=["127.0.0.1:1"],
                       extra="defaults: {interval: 30s}")
    write(path, good)
    caplog.set_level(logging.INFO)
    daemon = Daemon(load_config(str(path)), workers=0)
    try:
        await daemon.start()
        short = [r for r in caplog.records if "under 60s" in r.getMessage()]
        assert len(short) == 1 and "defaults.interval 30s (used by 3 sources)" in short[0].getMessage()

        caplog.clear()
        write(path, {**good, "notifiers": {"hook": "nosuch://s3cr3t-token@host"}})
        assert await daemon.reload() is False
        problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(problems) == 1, [(r.name, r.getMessage()) for r in problems]
        said = problems[0].getMessage()
        assert "config reload failed" in said and "notifiers.hook.urls[0]: apprise cannot use this URL" in said
        assert "s3cr3t-token" not in said

        caplog.clear()
        write(path, {**good, "rules": [{"name": "r", "query": "x"}, {"name": "s", "query": "y"}]})
        assert await daemon.reload() is True
        assert len([r for r in caplog.records if "under 60s" in r.getMessage()]) == 1
    finally:
        await daemon.close()
