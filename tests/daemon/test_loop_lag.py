"""L-5 (scaled down): parsing runs off the event loop, so big and hostile inputs never stall it."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from aiohttp import web

from monitor.daemon.service import Daemon
from tests.support.configs import make_config
from tests.support.feeds import rss, story_items
from tests.support.servers import Site


async def test_event_loop_lag_stays_small_under_heavy_parsing(tmp_path: Path) -> None:
    big_feed = rss(story_items(1500, words="markets")).encode()  # ~1.6 MB
    big_page = (
        "<html><body>" + "<div><p>filler text " * 20000 + "</p></div>" * 20000 + "</body></html>"
    ).encode()
    quadratic = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"x" * 50000 + b'">]>'
        b"<rss><channel><item><title>" + b"&a;" * 2000 + b"</title></item></channel></rss>"
    )

    async def handler(request: web.Request) -> web.Response:
        name = request.path.removeprefix("/")
        if name.startswith("page"):
            return web.Response(body=big_page, content_type="text/html")
        if name.startswith("quad"):
            return web.Response(body=quadratic, content_type="application/xml")
        return web.Response(body=big_feed, content_type="application/rss+xml")

    site = await Site().start()
    site.route(re.compile(r"/[^/]+"), handler)
    port = site.port
    sources = [{"name": f"feed{i}", "feed": f"http://127.0.0.1:{port}/feed{i}"} for i in range(12)]
    sources += [{"name": f"page{i}", "page": f"http://127.0.0.1:{port}/page{i}"} for i in range(3)]
    sources += [{"name": "quad", "feed": f"http://127.0.0.1:{port}/quad"}]
    config = make_config(
        tmp_path,
        sources=sources,
        rules=[{"name": "r", "query": "markets NEAR/3 story"}],
        notifiers={"chat": "json://127.0.0.1:1/x"},
        allow=[f"127.0.0.1:{port}"],
        extra="defaults: {full_text: false, robots: false}\n",
    )
    # CPU time the event-loop thread spends between two 10 ms ticks: work that blocks the loop.
    # (Wall-clock lag alone would also count the OS not scheduling us on a loaded CI machine.)
    busy: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.thread_time()
            await asyncio.sleep(0.01)
            busy.append(time.thread_time() - before)

    tick = asyncio.create_task(ticker())
    daemon = Daemon(config, workers=2)
    try:
        results = await daemon.run_once(deliver=False)
    finally:
        await daemon.close()
        stop.set()
        await tick
        await site.stop()
    assert sum(r.status in {"primed", "ok"} for r in results) >= 12
    assert max(busy) < 0.25, f"the event loop was blocked for {max(busy) * 1000:.0f} ms of CPU"
