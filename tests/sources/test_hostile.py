"""Hostile feed bodies through parse_feed and the WorkerPool: entity bombs (H-1), XXE, broken documents.

Each case must end in entries or one ParseError, quickly, with bounded memory, without
reading local files or opening connections.
"""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import ParseError
from monitor.sources.feedparse import ParsedFeed, parse_feed, parse_with
from monitor.sources.parsepool import WorkerPool
from monitor.sources.prolog import HostileXML
from tests.support.paths import CORPUS, need_corpus
from tests.support.servers import Canary

URL = "https://feeds.example.com/hostile.xml"
HOSTILE = CORPUS / "hostile"
SUFFIXES = {".xml", ".json", ".rss", ".atom"}


def _hostile_files() -> list[Path]:
    if not HOSTILE.exists():
        return []
    return sorted(
        p
        for p in HOSTILE.rglob("*")
        if p.is_file()
        and p.suffix in SUFFIXES
        and p.name != "manifest.json"
        and not p.name.endswith(".evaldata.json")
    )


def _all_text(feed: ParsedFeed) -> str:
    parts = [feed.title, feed.link or "", feed.warning or ""]
    for e in feed.entries:
        parts += [e.title, e.summary, e.content, e.link or "", e.guid or "", e.author or ""]
    return "\n".join(parts)


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    p = WorkerPool(processes=1, memory_limit_mb=512, task_timeout=5)
    yield p
    await p.close()


async def _through_pool(pool: WorkerPool, body: bytes) -> tuple[ParsedFeed | ParseError, float]:
    start = time.monotonic()
    try:
        result: ParsedFeed | ParseError = await pool.run(partial(parse_feed, url=URL), body)
    except ParseError as exc:
        result = exc
    return result, time.monotonic() - start


# --- every stored hostile file --------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize(
    "path",
    _hostile_files() or [pytest.param(None, marks=pytest.mark.skip("no corpus"))],
    ids=lambda p: p and p.name,
)
async def test_every_hostile_file_gives_entries_or_one_parse_error(pool: WorkerPool, path: Path) -> None:
    need_corpus("hostile")
    result, elapsed = await _through_pool(pool, path.read_bytes())
    assert elapsed < 5, f"{path.name} took {elapsed:.1f}s"
    if isinstance(result, ParseError):
        message = str(result)
        assert message
        # the guard, not the pool's limits, must be what stopped a hostile document
        assert "timed out" not in message and "out of memory" not in message and "crashed" not in message
    else:
        assert isinstance(result, ParsedFeed)
        assert "root:" not in _all_text(result)


# --- H-1: the feedparser loose-parser quadratic blowup (RELIABILITY.md §2.1b) ----------------


def _quadratic_feed(entity_kib: int, refs: int, *, one_line: bool, broken: bool) -> bytes:
    value = "A" * (entity_kib * 1024)
    newline = "" if one_line else "\n"
    doctype = f'<!DOCTYPE rss [{newline}<!ENTITY big "{value}">{newline}]>'
    tail = "<unclosed>" if broken else ""  # a well-formedness error sends feedparser to its loose parser
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{doctype}\n<rss version="2.0"><channel><title>t</title>'
        f"<item><title>bomb</title><description>{'&big;' * refs}</description>{tail}</item></channel></rss>"
    ).encode()


H1_CASES = [
    pytest.param(
        entity_kib,
        refs,
        one_line,
        broken,
        id=f"{entity_kib}KiBx{refs}-{'1line' if one_line else 'multi'}-{'broken' if broken else 'wf'}",
    )
    for entity_kib, refs in [(10, 100), (100, 1000), (100, 3000), (300, 2000)]
    for one_line in (False, True)
    for broken in (False, True)
]


@pytest.mark.parametrize(("entity_kib", "refs", "one_line", "broken"), H1_CASES)
def test_h1_quadratic_blowup_is_refused_fast_and_small(
    entity_kib: int, refs: int, one_line: bool, broken: bool
) -> None:
    body = _quadratic_feed(entity_kib, refs, one_line=one_line, broken=broken)
    tracemalloc.start()
    # CPU time of this process: an expansion would take minutes of it, and the load of a
    # shared machine does not inflate it as it does wall time
    start = time.process_time()
    try:
        with pytest.raises(HostileXML, match="XML entity declarations refused"):
            parse_feed(body, url=URL)
        elapsed = time.process_time() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 5.0, f"refusal took {elapsed:.2f} s of CPU"
    assert peak < 10 * len(body) + 8 * 1024 * 1024, f"peak {peak} bytes for a {len(body)}-byte body"


async def test_h1_worst_case_through_the_pool(pool: WorkerPool) -> None:
    result, elapsed = await _through_pool(pool, _quadratic_feed(300, 2000, one_line=False, broken=True))
    assert isinstance(result, HostileXML)
    assert result.kind == "hostile_xml"
    assert elapsed < 5


def test_many_references_to_a_small_entity_are_capped() -> None:
    body = (
        b'<!DOCTYPE rss [<!ENTITY e "'
        + b"x" * 500
        + b'">]><rss version="2.0"><channel><item><title>t</title>'
        b"<description>" + b"&e;" * 5000 + b"</description></item></channel></rss>"
    )
    with pytest.raises(HostileXML, match="grow the document"):
        parse_feed(body, url=URL)


def test_small_plain_entities_are_still_substituted() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd" [\n<!ENTITY org "ACME &#38; Co">\n]>\n'
        b'<rss version="0.91"><channel><title>&org; news</title><item><title>&org;&nbsp;wins</title>'
        b"<link>http://a.example/1</link></item></channel></rss>"
    )
    feed = parse_feed(body, url=URL)
    assert feed.title == "ACME & Co news"
    assert feed.entries[0].title == "ACME & Co wins"


@pytest.mark.parametrize(
    ("doctype", "match"),
    [
        ('<!DOCTYPE r [<!ENTITY a "xx"><!ENTITY b "&a;&a;"><!ENTITY x "&b;&x;">]>', "refers to itself"),
        ('<!DOCTYPE r [<!ENTITY % p "&#37;p;"> %p;]>', "parameter entity %p; refers to itself"),
        ('<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "external entity"),
        ("<!DOCTYPE r [<!ENTITY x PUBLIC 'p' 'http://127.0.0.1:1/'>]>", "external entity"),
        ('<!doctype r [ <!ENTITY\n\tx\n SYSTEM\n"file:///etc/hostname" > ]>', "external entity"),
        ('<!ENTITY x "' + "y" * 300_000 + '">', "grow the document"),  # a bare declaration, no DOCTYPE
        ('junk text <!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>', "external entity"),
        ('<!DOCTYPE r [<!ENTITY s SYSTEM "file:///etc/passwd"><!ENTITY x "a &s;">]>', "through 'x'"),
    ],
)
def test_entity_declarations_refused_in_every_spelling(doctype: str, match: str) -> None:
    body = f'<?xml version="1.0"?>{doctype}<rss version="2.0"><channel><title>&x;</title></channel></rss>'
    with pytest.raises(HostileXML, match=match):
        parse_feed(body.encode(), url=URL)
    with pytest.raises(HostileXML, match=match):
        parse_feed(body.encode("utf-16"), url=URL)  # a wider encoding does not hide it


@pytest.mark.parametrize(
    ("doctype", "title"),
    [
        # small, or never referenced: nothing here expands far or reaches out
        ('<!DOCTYPE r [<!ENTITY a "x"><!ENTITY b "&a;&a;"><!ENTITY x "&b;!">]>', "xx!"),
        ('<!DOCTYPE r [<!ENTITY % p "x"><!ENTITY x "t">]>', "t"),
        ('<!ENTITY x "' + "y" * 900 + '">', "y" * 900),  # over the old 1024-byte rule with the markup
        ('<!DOCTYPE r [<!ENTITY x "ok"><!ENTITY s SYSTEM "file:///etc/passwd">]>', "ok"),
    ],
)
def test_entity_declarations_that_cost_little_are_accepted(doctype: str, title: str) -> None:
    body = f'<?xml version="1.0"?>{doctype}<rss version="2.0"><channel><title>&x;</title></channel></rss>'
    assert parse_feed(body.encode(), url=URL).title == title


@pytest.mark.corpus
@pytest.mark.parametrize(
    "name",
    [
        "generated/xml/entity_bomb_300mb.xml",
        "generated/xml/quadratic_blowup.xml",
        "from-defusedxml/xmlbomb.xml",
        "from-defusedxml/xmlbomb2.xml",
        "from-defusedxml/quadratic.xml",
        "from-defusedxml/cyclic.xml",
    ],
)
def test_corpus_entity_bombs_do_not_expand(name: str) -> None:
    body = (need_corpus("hostile") / name).read_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(ParseError):
            parse_feed(body, url=URL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024


# --- H-4: inputs that made feedparser raise instead of flagging bozo (feedparser#599, #378) ------


@pytest.mark.parametrize(
    ("body", "title"),
    [
        (
            b'<!DOCTYPE rss [\n<!ENTITY a "x\\1y\\">\n]><rss version="2.0"><channel><item><title>&a;</title>',
            "x\\1y\\",
        ),
        (b'<rss version="2.0"><channel><item><title>a&#1114112;b</title><x></item></channel></rss>', "ab"),
        (
            b'<rss version="2.0"><channel><item><title>a&#55296;b&#xD800;</title></item><bad></channel>',
            "ab",
        ),
        (b'<rss version="2.0"><channel><item><title>a&#0;&#x1b;b</title></item></channel></rss>', "ab"),
        (
            b'<rss version="2.0"><channel><item><title>t</title><description><!h<!h<!h<</description></item>',
            "t",
        ),
    ],
)
@pytest.mark.parametrize("parser", ["feedparser", "fastfeedparser"])
def test_feedparser_crash_reproducers_are_defused(body: bytes, title: str, parser: str) -> None:
    assert parse_feed(body, url=URL).entries[0].title == title
    try:
        feed = parse_with(parser, body, url=URL)
    except ValueError:  # fastfeedparser may reject a document outright; parse_feed then asks feedparser
        assert parser == "fastfeedparser"
        return
    assert feed.entries[0].title == title


def test_feedparser_exceptions_become_parse_errors() -> None:
    gml = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:georss="http://www.georss.org/georss" '
        b'xmlns:gml="http://www.opengis.net/gml"><entry><title>g</title><georss:where>'
        b'<gml:Point srsName="EPSG:abc" srsDimension="x"><gml:pos>1 2</gml:pos></gml:Point>'
        b"</georss:where></entry>"
    )
    feed = parse_feed(gml + b"</feed>", url=URL)  # feedparser raises; fastfeedparser rescues it
    assert feed.entries[0].title == "g"
    with pytest.raises(ParseError, match="feedparser failed: ValueError"):
        parse_with("feedparser", gml + b"</feed>", url=URL)


# --- XXE: no file is read and no connection is made ----------------------------------------


class _OpenAudit:
    """Records every file open whose path mentions one of ``needles`` (audit hooks cannot be removed)."""

    active = False
    needles: tuple[str, ...] = ("passwd", "hostname", "hosts")
    opened: list[str] = []  # noqa: RUF012 - shared on purpose

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if cls.active and event == "open" and args and any(n in str(args[0]) for n in cls.needles):
            cls.opened.append(str(args[0]))


sys.addaudithook(_OpenAudit.hook)


def _xxe_bodies(port: int) -> list[bytes]:
    canary_url = f"http://127.0.0.1:{port}/"
    item = '<rss version="2.0"><channel><title>t</title><item><title>&x;</title><link>http://a.example/</link></item></channel></rss>'
    bodies = [
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>{item}',
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "{canary_url}x">]>{item}',
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "{canary_url}p.dtd"> %p;]>{item}',
        f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{canary_url}rss.dtd">{item}',
        f'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="{canary_url}s.xsl"?>'
        + item.replace("&x;", "ok"),
        f'<rss version="2.0" xmlns:xi="http://www.w3.org/2001/XInclude"><channel><item><title>t</title>'
        f'<description><xi:include href="file:///etc/passwd" parse="text"/><xi:include href="{canary_url}i"/>'
        f"</description></item></channel></rss>",
        "/etc/passwd",
        canary_url,
        "file:///etc/passwd",
    ]
    return [b.encode() for b in bodies] + [bodies[0].encode("utf-16"), bodies[1].encode("utf-32")]


def test_xxe_reads_no_file_and_makes_no_connection(canary: Canary) -> None:
    port = canary.port
    _OpenAudit.opened.clear()
    _OpenAudit.active = True
    try:
        for body in _xxe_bodies(port):
            try:
                feed = parse_feed(body, url=URL)
            except ParseError:
                continue
            assert "root:" not in _all_text(feed)
    finally:
        _OpenAudit.active = False
    assert _OpenAudit.opened == []
    assert canary.accepts == 0


@pytest.mark.corpus
@pytest.mark.parametrize(
    "name",
    [
        "generated/xml/xxe_file.xml",
        "generated/xml/xxe_http.xml",
        "generated/xml/xxe_parameter_entity.xml",
        "generated/xml/xxe_utf16.xml",
        "generated/xml/external_dtd.xml",
        "generated/xml/xinclude.xml",
        "from-defusedxml/external_file.xml",
        "from-defusedxml/external.xml",
    ],
)
def test_corpus_xxe_cases_disclose_nothing(name: str) -> None:
    body = (need_corpus("hostile") / name).read_bytes()
    _OpenAudit.opened.clear()
    _OpenAudit.active = True
    try:
        feed = parse_feed(body, url=URL)
        assert "root:" not in _all_text(feed)
    except ParseError as exc:
        assert "root:" not in str(exc)
    finally:
        _OpenAudit.active = False
    assert _OpenAudit.opened == []


# --- broken documents ------------------------------------------------------------------------


def _corpus_feed(name: str) -> ParsedFeed:
    return parse_feed((need_corpus("hostile") / name).read_bytes(), url=URL)


@pytest.mark.corpus
def test_truncated_mid_item_recovers_the_complete_stories() -> None:
    feed = _corpus_feed("generated/truncated/truncated_mid_item.xml")
    assert len(feed.entries) >= 2
    assert feed.entries[0].title == "Truncation test story 0"
    assert feed.warning and "truncated" in feed.warning


@pytest.mark.corpus
def test_truncated_mid_utf8_char_and_in_cdata() -> None:
    assert _corpus_feed("generated/truncated/truncated_mid_utf8_char.xml").entries
    assert _corpus_feed("generated/truncated/truncated_in_cdata.xml").warning


@pytest.mark.corpus
def test_garbage_before_prolog_is_skipped() -> None:
    feed = _corpus_feed("generated/truncated/garbage_before_prolog.xml")
    assert len(feed.entries) == 5
    assert feed.warning and "before the XML declaration" in feed.warning


@pytest.mark.corpus
@pytest.mark.parametrize(
    "name", ["generated/truncated/html_instead_of_feed.xml", "from-miniflux/iso-8859-1.html"]
)
def test_html_instead_of_feed(name: str) -> None:
    with pytest.raises(ParseError, match="not a feed: looks like an HTML page"):
        _corpus_feed(name)


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("generated/encoding/declared_latin1_is_utf8.xml", "Zürich"),
        ("generated/encoding/declared_utf8_is_latin1.xml", "Zürich"),
        ("generated/encoding/utf16le_no_bom.xml", "Zürich"),
        ("generated/encoding/bom_conflicts_declaration.xml", "BOM says UTF-8"),
        ("generated/encoding/mixed_encodings.xml", "€"),
        ("generated/encoding/bogus_encoding_name.xml", "Bogus encoding"),
    ],
)
def test_wrong_encodings_are_read_right(name: str, expected: str) -> None:
    feed = _corpus_feed(name)
    assert expected in _all_text(feed)
    assert "Ã" not in _all_text(feed)  # no UTF-8-read-as-Latin-1 mojibake


@pytest.mark.corpus
def test_control_characters_are_removed() -> None:
    text = _all_text(_corpus_feed("generated/encoding/control_chars.xml"))
    assert not any(ord(c) < 32 and c != "\n" for c in text)
    assert "\x1b" not in text and "\ufffe" not in text


@pytest.mark.corpus
async def test_deep_nesting_xml_and_json(pool: WorkerPool) -> None:
    hostile = need_corpus("hostile")
    xml, elapsed = await _through_pool(pool, (hostile / "generated/xml/deep_nesting_10k.xml").read_bytes())
    assert isinstance(xml, ParsedFeed) and elapsed < 5
    assert xml.entries[0].title == "deep"
    deep_json, _ = await _through_pool(pool, (hostile / "generated/json/deep_nesting_10k.json").read_bytes())
    assert isinstance(deep_json, ParseError) and "nested too deeply" in str(deep_json)
    local, _ = await _through_pool(pool, b"[" * 100_000 + b"]" * 100_000)
    assert isinstance(local, ParseError)


@pytest.mark.corpus
def test_bad_json_feeds() -> None:
    assert _corpus_feed("generated/json/huge_number.json").entries[0].guid is not None
    with pytest.raises(ParseError, match="no 'items' list"):
        _corpus_feed("generated/json/items_not_list.json")
    feed = _corpus_feed("generated/json/wrong_types.json")
    assert all(e.link is None or e.link.startswith("http") for e in feed.entries)
    assert "<script" not in _all_text(feed)


@pytest.mark.slow
@pytest.mark.corpus
async def test_large_generated_files_through_the_pool(tmp_path: Path, pool: WorkerPool) -> None:
    make = need_corpus("hostile", "make.py")
    subprocess.run([sys.executable, str(make), "--out", str(tmp_path), "--large"], check=True, timeout=120)
    large = sorted(
        p for p in (tmp_path / "large").glob("*") if p.suffix in SUFFIXES and p.name != "manifest.json"
    )
    assert len(large) >= 4, sorted(p.name for p in tmp_path.rglob("*"))
    for path in large:
        result, elapsed = await _through_pool(pool, path.read_bytes())
        assert elapsed < 10, f"{path.name}: {elapsed:.1f}s"
        assert isinstance(result, ParsedFeed), f"{path.name}: {result}"
        assert len(result.entries) <= 2000
        assert all(len(e.title) <= 1000 for e in result.entries)
