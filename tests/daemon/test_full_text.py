"""Issue 13: a fetched article never costs the words the feed gave, and its link lines never match.

One feed on a local site lists a story whose teaser says "stabbing"; the article page says
"knife attack" throughout and carries a "Read more: Mayor arrested in harbour contracts
bribery probe" line (tests/data/extract/link_lines_page.html). Rules run on the story's
title and text after the article is fetched; alerts go through apprise to a local receiver.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from tests.support.configs import make_config
from tests.support.feeds import Item, rss
from tests.support.paths import DATA
from tests.support.servers import Site

ARTICLE = "/news/2024/05/02/harbour-road-knife-attack-charge"


async def test_teaser_words_still_match_and_link_lines_do_not(tmp_path: Path, receiver: Receiver) -> None:
    items: list[Item] = []

    async def feed(_: web.Request) -> web.Response:
        return web.Response(text=rss(items), content_type="application/rss+xml")

    site = await Site().start()
    site.route("/feed.xml", feed)
    site.static(ARTICLE, (DATA / "extract" / "link_lines_page.html").read_bytes(), headers={"Content-Type": "text/html"})
    config = make_config(
        tmp_path,
        sources=[{"name": "gazette", "feed": f"{site.base}/feed.xml", "full_text": True, "robots": False}],
        rules=[
            {"name": "stabbings", "query": "stabbing"},  # only the feed's teaser says it
            {"name": "bribery", "query": "bribery"},  # only the "Read more:" line says it
            {"name": "courts", "query": "magistrates"},  # only the article says it
        ],
        notifiers={"chat": receiver.url},
        allow=site.allow,
    )
    try:
        daemon = Daemon(config, workers=0)
        await daemon.run_once()  # the first poll only primes
        await daemon.close()
        items[:] = [
            Item(
                "Man charged over Harbour Road attack",
                f"{site.base}{ARTICLE}",
                "harbour-1",
                "A man has been charged after Tuesday's stabbing outside a Harbour Road takeaway.",
                datetime.now(UTC),  # the page's own date is older than max_age
            )
        ]
        daemon = Daemon(config, workers=0)
        (result,) = await daemon.run_once()
        await daemon.close()
    finally:
        await site.stop()
    (story,) = result.stories
    assert story.text_origin == "extracted"
    assert "magistrates" in story.text and "stabbing" in story.text
    assert "bribery" not in story.text
    # one message for the story, naming the rules that matched it
    assert [m.title for m in receiver.messages] == ["stabbings, courts: Man charged over Harbour Road attack"]
