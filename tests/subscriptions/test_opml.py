"""OPML in: real reader export shapes import as they should; hostile files are refused cleanly
and cheaply, with no expansion and no connection; OPML out reads back the same."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from monitor.config.edit import entry_data
from monitor.config.models import SourceSettings
from monitor.errors import ParseError
from monitor.subscriptions import MAX_FEEDS, MAX_OPML_BYTES, ExportedFeed, plan_import, read_opml, write_opml
from monitor.subscriptions.plan import name_for, slugify, unique_name, url_key
from tests.support.paths import DATA, need_corpus
from tests.support.servers import Canary

OPML = DATA / "opml"
EXPECTED = yaml.safe_load((OPML / "expected.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reader_exports_import_as_expected(name: str) -> None:
    subscriptions = read_opml((OPML / name).read_bytes())
    plan = plan_import(subscriptions.feeds, [])
    assert [entry_data(source) for source in plan.add] == EXPECTED[name]["sources"]
    assert [skipped.url for skipped in plan.skipped] == EXPECTED[name]["skipped"]


def test_every_export_in_the_folder_has_its_expectation() -> None:
    assert sorted(p.name for p in OPML.glob("*.opml")) == sorted(EXPECTED)


def test_a_feed_in_two_folders_is_one_source_with_both_tags() -> None:
    feeds = read_opml((OPML / "feedly.opml").read_bytes()).feeds
    guardian = [f for f in feeds if "theguardian" in f.url]
    assert len(guardian) == 1 and guardian[0].categories == ("World", "Africa")


def test_nested_folders_and_category_attributes_become_tags() -> None:
    nnw = {f.title: f for f in read_opml((OPML / "netnewswire.opml").read_bytes()).feeds}
    assert nnw["SPIEGEL"].categories == ("Europe", "Germany")
    sloppy = read_opml((OPML / "sloppy.opml").read_bytes())
    wire = next(f for f in sloppy.feeds if f.url.startswith("https://wire.example.org"))
    # the category attribute's paths, then the folder the outline sits in
    assert wire.categories == ("energy", "Markets", "Metals", "Mixed")
    assert sloppy.lists == ["https://lists.example.org/more.opml"]
    assert sloppy.notes and "not well-formed XML" in sloppy.notes[0]


def test_known_feeds_are_skipped_across_http_https_and_a_trailing_slash() -> None:
    first = plan_import(read_opml((OPML / "inoreader.opml").read_bytes()).feeds, [])
    second = plan_import(read_opml((OPML / "netnewswire.opml").read_bytes()).feeds, first.add)
    skipped = {s.url: s.reason for s in second.skipped}
    assert skipped == {
        "http://www3.nhk.or.jp/nhkworld/en/news/rss.xml/": "already configured as source 'nhk-world-japan-news'"
    }
    assert len(second.add) == 5


def test_names_are_unique_and_extra_tags_are_added() -> None:
    existing = [SourceSettings(name="hacker-news", feed="https://elsewhere.example/hn.xml")]
    plan = plan_import(read_opml((OPML / "miniflux.opml").read_bytes()).feeds, existing, extra_tags=["imported"])
    assert plan.add[0].name == "hacker-news-2" and plan.add[0].tags == ["All", "imported"]


def test_a_refused_address_is_skipped_with_the_reason() -> None:
    plan = plan_import(
        read_opml((OPML / "inoreader.opml").read_bytes()).feeds,
        [],
        refusal=lambda url: "private address" if "dw.com" in url else None,
    )
    assert [(s.url, s.reason) for s in plan.skipped] == [("https://rss.dw.com/rdf/rss-en-all", "private address")]


@pytest.mark.parametrize(
    ("title", "url", "name"),
    [
        ("Hacker News", "https://news.ycombinator.com/rss", "hacker-news"),
        ("LWN.net", "https://lwn.net/headlines/rss", "LWN.net"),  # already a plain name: kept
        ("Le Monde.fr - Actualités", "https://www.lemonde.fr/rss/une.xml", "le-monde-fr-actualites"),
        ("NHK ニュース", "https://www.nhk.or.jp/rss/news/cat0.xml", "nhk-ニュース"),
        ("", "https://www.example.co.uk/feed", "example-co-uk"),
        ("   ", "https://feeds.example.org/x", "example-org"),
        ("!!!", "not a url", "source"),
    ],
)
def test_name_for(title: str, url: str, name: str) -> None:
    assert name_for(title, url) == name


def test_slugs_are_cut_between_words_and_names_made_unique() -> None:
    assert slugify("Al Jazeera – Breaking News, World News and Video from Al Jazeera") == (
        "al-jazeera-breaking-news-world-news-and-video"
    )
    assert unique_name("wire", {"wire", "wire-2"}) == "wire-3"
    assert url_key("HTTPS://Example.org/feed/?utm_source=x") == url_key("http://example.org/feed") == "example.org/feed"
    assert url_key("javascript:alert(1)") is None


# ---------------------------------------------------------------------------- hostile files

_HEAD = '<?xml version="1.0"?>\n'
_BODY = '<opml version="2.0"><head><title>&x;</title></head><body><outline text="a" xmlUrl="https://a.example/rss"/></body></opml>'


def _billion_laughs() -> bytes:
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    lines.append('<!ENTITY x "&lol9;">')
    return (_HEAD + "<!DOCTYPE opml [\n" + "\n".join(lines) + "\n]>\n" + _BODY).encode()


def _quadratic() -> bytes:
    big = "A" * 100_000
    body = _BODY.replace("&x;", "&big;" * 3000)
    return (_HEAD + f'<!DOCTYPE opml [<!ENTITY big "{big}">]>\n' + body).encode()


def _hostile(port: int) -> dict[str, bytes]:
    return {
        "billion laughs": _billion_laughs(),
        "quadratic blow-up, one-line DOCTYPE": _quadratic(),
        "external entity, local file": (
            _HEAD + '<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + _BODY
        ).encode(),
        "external entity, canary": (
            _HEAD + f'<!DOCTYPE opml [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/x">]>' + _BODY
        ).encode(),
        "parameter entity, canary": (
            _HEAD + f'<!DOCTYPE opml [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]>'
            + _BODY.replace("&x;", "t")
        ).encode(),
        "entity in a file that is not well-formed": (
            _HEAD + '<!DOCTYPE opml [<!ENTITY x "xxxxxxxx">]><opml><body><outline text="&x;" xmlUrl="https://a/?a=1&b=2"/>'
        ).encode(),
    }


@pytest.mark.parametrize(
    "case",
    [
        "billion laughs",
        "quadratic blow-up, one-line DOCTYPE",
        "external entity, local file",
        "external entity, canary",
        "parameter entity, canary",
        "entity in a file that is not well-formed",
    ],
)
def test_hostile_opml_is_refused_cleanly_and_cheaply(case: str, canary: Canary) -> None:
    data = _hostile(canary.port)[case]
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ParseError) as info:
            read_opml(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 2
    assert peak < 2 * len(data) + 4 * 2**20
    assert str(info.value).startswith("refused:") and "nothing was read" in str(info.value)
    assert canary.accepts == 0


def test_an_external_dtd_is_never_fetched(canary: Canary) -> None:
    data = (
        _HEAD + f'<!DOCTYPE opml SYSTEM "http://127.0.0.1:{canary.port}/opml.dtd">'
        + _BODY.replace("&x;", "t")
    ).encode()
    # a DOCTYPE that declares nothing is harmless: read, and its DTD left where it is
    assert [f.url for f in read_opml(data).feeds] == ["https://a.example/rss"]
    assert canary.accepts == 0


def test_a_huge_file_is_refused_before_parsing() -> None:
    data = b"<opml><body>" + b" " * MAX_OPML_BYTES + b"</body></opml>"
    started = time.monotonic()
    with pytest.raises(ParseError, match=r"10\.0 MiB; an OPML file may have at most 10 MiB"):
        read_opml(data)
    assert time.monotonic() - started < 0.5


def test_too_many_feeds_is_refused_whole() -> None:
    outlines = "".join(f'<outline text="f{i}" xmlUrl="https://f{i}.example/rss"/>' for i in range(MAX_FEEDS + 1))
    data = f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>'.encode()
    with pytest.raises(ParseError, match=f"lists {MAX_FEEDS + 1} feeds, more than the {MAX_FEEDS} one import takes"):
        read_opml(data)


def test_deep_nesting_neither_crashes_nor_hangs() -> None:
    depth = 20_000
    data = ("<opml><body>" + '<outline text="d">' * depth + '<outline text="f" xmlUrl="https://deep.example/rss"/>'
            + "</outline>" * depth + "</body></opml>").encode()
    started = time.monotonic()
    try:
        subscriptions = read_opml(data)
    except ParseError:
        pass
    else:
        for feed in subscriptions.feeds:
            assert len(feed.categories) <= 16
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>',
        b"<html><body><p>a page</p></body></html>",
        bytes(range(256)) * 4,
        b"",
    ],
)
def test_what_is_not_a_subscription_list_says_so(data: bytes) -> None:
    with pytest.raises(ParseError, match="not an OPML subscription list"):
        read_opml(data)


@pytest.mark.corpus
@pytest.mark.parametrize(
    "name", ["from-defusedxml/xmlbomb.xml", "from-defusedxml/xmlbomb2.xml", "from-defusedxml/quadratic.xml",
             "from-defusedxml/cyclic.xml", "from-defusedxml/external.xml", "from-defusedxml/external_file.xml"],
)
def test_the_corpus_bombs_are_refused(name: str) -> None:
    with pytest.raises(ParseError, match=r"^refused"):
        read_opml((need_corpus("hostile") / name).read_bytes())


# ---------------------------------------------------------------------------- writing


def test_written_opml_reads_back_the_same() -> None:
    feeds = [
        ExportedFeed("bbc-world", "BBC World", "https://feeds.bbci.co.uk/news/world/rss.xml", ("world", "uk")),
        ExportedFeed("odd", 'Quotes " & <angles> \t and \u0007bell', "https://x.example/rss?a=1&b=2", ("a,b/c",)),
        ExportedFeed("plain", "plain", "https://p.example/feed", ()),
        ExportedFeed("ref", "ref", "https://${FEED_HOST}/rss", ("world",)),
    ]
    text = write_opml(feeds, title="t & <t>", created=datetime(2026, 3, 1, 12, tzinfo=UTC))
    back = read_opml(text.encode("utf-8"))
    assert back.notes == [] and back.title == "t & <t>"
    assert [(f.url, f.title, f.label) for f in back.feeds] == [
        ("https://p.example/feed", "plain", ""),
        ("https://feeds.bbci.co.uk/news/world/rss.xml", "bbc-world", "BBC World"),
        ("https://${FEED_HOST}/rss", "ref", ""),
        ("https://x.example/rss?a=1&b=2", "odd", 'Quotes " & <angles> and bell'),
    ]
    assert back.feeds[1].categories == ("world", "uk")
    assert back.feeds[3].categories == ("a,b/c",)  # from its folder
    assert "<dateCreated>Sun, 01 Mar 2026 12:00:00 +0000</dateCreated>" in text


def test_the_writer_escapes_so_strict_xml_parsers_accept_it(tmp_path: Path) -> None:
    import defusedxml.ElementTree

    text = write_opml(
        [ExportedFeed("n", "<script>&\"'", "https://x.example/?q=\"'<>&", ("t",))],
        title="x",
        created=datetime(2026, 1, 1, tzinfo=UTC),
    )
    root = defusedxml.ElementTree.fromstring(text.encode())
    outline = root.find("body/outline/outline")
    assert outline is not None and outline.get("title") == "<script>&\"'"
    assert outline.get("xmlUrl") == "https://x.example/?q=\"'<>&"
