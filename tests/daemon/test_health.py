"""Silent failure is itself an alert: failing sources and stuck alerts produce throttled notices; polling adapts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.clock import FakeClock
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.store import repo
from tests.support.configs import make_config
from tests.support.servers import Site


@pytest.fixture
def ops(receiver: Receiver) -> Receiver:
    return receiver


async def test_failing_source_notice_is_sent_once_per_throttle(tmp_path: Path, ops: Receiver) -> None:
    config = make_config(
        tmp_path,
        sources=[{"name": "dead-feed", "feed": "http://127.0.0.1:9/feed.xml"}],
        rules=[{"name": "r", "query": "x"}],
        notifiers={"ops": ops.url},
        allow=["127.0.0.1:9"],
        extra="health: {source_failures: 3, throttle: 1h}\n",
    )
    clock = FakeClock(datetime.now(UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        for _ in range(3):
            results = await daemon.run_once(deliver=False)
            assert results[0].status == "error" and "connect" in (results[0].error or "")
            clock.advance(60)
        with daemon.rt.database.read() as conn:
            state = repo.get_source(conn, "dead-feed")
        assert state is not None and state.failures == 3 and state.failing_since is not None
        assert state.next_poll_at is not None and state.last_poll_at is not None
        assert state.next_poll_at - state.last_poll_at >= 2  # backing off beyond the 1 s interval
        await daemon.health.check()
        await daemon.deliverer.drain_once()
        assert len(ops.messages) == 1 and "dead-feed" in ops.messages[0].body
        await daemon.health.check()  # throttled: no second notice within the hour
        await daemon.deliverer.drain_once()
        assert len(ops.messages) == 1
        clock.advance(3601)
        await daemon.health.check()
        await daemon.deliverer.drain_once()
        assert len(ops.messages) == 2
    finally:
        await daemon.close()


async def test_adaptive_interval_stays_within_bounds(tmp_path: Path, ops: Receiver) -> None:
    from aiohttp import web

    from tests.support.feeds import rss, story_items

    served = {"n": 0}

    async def feed(_: web.Request) -> web.Response:
        served["n"] += 3
        return web.Response(text=rss(story_items(served["n"])), content_type="application/rss+xml")

    server = await Site().start()
    server.route("/f.xml", feed)
    port = server.port
    try:
        config = make_config(
            tmp_path,
            sources=[{"name": "busy", "feed": f"http://127.0.0.1:{port}/f.xml", "full_text": False}],
            rules=[{"name": "r", "query": "nothing-matches-this"}],
            notifiers={"ops": ops.url},
            allow=[f"127.0.0.1:{port}"],
            extra="defaults: {interval: 30m, min_interval: 2m, max_interval: 2h}\n",
        )
        # a source without its own interval: adaptive between 2 min and 2 h
        config.settings.sources[0].interval = None
        clock = FakeClock(datetime.now(UTC))
        daemon = Daemon(config, workers=0, clock=clock)
        await daemon.start()
        try:
            for _ in range(5):
                await daemon.run_once(deliver=False)
                clock.advance(120)
            with daemon.rt.database.read() as conn:
                state = repo.get_source(conn, "busy")
        finally:
            await daemon.close()
        assert state is not None and state.next_poll_at is not None
        delay = state.next_poll_at - (clock.timestamp() - 120)
        assert 120 <= delay <= 7200
        assert delay < 1800  # a busy source is polled more often than the default interval
    finally:
        await server.stop()


async def test_gone_source_is_reported_at_once(tmp_path: Path, ops: Receiver) -> None:
    server = await Site().start()
    server.static("/feed.xml", b"gone", status=410)
    try:
        config = make_config(
            tmp_path,
            sources=[{"name": "old-feed", "feed": server.base + "/feed.xml"}],
            rules=[{"name": "r", "query": "x"}],
            notifiers={"ops": ops.url},
            allow=[f"127.0.0.1:{server.port}"],
        )
        clock = FakeClock(datetime.now(UTC))
        daemon = Daemon(config, workers=0, clock=clock)
        await daemon.start()
        try:
            results = await daemon.run_once(deliver=False)
            assert results[0].status == "error" and "410" in (results[0].error or "")
            await daemon.health.check()
            await daemon.deliverer.drain_once()
        finally:
            await daemon.close()
    finally:
        await server.stop()
    assert len(ops.messages) == 1 and "gone (HTTP 410)" in ops.messages[0].body
