"""S-9: article links come from content, the least trusted URLs: same limits and SSRF verdicts as feeds."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

from aiohttp import web

from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from tests.support.configs import make_config
from tests.support.feeds import Item, rss
from tests.support.servers import Canary, Site


async def test_hostile_article_links_cost_only_their_text(
    tmp_path: Path, receiver: Receiver, canary: Canary
) -> None:
    canary_port = canary.port
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

    site = await Site().start()
    site.route("/feed.xml", feed)
    site.route("/a/bomb", gz)
    site.route("/a/drip", drip)
    port = site.port
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
        await site.stop()
    assert canary.accepts == 0, "an article link reached a private address"
    (result,) = results
    assert result.status == "ok" and result.new == 4
    assert all(s.text_origin == "fallback" for s in result.stories)  # each kept with the feed's text
    assert len(receiver.messages) == 4  # nothing dropped: every story still alerts
