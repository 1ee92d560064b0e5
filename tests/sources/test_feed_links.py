"""Which link a feed entry gets, and its GUID as written (tests/data/feeds, see its README).

A link that is not http(s) (``<link uri="at://...">``) gives way to the entry's other links;
a GUID is a link only when it is a real permalink; a GUID that is not a URL stays as the
feed wrote it and never becomes a made-up link on the feed's host; a feed wrapped in an
HTML page is read.
"""

from __future__ import annotations

import pytest

from monitor.errors import ParseError
from monitor.sources.feedparse import parse_feed, parse_with
from monitor.sources.prolog import HostileXML
from tests.support.paths import DATA, need_corpus

FEEDS = DATA / "feeds"


def _entries(name: str, url: str) -> list[tuple[str, str | None, str | None]]:
    feed = parse_feed((FEEDS / name).read_bytes(), url=url)
    return [(e.title, e.link, e.guid) for e in feed.entries]


def test_links_that_are_not_http_give_way_to_the_entrys_other_links() -> None:
    assert _entries("podcast-at-links.xml", "https://harbourtown.example.fm/feed.xml") == [
        # the <link> before the at:// one
        ("Ep. 41: The ferry strike ends", "https://harbourtown.example.fm/episodes/41-ferry-strike-ends",
         "harbourtown-ep-41"),
        # a permalink GUID
        ("Ep. 40: Lighthouse keepers vote", "https://harbourtown.example.fm/episodes/40-lighthouse-vote",
         "https://harbourtown.example.fm/episodes/40-lighthouse-vote"),
        # an atom:link rel=alternate
        ("Ep. 39: Fish market moves", "https://harbourtown.example.fm/episodes/39-fish-market",
         "harbourtown-ep-39"),
        # an enclosure that is a web page
        ("Ep. 38: Transcript of the council debate", "https://harbourtown.example.fm/transcripts/38.html",
         "harbourtown-ep-38"),
        # only an MP3: no link, the story is kept with its feed text
        ("Ep. 37: Storm damage special", None, "harbourtown-ep-37"),
    ]  # fmt: skip


def test_a_guid_that_is_not_a_url_is_kept_as_written_and_never_becomes_a_link() -> None:
    assert _entries("guids-not-urls.xml", "https://gazette.example.com/briefs/feed.xml") == [
        ("Bridge closed for repairs", None, "brief-20260302-001"),
        ("Library extends opening hours", None, "1559104147038"),
        ("Council publishes budget", "https://gazette.example.com/briefs/2026/03/council-budget",
         "https://gazette.example.com/briefs/2026/03/council-budget"),
        ("Market square resurfaced", "https://gazette.example.com/briefs/2026/03/market-square", "right"),
    ]  # fmt: skip


def test_atom_ids_are_not_resolved_against_the_feed_url() -> None:
    assert _entries("atom-ids-not-urls.xml", "https://www.example.com/r/harbourtown/.rss") == [
        ("Ferry back on schedule from Monday",
         "https://www.example.com/r/harbourtown/comments/1b2c3d4/ferry_back_on_schedule/", "t3_1b2c3d4"),
        ("Harbour festival dates announced", None, "right"),
    ]  # fmt: skip


@pytest.mark.parametrize("parser", ["feedparser", "fastfeedparser"])
def test_both_parsers_keep_guids_as_written(parser: str) -> None:
    for name in ("guids-not-urls.xml", "atom-ids-not-urls.xml"):
        feed = parse_with(parser, (FEEDS / name).read_bytes(), url="https://feeds.example.net/x/feed.xml")
        assert all("feeds.example.net" not in (e.guid or "") + (e.link or "") for e in feed.entries)


def test_relative_links_and_xml_base_still_resolve_against_the_feed() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/"><title>t</title>'
        b'<entry><id>1</id><title>a</title><link href="posts/a"/></entry>'
        b'<entry xml:base="https://cdn.example.org/m/"><id>2</id><title>b</title><link href="b.html"/></entry>'
        b"</feed>"
    )
    links = [e.link for e in parse_feed(body, url="https://news.example.com/feeds/atom.xml").entries]
    assert links == ["https://news.example.com/blog/posts/a", "https://cdn.example.org/m/b.html"]


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "guid"),
    [
        ("rsparser/livemint.xml", "1559104147038"),
        ("feed-rs/atom/atom_example_reddit.xml", "t3_glvkc5"),
        ("feed-rs/rss2/rss_2.0_example_1.xml", "7bd204c6-1655-4c27-aeee-53f933c5395f"),
    ],
)
def test_corpus_guids_are_kept_as_written(name: str, guid: str) -> None:
    body = (need_corpus("feeds") / name).read_bytes()
    feed = parse_feed(body, url="https://feeds.example.com/news/feed.xml")
    assert guid in [e.guid for e in feed.entries]
    assert all(not (e.link or "").startswith("https://feeds.example.com/") for e in feed.entries)


# --- a feed wrapped in an HTML page ----------------------------------------------------------


def test_a_feed_wrapped_in_an_html_page_is_read() -> None:
    feed = parse_feed((FEEDS / "feed-in-html-wrapper.html").read_bytes(), url="https://harbourtown.example.gov/f")
    assert feed.title == "Harbour Town Council news"
    assert [(e.title, e.link) for e in feed.entries] == [
        ("Harbour wall repairs approved",
         "https://harbourtown.example.gov/news/2026/03/harbour-wall-repairs-approved"),
        ("Ferry timetable for the spring", "https://harbourtown.example.gov/news/2026/02/ferry-timetable-spring"),
    ]  # fmt: skip
    assert feed.warning == "the feed is wrapped in an HTML page"


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><body><p>No feed here, only <b>news</b>.</p></body></html>",
        b"<html><body><feed xmlns='http://www.w3.org/2005/Atom'><title>empty</title></feed></body></html>",
        b"<html><body><rss version='2.0'><channel><title>cut",
    ],
)
def test_an_html_page_without_stories_in_a_feed_is_still_the_html_error(body: bytes) -> None:
    with pytest.raises(ParseError, match="not a feed: looks like an HTML page"):
        parse_feed(body, url="https://news.example.com/feed")


def test_the_wrapped_feeds_own_prolog_is_read_and_guarded() -> None:
    feed = b'<rss version="2.0"><channel><item><title>Caf&eacute; &site;</title></item></channel></rss>'
    prolog = b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY site "news">]>\n'
    page = b"<html><body><div>" + prolog + feed + b"</div></body></html>"
    assert parse_feed(page, url="https://news.example.com/feed").entries[0].title == "Café news"
    hostile = page.replace(b'"news"', b'SYSTEM "file:///etc/passwd"')
    with pytest.raises(HostileXML, match="external entity 'site'"):
        parse_feed(hostile, url="https://news.example.com/feed")


def test_declarations_outside_the_wrapped_feed_are_never_expanded() -> None:
    # the page's own DOCTYPE is not the feed's: no parser sees it and we expand nothing from it
    body = (
        b'<!DOCTYPE html [<!ENTITY x SYSTEM "file:///etc/passwd">]><html><body>'
        b'<rss version="2.0"><channel><item><title>a &x;</title></item></channel></rss></body></html>'
    )
    title = parse_feed(body, url="https://news.example.com/feed").entries[0].title
    assert title.startswith("a ") and "root:" not in title


def test_a_hostile_feed_inside_an_html_page_is_refused() -> None:
    body = (
        b'<html><body><rss version="2.0"><channel><item><title>t</title><description>'
        + b"x" * 100
        + b'</description></item></channel></rss></body></html>'
    )
    assert parse_feed(body, url="https://news.example.com/feed").entries
    wrapped = body.replace(b"<rss", b'<!DOCTYPE rss [<!ENTITY b "' + b"y" * 300_000 + b'">]><rss').replace(
        b"x" * 100, b"&b;"
    )
    with pytest.raises(HostileXML):
        parse_feed(wrapped, url="https://news.example.com/feed")
