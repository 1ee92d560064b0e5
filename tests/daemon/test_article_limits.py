"""S-9: article links come from content, the least trusted URLs: same limits and SSRF verdicts as feeds."""

from __future__ import annotations

import asyncio
import gzip
import socket
from pathlib import Path

from aiohttp import web

from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from tests.helpers import Item, make_config, rss


async def test_hostile_article_links_cost_only_their_text(tmp_path: Path, receiver: Receiver) -> None:
    canary = socket.socket()
    canary.bind(("127.0.0.1", 0))
    canary.listen(8)
    canary.setblocking(False)
    canary_port = canary.getsockname()[1]
    bomb = gzip.compress(b"<html><body>" + b"a" * (40 * 2**20) + b"</body></html>")

    async def drip(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(60):
            await response.write(b"<p>x</p>")
            await asyncio.sleep(0.5)
        return response

    async def gz(_: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "text/html"})

    feed_items: list[Item] = []

    async def feed(_: web.Request) -> web.Response:
        return web.Response(text=rss(feed_items), content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    app.router.add_get("/a/bomb", gz)
    app.router.add_get("/a/drip", drip)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    config = make_config(
        tmp_path,
        sources=[{"name": "wire", "feed": f"{base}/feed.xml", "full_text": True, "robots": False}],
        rules=[{"name": "r", "query": "rare earths"}],
        notifiers={"chat": receiver.url},
        allow=[f"127.0.0.1:{port}"],  # the feed's server only: the canary port is not allowed
        extra="http: {max_bytes: 5000000, timeout: 3s}\n",
    )
    try:
        daemon = Daemon(config, workers=0)
        await daemon.run_once()
        await daemon.close()
        feed_items[:] = [
            Item("Rare earths bomb", f"{base}/a/bomb", "1", "rare earths teaser one"),
            Item("Rare earths drip", f"{base}/a/drip", "2", "rare earths teaser two"),
            Item("Rare earths internal", f"http://127.0.0.1:{canary_port}/admin", "3", "rare earths teaser 3"),
            Item("Rare earths metadata", "http://169.254.169.254/latest/meta-data/", "4", "rare earths teaser 4"),
        ]
        daemon = Daemon(config, workers=0)
        results = await daemon.run_once()
        await daemon.close()
    finally:
        await runner.cleanup()
    try:
        canary.accept()
        reached = True
    except BlockingIOError:
        reached = False
    canary.close()
    assert not reached, "an article link reached a private address"
    (result,) = results
    assert result.status == "ok" and result.new == 4
    assert all(s.text_origin == "fallback" for s in result.stories)  # each kept with the feed's text
    assert len(receiver.messages) == 4  # nothing dropped: every story still alerts
