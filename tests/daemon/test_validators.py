"""A body's validators (ETag, Last-Modified, content hash) are kept only once the body was
listed: a failed parse never hides behind the 304s that follow it (issue 11)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import Config
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.errors import ParseError
from tests.support.configs import make_config
from tests.support.feeds import Item, rss, story_items
from tests.support.servers import Site

HTML = b"<!DOCTYPE html><html><head><title>Front page</title></head><body><p>News</p></body></html>"


def sources_output(config: Config) -> str:
    """What ``newsmonitor sources`` prints for ``config`` (made with ``write=True``)."""
    result = CliRunner().invoke(main, ["sources", "--config", config.path])
    assert result.exit_code == 0, result.output
    return result.output


async def test_a_feed_url_serving_html_with_an_etag_keeps_failing(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.conditional("/feed.xml", HTML, etag='"front-1"', content_type="text/html")
    config = make_config(
        tmp_path,
        sources=[{"name": "moved-feed", "feed": site.base + "/feed.xml"}],
        rules=[{"name": "r", "query": "x"}],
        notifiers={"ops": receiver.url},
        allow=site.allow,
        extra="health: {source_failures: 3}\n",
        write=True,
    )
    clock = FakeClock(datetime.now(UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        for poll in range(1, 4):
            results = await daemon.run_once(deliver=False)
            assert results[0].status == "error" and "not a feed" in (results[0].error or "")
            state = await daemon.rt.store.source_state("moved-feed")
            assert state is not None and state.failures == poll
            assert (state.etag, state.content_hash) == (None, None)
            clock.advance(60)
        # the body was never listed: every poll asked for it afresh instead of a 304
        assert [s.headers.get("If-None-Match") for s in site.seen] == [None, None, None]
        await daemon.health.check()
        await daemon.deliverer.drain_once()
    finally:
        await daemon.close()
    assert len(receiver.messages) == 1 and "moved-feed" in receiver.messages[0].body
    assert "not a feed" in receiver.messages[0].body
    out = sources_output(config)
    assert "moved-feed" in out and "failing since" in out and " ok " not in out


async def test_stories_of_a_body_whose_parse_crashed_are_listed_at_the_next_poll(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    served: dict[str, Any] = {"items": story_items(2), "etag": '"v1"'}

    async def feed(request: Any) -> Any:
        from aiohttp import web

        if request.headers.get("If-None-Match") == served["etag"]:
            return web.Response(status=304, headers={"ETag": served["etag"]})
        return web.Response(
            text=rss(served["items"]), content_type="application/rss+xml", headers={"ETag": served["etag"]}
        )

    site.route("/feed.xml", feed)
    config = make_config(
        tmp_path,
        sources=[{"name": "wire", "feed": site.base + "/feed.xml", "full_text": False}],
        rules=[{"name": "quakes", "query": "earthquake"}],
        notifiers={"chat": receiver.url},
        allow=site.allow,
    )
    daemon = Daemon(config, workers=0, clock=FakeClock(datetime.now(UTC)))
    await daemon.start()
    try:
        await daemon.run_once()  # primes
        served["items"] = [Item("Earthquake shakes the coast", "http://127.0.0.1/quake", "g-quake"), *served["items"]]
        served["etag"] = '"v2"'
        crash_once(daemon)
        results = await daemon.run_once()
        assert results[0].status == "error" and "worker crashed" in (results[0].error or "")
        results = await daemon.run_once()
        assert (results[0].status, results[0].new) == ("ok", 1)
        state = await daemon.rt.store.source_state("wire")
        assert state is not None and state.failures == 0 and state.etag == '"v2"'
    finally:
        await daemon.close()
    assert len(receiver.messages) == 1 and "Earthquake" in receiver.messages[0].title + receiver.messages[0].body


def crash_once(daemon: Daemon) -> None:
    """Make the next parse fail as a crashed parser worker does; later parses run normally."""
    pool = daemon.rt.pool
    real: Callable[..., Any] = pool.run
    crashed: list[bool] = []

    async def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not crashed:
            crashed.append(True)
            raise ParseError("worker crashed (signal 9)")
        return await real(fn, *args, **kwargs)

    pool.run = run  # type: ignore[method-assign]
