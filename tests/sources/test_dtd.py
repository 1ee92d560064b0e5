"""The prolog guard decides by what entity references would cost, not by what the DTD looks like.

Two fixture folders (tests/data/dtd/, see its README): ``legit/`` holds feeds whose DTDs
are harmless (the XHTML entity sets as external parameter entities, pasted entity tables,
``&amp;`` in entity values, nested small entities, unused declarations); every one must
give the stories plain feedparser finds, with the entities expanded. ``hostile/`` holds
the entity bombs and external entities; every one must be refused, fast and small.
Adding a case is adding a file (and, for a legitimate one, a line to ``FIRST_TITLES``).
"""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import feedparser
import pytest

from monitor.sources.dtd import MAX_EXPANSION_BYTES, MAX_EXPANSION_STEPS, read_subset
from monitor.sources.feedparse import parse_feed
from monitor.sources.prolog import HostileXML, prepare_xml
from tests.support.paths import DATA
from tests.support.servers import Canary

URL = "https://news.example.com/feeds/world.xml"
LEGIT = DATA / "dtd" / "legit"
HOSTILE = DATA / "dtd" / "hostile"

#: the first story's title as a reader should see it, entities expanded
FIRST_TITLES = {
    "atom-xhtml-lat1-and-nested-entity.xml": "L'été arrive",
    "element-and-attlist-declarations.xml": "Story with a DTD",
    "entity-in-attribute-and-many-references.xml": "Nine words joined by non-breaking spaces in a title",
    "entity-references-entity.xml": "A story from Example News",
    "entity-value-with-amp.xml": "Report by Smith & Sons",
    "entity-value-with-char-reference.xml": "ACME & Co reports profit",
    "entity-value-with-lt.xml": "Letter from the desk",
    "inline-html-entity-table.xml": "Café & bar – © 2026",
    "inline-lat1-table-with-comments.xml": "Álvaro wins in Málaga",
    "internal-parameter-entity-declares-entities.xml": "A story from Example News",
    "long-disclaimer-entity.xml": "Markets close higher",
    "plain-entity-one-line.xml": "A story from Example News",
    "plain-entity.xml": "A story from Example News",
    "predefined-entities-redeclared.xml": "Tom & Jerry <3",
    "rss091-netscape-public-dtd.xml": "Café owners — a survey",
    "single-quoted-entity-value.xml": 'Minister: He said "no comment"',
    "unparsed-entity-declared.xml": "A story from Example News",
    "unused-internal-parameter-entity.xml": "A story from Example News",
    "xhtml-lat1-parameter-entity-one-line.xml": "Señor García resigns",
    "xhtml-lat1-parameter-entity.xml": "Café owners protest in Zürich",
    "xhtml-three-sets-parameter-entities.xml": "Prices rise — the € at ½ …",
}


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.xml"))


def test_every_legit_fixture_has_an_expected_title() -> None:
    assert sorted(p.name for p in _files(LEGIT)) == sorted(FIRST_TITLES)
    assert len(_files(HOSTILE)) >= 15


@pytest.mark.parametrize("path", _files(LEGIT), ids=lambda p: p.name)
def test_legitimate_dtds_are_accepted_and_their_entities_expanded(path: Path) -> None:
    body = path.read_bytes()
    plain = feedparser.parse(io.BytesIO(body), response_headers={"content-type": "application/xml"})
    feed = parse_feed(body, url=URL)
    assert len(feed.entries) == len(plain.entries) > 0
    assert feed.entries[0].title == FIRST_TITLES[path.name]
    assert [e.link for e in feed.entries] == [e.get("link") for e in plain.entries]


@pytest.mark.parametrize(
    ("name", "summary"),
    [
        ("entity-value-with-amp.xml", "Published by Smith & Sons."),
        ("entity-value-with-lt.xml", "Signed: The editors"),  # the entity's escaped markup is markup again
        ("entity-references-entity.xml", "Text. © 2026 Example News"),
    ],
)
def test_entity_values_with_references_expand_like_xml(name: str, summary: str) -> None:
    assert parse_feed((LEGIT / name).read_bytes(), url=URL).entries[0].summary == summary


@pytest.mark.parametrize("path", _files(HOSTILE), ids=lambda p: p.name)
def test_hostile_dtds_are_refused_fast_and_small(path: Path) -> None:
    body = path.read_bytes()
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
    assert peak < 10 * len(body) + 8 * 1024 * 1024


def test_external_parameter_entities_are_never_fetched(canary: Canary) -> None:
    body = (LEGIT / "xhtml-lat1-parameter-entity.xml").read_bytes()
    local = body.replace(
        b"http://www.w3.org/TR/xhtml1/DTD/xhtml-lat1.ent", f"http://127.0.0.1:{canary.port}/lat1.ent".encode()
    )
    assert local != body
    assert parse_feed(local, url=URL).entries[0].title == "Café owners protest in Zürich"
    assert canary.accepts == 0


# --- the bounds themselves -------------------------------------------------------------------


def test_a_billion_laughs_costs_a_few_additions_to_judge() -> None:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 40))
    entities = read_subset('<!ENTITY l0 "lol">' + levels)
    start = time.process_time()
    cost = entities.cost("l39")
    assert time.process_time() - start < 0.5  # CPU time: 3 * 10**39 expansions would never end
    assert cost.size == MAX_EXPANSION_BYTES + 1  # saturated, never 3 * 10**39
    assert cost.steps == MAX_EXPANSION_STEPS + 1


def test_a_long_chain_of_entities_is_judged_without_recursion() -> None:
    chain = "".join(f'<!ENTITY e{i} "&e{i - 1};x">' for i in range(1, 20_000))
    head = f'<!DOCTYPE rss [<!ENTITY e0 "x">{chain}]><rss version="2.0"><channel><title>'
    assert parse_feed(f"{head}&e9;</title></channel></rss>".encode(), url=URL).title == "x" * 10
    tops = "".join(f"&e{19_999 - i};" for i in range(6))
    with pytest.raises(HostileXML, match="expand over"):  # 6 x 20 000 references followed
        parse_feed(f"{head}{tops}</title></channel></rss>".encode(), url=URL)
    # the same top six times is expanded once: its text is kept for the other five
    assert len(parse_feed(f"{head}{'&e19999;' * 6}</title></channel></rss>".encode(), url=URL).title) == 1000


def test_many_references_to_small_declared_entities_are_not_work() -> None:
    table = '<!ENTITY nbsp "&#160;"><!ENTITY mdash "&#8212;">'
    items = "".join(f"<item><title>a&nbsp;b&mdash;{i}</title></item>" for i in range(60_000))
    body = f'<!DOCTYPE rss [{table}]><rss version="2.0"><channel>{items}</channel></rss>'
    prepared = prepare_xml(body.encode())  # 120 000 references, over MAX_EXPANSION_STEPS
    assert prepared.body.count(b"a&#160;b&#8212;") == 60_000


def test_first_declaration_wins_and_predefined_entities_stay_predefined() -> None:
    body = (
        b'<!DOCTYPE rss [<!ENTITY x "first"><!ENTITY x "second"><!ENTITY amp "AMP">]>'
        b'<rss version="2.0"><channel><title>&x; &amp; co</title></channel></rss>'
    )
    assert parse_feed(body, url=URL).title == "first & co"


def test_an_expanded_quote_does_not_break_an_attribute() -> None:
    body = (
        b'<!DOCTYPE rss [<!ENTITY q \'"/><evil x="\'>]><rss version="2.0"><channel><item><title>t</title>'
        b'<enclosure url="https://cdn.example.com/&q;.mp3" type="audio/mpeg"/></item></channel></rss>'
    )
    prepared = prepare_xml(body)
    assert b"<evil" not in prepared.body
    assert parse_feed(body, url=URL).entries[0].title == "t"


def test_entity_values_in_a_latin1_document_keep_their_characters() -> None:
    body = (
        '<?xml version="1.0" encoding="ISO-8859-1"?><!DOCTYPE rss [<!ENTITY city "Zürich">]>'
        '<rss version="2.0"><channel><title>News from &city;</title></channel></rss>'
    ).encode("latin-1")
    assert parse_feed(body, url=URL).title == "News from Zürich"
