"""Feed items without a fetchable link, through the real pipeline (issue 13, "Feeds").

A GUID that is not a URL must not become a made-up link that full_text fetches; a story whose
only links are ``at://`` or an MP3 is kept, matched on its feed text and alerted; identities
from GUIDs as written are stable from one poll to the next.
"""

from __future__ import annotations

import re
from pathlib import Path

from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from tests.support.configs import make_config
from tests.support.paths import DATA
from tests.support.servers import Site


def _served(site: Site, name: str, *hosts: str) -> bytes:
    """A fixture feed as the local site serves it: its hosts are the site, its dates are gone
    (so no story is older than max_age, whatever the day the test runs)."""
    body = (DATA / "feeds" / name).read_bytes()
    for host in hosts:
        body = body.replace(host.encode(), site.base.encode())
    return re.sub(rb"<pubDate>[^<]*</pubDate>", b"", body)


async def test_items_without_a_fetchable_link_alert_on_their_feed_text(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    briefs = _served(site, "guids-not-urls.xml", "https://gazette.example.com")
    podcast = _served(
        site, "podcast-at-links.xml", "https://harbourtown.example.fm", "https://media.example.fm"
    )
    site.static("/briefs/feed.xml", briefs, headers={"Content-Type": "application/rss+xml"})
    site.static("/pod/feed.xml", podcast, headers={"Content-Type": "application/rss+xml"})
    config = make_config(
        tmp_path,
        sources=[
            {
                "name": "briefs",
                "feed": f"{site.base}/briefs/feed.xml",
                "alert_on_first_poll": True,
                "robots": False,
            },
            {
                "name": "pod",
                "feed": f"{site.base}/pod/feed.xml",
                "alert_on_first_poll": True,
                "robots": False,
                "full_text": False,
            },
        ],
        rules=[{"name": "local", "query": "bridge OR seawall OR budget"}],
        notifiers={"chat": receiver.url},
        allow=site.allow,
    )
    daemon = Daemon(config, workers=0)
    try:
        first = {r.source: r for r in await daemon.run_once()}
        second = {r.source: r for r in await daemon.run_once()}
    finally:
        await daemon.close()

    requested = {seen.path for seen in site.seen}
    # the real permalink GUID is fetched for its text; GUIDs that are not URLs are not pages
    assert "/briefs/2026/03/council-budget" in requested
    assert not requested & {"/briefs/brief-20260302-001", "/briefs/1559104147038"}, requested
    assert all("at:" not in path for path in requested)

    stories = {s.title: s for r in first.values() for s in r.stories}
    assert stories["Bridge closed for repairs"].url == ""
    assert stories["Bridge closed for repairs"].text_origin == "feed"
    assert stories["Ep. 37: Storm damage special"].url == ""
    assert stories["Ep. 41: The ferry strike ends"].url == f"{site.base}/episodes/41-ferry-strike-ends"
    assert stories["Ep. 38: Transcript of the council debate"].url == f"{site.base}/transcripts/38.html"
    alerted = sorted(m.title for m in receiver.messages)
    assert any("Bridge closed for repairs" in t for t in alerted), alerted
    assert any("Storm damage special" in t for t in alerted), alerted
    assert any("Council publishes budget" in t for t in alerted), alerted
    assert len(receiver.messages) == 3
    assert (first["briefs"].new, first["pod"].new) == (4, 5)
    assert (second["briefs"].new, second["pod"].new) == (0, 0)  # GUIDs as written are stable keys
