"""A ``feed:`` URL that answers with an HTML page: the error names the feeds the page
advertises (absolute) and suggests ``page:``, in the poll's error, its log line, the stored
state and ``test-source``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from monitor.daemon.probe import run_test_source
from monitor.daemon.service import Daemon
from monitor.errors import ParseError
from monitor.sources.feedparse import parse_feed
from tests.support.configs import make_config
from tests.support.servers import Site

URL = "https://news.example.com/world/"

#: (case, <head> markup, the feeds the error must name in this order, or [] for none)
CASES = [
    ("relative rss", '<link rel="alternate" type="application/rss+xml" href="/world/rss.xml">',
     ["https://news.example.com/world/rss.xml"]),
    ("path-relative atom, json feed",
     '<link rel="alternate" type="application/atom+xml" href="atom.xml">'
     '<link rel="alternate" type="application/feed+json" href="//cdn.example.net/world.json">',
     ["https://news.example.com/world/atom.xml", "https://cdn.example.net/world.json"]),
    ("base href", '<base href="https://static.example.org/x/"><link rel="Alternate" type="application/RSS+XML" '
     'href="feed">', ["https://static.example.org/x/feed"]),
    ("each feed once", '<link rel="alternate" type="application/rss+xml" href="/f">' * 2,
     ["https://news.example.com/f"]),
    ("not feeds", '<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/7">'
     '<link rel="alternate" hreflang="de" href="/de/"><link rel="stylesheet" type="application/rss+xml" href="/s">'
     '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">', []),
    ("none", "<title>World</title>", []),
]


def page(head: str) -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body><p>News</p></body></html>".encode()


@pytest.mark.parametrize(("case", "head", "feeds"), CASES, ids=[c[0] for c in CASES])
def test_html_page_error_names_advertised_feeds_and_suggests_page(case: str, head: str, feeds: list[str]) -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(page(head), url=URL)
    message = str(info.value)
    assert message.startswith("not a feed: looks like an HTML page")
    assert "page:" in message
    named = [word.rstrip(",:") for word in message.split() if "://" in word]
    assert named == feeds
    if not feeds:
        assert "advertises no feed" in message


def test_at_most_three_feeds_are_named() -> None:
    head = "".join(f'<link rel="alternate" type="application/rss+xml" href="/f{i}.xml">' for i in range(5))
    with pytest.raises(ParseError, match=r"f2\.xml \(and 2 more\): put one under feed:"):
        parse_feed(page(head), url=URL)


ADVERTISING = page(
    '<link rel="alternate" type="application/rss+xml" title="World" href="/world/rss.xml">'
    '<link rel="alternate" type="application/atom+xml" href="atom.xml">'
)


async def test_a_poll_of_an_html_feed_url_says_which_feeds_it_advertises(
    tmp_path: Path, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    site.static("/world/", ADVERTISING, headers={"Content-Type": "text/html; charset=utf-8"})
    config = make_config(
        tmp_path,
        sources=[{"name": "world", "feed": f"{site.base}/world/"}],
        rules=[],
        notifiers={},
        allow=site.allow,
    )
    caplog.set_level(logging.INFO, logger="monitor.poll")
    daemon = Daemon(config, workers=1)  # parsed in a worker process, as the daemon parses
    try:
        [result] = await daemon.run_once()
        state = await daemon.rt.store.source_state("world")
    finally:
        await daemon.close()
    advertised = f"it advertises the feeds {site.base}/world/rss.xml, {site.base}/world/atom.xml"
    assert result.error is not None and advertised in result.error and "page:" in result.error
    assert state is not None and state.last_error is not None and advertised in state.last_error
    assert any(advertised in record.getMessage() for record in caplog.records if record.name == "monitor.poll")


async def test_test_source_names_the_advertised_feeds(tmp_path: Path, site: Site) -> None:
    site.static("/world/", ADVERTISING, headers={"Content-Type": "text/html"})
    site.static("/plain/", page("<title>No feed here</title>"), headers={"Content-Type": "text/html"})
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "allow_networks": site.allow,
                "sources": [
                    {"name": "world", "feed": f"{site.base}/world/"},
                    {"name": "plain", "feed": f"{site.base}/plain/"},
                ],
            }
        )
    )
    out: list[str] = []
    code = await run_test_source(str(cfg), "world", verbose=False, echo=out.append)
    assert code == 1
    assert f"{site.base}/world/rss.xml, {site.base}/world/atom.xml" in "\n".join(out)
    assert "make the source page: to follow its article links" in "\n".join(out)
    out.clear()
    code = await run_test_source(str(cfg), "plain", verbose=False, echo=out.append)
    assert code == 1
    assert "advertises no feed; to follow its article links, make the source page: instead of feed:" in out[0]
