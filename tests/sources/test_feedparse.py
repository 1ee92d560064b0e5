"""parse_feed on small hand-written feeds and on the whole shared feed corpus."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.sources.feedparse import ParsedFeed, parse_feed, parse_with
from monitor.sources.feedtext import MAX_TEXT_CHARS, clean_text, html_to_text, parse_date, resolve_link
from tests.support.paths import CORPUS, need_corpus

URL = "https://news.example.com/feeds/world.xml"

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>World  News</title><link>https://news.example.com/</link>
<language>en</language>
<item><title>Storm &amp; floods</title><link>/2026/storm</link><guid isPermaLink="false">s-1</guid>
<description>&lt;p&gt;Heavy &lt;b&gt;rain&lt;/b&gt;.&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;
&lt;p&gt;More&amp;nbsp;soon&lt;/p&gt;</description>
<pubDate>Tue, 03 Feb 2026 10:00:00 +0100</pubDate><author>desk@example.com (Desk)</author></item>
<item><title>No date</title><link>javascript:alert(1)</link></item>
</channel></rss>"""

ATOM = """<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">
<title type="html">&lt;i&gt;Nachrichten&lt;/i&gt;</title>
<entry><id>urn:x:1</id><title>Wahl</title><link href="https://news.example.com/wahl"/>
<updated>2026-02-03T09:00:00Z</updated><summary>Kurz</summary>
<content type="html">&lt;p&gt;Lang &lt;em&gt;und&lt;/em&gt; ausführlich&lt;/p&gt;</content>
</entry></feed>""".encode()


def test_rss_fields_are_plain_normalised_text() -> None:
    feed = parse_feed(RSS, url=URL)
    assert feed.parser == "feedparser"  # the fast path is off: see USE_FAST_PATH
    assert feed.title == "World News"
    assert feed.lang == "en"
    first, second = feed.entries
    assert first.title == "Storm & floods"
    assert first.link == "https://news.example.com/2026/storm"
    assert first.guid == "s-1"
    assert first.summary == "Heavy rain.\nMore soon"  # script dropped, blocks on their own lines
    assert first.published == datetime(2026, 2, 3, 9, 0, tzinfo=UTC)
    assert second.published is None
    assert second.link is None  # javascript: links never leave the parser


@pytest.mark.parametrize("parser", ["feedparser", "fastfeedparser"])
def test_both_parsers_give_the_same_normalised_entry(parser: str) -> None:
    feed = parse_with(parser, RSS, url=URL)
    first = feed.entries[0]
    assert (first.title, first.link, first.guid, first.published) == (
        "Storm & floods",
        "https://news.example.com/2026/storm",
        "s-1",
        datetime(2026, 2, 3, 9, 0, tzinfo=UTC),
    )
    assert "alert" not in first.summary + first.content


def test_atom_content_and_html_title() -> None:
    feed = parse_feed(ATOM, url=URL)
    assert feed.title == "Nachrichten"
    assert feed.lang == "de"
    (entry,) = feed.entries
    assert entry.content == "Lang und ausführlich"
    assert entry.summary == "Kurz"
    assert entry.published == datetime(2026, 2, 3, 9, 0, tzinfo=UTC)


def test_atom_without_namespace_falls_back_to_feedparser() -> None:
    body = b"<feed><title>t</title><entry><title>One</title><link href='http://a.example/1'/></entry></feed>"
    feed = parse_feed(body, url=URL)
    assert feed.parser == "feedparser"
    assert [e.title for e in feed.entries] == ["One"]


def test_empty_channel_is_a_feed_without_entries() -> None:
    feed = parse_feed(b"<rss version='2.0'><channel><title>Quiet</title></channel></rss>", url=URL)
    assert feed.entries == [] and feed.title == "Quiet"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty document"),
        (b"  \n ", "empty document"),
        (b"<!DOCTYPE html><html><body>Just a moment...</body></html>", "looks like an HTML page"),
        (b"<note><to>x</to></note>", "root element is <note>"),
        (b'<?xml version="1.0"?><rss><channel><title>cut', "truncated document"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "title": "x"}', "no 'items' list"),
        (b"/etc/passwd", "not a feed"),
        (b"http://127.0.0.1:1/feed", "not a feed"),
    ],
)
def test_clear_parse_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_feed(body, url=URL)


def test_truncated_feed_keeps_recovered_stories_with_a_warning() -> None:
    feed = parse_feed(
        b'<?xml version="1.0"?><rss><channel><item><title>whole</title></item><item><title>cu', url=URL
    )
    assert [e.title for e in feed.entries][:1] == ["whole"]
    assert feed.warning and "truncated document" in feed.warning


def test_max_entries_caps_with_warning() -> None:
    items = b"".join(
        b"<item><title>t%d</title><link>http://a.example/%d</link></item>" % (i, i) for i in range(30)
    )
    feed = parse_feed(b"<rss version='2.0'><channel>" + items + b"</channel></rss>", url=URL, max_entries=10)
    assert len(feed.entries) == 10
    assert feed.warning and "first 10 of 30" in feed.warning


def test_http_charset_beats_declaration() -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><item><title>Привет</title></item></channel></rss>'
    )
    feed = parse_feed(body.encode("koi8-r"), url=URL, content_type="application/rss+xml; charset=KOI8-R")
    assert feed.entries[0].title == "Привет"


def test_latin1_bytes_labelled_utf8_are_repaired() -> None:
    body = "<rss version='2.0'><channel><item><title>Zürich</title></item></channel></rss>".encode("latin-1")
    feed = parse_feed(body, url=URL)
    assert feed.entries[0].title == "Zürich"
    assert feed.warning and "Windows-1252" in feed.warning


def test_json_feed_inline() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "J",
            "language": "fr",
            "items": [
                {
                    "id": 7,
                    "url": "/a",
                    "title": " A\n b ",
                    "content_html": "<p>x</p><p>y</p>",
                    "date_published": "2026-01-02T03:04:05+02:00",
                    "authors": [{"name": "Ann"}],
                },
                "not an item",
                {
                    "id": "b",
                    "external_url": "https://b.example/",
                    "content_text": "plain",
                    "date_published": "yesterday",
                },
            ],
        }
    ).encode()
    feed = parse_feed(body, url=URL)
    assert feed.parser == "jsonfeed" and feed.lang == "fr"
    a, b = feed.entries
    assert (a.guid, a.link, a.title, a.content, a.author) == (
        "7",
        "https://news.example.com/a",
        "A b",
        "x\ny",
        "Ann",
    )
    assert a.published == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)
    assert (b.link, b.content, b.published) == ("https://b.example/", "plain", None)
    assert feed.warning and "skipped 1" in feed.warning


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-03T10:00:00+01:00", datetime(2026, 2, 3, 9, tzinfo=UTC)),
        ("2026-02-03T10:00:00", datetime(2026, 2, 3, 10, tzinfo=UTC)),
        ("Tue, 03 Feb 2026 10:00:00 GMT", datetime(2026, 2, 3, 10, tzinfo=UTC)),
        ("2026-02-30T10:00:00Z", None),
        ("yesterday", None),
        ("", None),
        (None, None),
        ("9" * 500, None),
    ],
)
def test_parse_date(value: str | None, expected: datetime | None) -> None:
    assert parse_date(value) == expected


def test_text_helpers() -> None:
    assert html_to_text("<div>a<style>p{}</style><br>b &lt;c&gt;</div>") == "a\nb <c>"
    assert html_to_text("x\x00y\x1b[31m") == "xy[31m"
    assert clean_text("  a \t b \r\n\n c\u0085 ") == "a b\nc"
    assert html_to_text("<" * 3 + "div" * 10) != "x"  # never raises on junk
    assert resolve_link(" /p?q=1 ", "https://h.example/x/") == "https://h.example/p?q=1"
    assert resolve_link("http://h.example:99999/", "") is None
    assert resolve_link("data:text/html,hi", "https://h.example/") is None


# --- the shared corpus -------------------------------------------------------------------


def _index() -> list[dict[str, object]]:
    path = CORPUS / "feeds" / "index.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.open(encoding="utf-8")]


@pytest.mark.corpus
@pytest.mark.parametrize(
    "row",
    _index() or [pytest.param({}, marks=pytest.mark.skip("no corpus"))],
    ids=lambda r: str(r.get("file")),
)
def test_corpus_feed_parses_into_its_items(row: dict[str, object]) -> None:
    feeds = need_corpus("feeds")
    body = (feeds / str(row["file"])).read_bytes()
    try:
        feed = parse_feed(body, url="https://example.com/feed")
    except ParseError as exc:
        # the only failures allowed are documents feedparser also finds no items in
        assert row["entries"] == 0, f"{row['file']}: {exc}"
        assert str(exc)
        return
    if not row["bozo"]:
        assert len(feed.entries) == row["entries"]
    else:
        assert len(feed.entries) >= min(1, int(str(row["entries"])))
    for entry in feed.entries:
        assert entry.published is None or entry.published.utcoffset() is not None
        assert entry.link is None or entry.link.startswith(("http://", "https://"))
        assert not any(ord(c) < 32 and c != "\n" for c in entry.title + entry.summary + entry.content)
        assert "\n" not in entry.title


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("file", "count", "title"),
    [
        ("feed-rs/jsonfeed/jsonfeed_example_1.json", 2, "How Jeff Bezos’s iPhone X Was Hacked"),
        ("feed-rs/jsonfeed/jsonfeed_elastic_1.1.json", 3, None),
        ("gofeed/version_json_10.json", 1, None),
        ("rsparser/allthis.json", 12, None),
    ],
)
def test_corpus_json_feeds(file: str, count: int, title: str | None) -> None:
    body = (need_corpus("feeds") / file).read_bytes()
    feed = parse_feed(body, url="https://example.com/feed.json")
    assert isinstance(feed, ParsedFeed) and feed.parser == "jsonfeed"
    assert len(feed.entries) == count
    if title:
        assert feed.entries[0].title == title
        assert feed.entries[0].published == datetime(2020, 1, 24, 23, 46, 57, tzinfo=UTC)
        assert feed.entries[0].author == "John Gruber"
    assert all(e.title or e.content or e.summary for e in feed.entries)


def test_corpus_json_feed_versions_present() -> None:
    rows = [r for r in _index() if str(r.get("format", "")).startswith("json-feed 1")]
    if not rows:
        pytest.skip("shared corpus not available")
    versions = {str(r["format"]) for r in rows}
    assert any("1.1" in v for v in versions) and any(v.endswith(("1", "1.0")) for v in versions)
    for row in rows:
        if row["entries"]:
            feed = parse_feed(
                Path(CORPUS / "feeds" / str(row["file"])).read_bytes(), url="https://e.example/"
            )
            assert len(feed.entries) == row["entries"]


def test_a_feed_over_max_entries_says_how_many_it_holds() -> None:
    items = b"".join(b"<item><title>t%d</title><link>http://a.example/%d</link></item>" % (i, i) for i in range(30))
    rss = b"<rss version='2.0'><channel>" + items + b"</channel></rss>"
    assert parse_feed(rss, url=URL, max_entries=10).truncated_from == 30
    assert parse_feed(rss, url=URL, max_entries=30).truncated_from is None
    listing = [{"id": str(i), "url": f"http://a.example/{i}"} for i in range(30)]
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": listing}).encode()
    assert parse_feed(body, url=URL, max_entries=10).truncated_from == 30


def test_json_feed_text_fields_are_capped_like_the_others() -> None:
    huge = "word " * (MAX_TEXT_CHARS // 5 + 1000)
    body = json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "content_text": huge, "summary": huge}]}
    )
    [entry] = parse_feed(body.encode(), url=URL).entries
    assert len(entry.content) <= MAX_TEXT_CHARS and len(entry.summary) <= MAX_TEXT_CHARS
