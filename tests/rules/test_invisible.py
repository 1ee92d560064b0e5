"""Invisible characters (Unicode format characters) inside words: absent for matching, kept
for display. The cases of one query and one story are in tests/data/rule_cases.yaml."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules import text as text_module
from monitor.sources.feedparse import parse_feed
from tests.support.paths import DATA


def test_invisible_characters_are_every_format_character_but_the_non_joiner() -> None:
    """The whole Cf class of this Python's Unicode database, scanned over every code point
    (the module scans only ``FORMAT_PLANES`` at import)."""
    every = {chr(cp) for cp in range(0x110000) if unicodedata.category(chr(cp)) == "Cf"}
    assert {cp >> 16 << 16 for cp in map(ord, every)} <= set(text_module.FORMAT_PLANES)
    found = {c for c in every if text_module.INVISIBLE_RE.fullmatch(c)}
    assert every - found == {text_module.ZWNJ}
    assert {"\u00ad", "\u200b", "\u200d", "\u2060", "\ufeff", "\u200e", "\u202e", "\U000e0067"} <= found
    # nothing else is invisible: not a letter, mark, space or symbol
    assert not any(text_module.INVISIBLE_RE.match(c) for c in "a\u0301\u00a0 -\u2011\U0001f469日")


def test_soft_hyphens_of_a_german_feed_split_no_word() -> None:
    """A German feed whose CMS hyphenates long words with soft hyphens (``&shy;``, ``&#173;``,
    ``&#xAD;``, U+00AD): rules find the words a reader sees, and the hits and snippets point
    at them in the text as the feed gave it."""
    feed = parse_feed((DATA / "feeds" / "soft-hyphens-de.rss").read_bytes(), url="https://nachrichten.example/")
    stories = [Story(source="beispiel", url=e.link or "", title=e.title, text=e.summary, lang=e.lang)
               for e in feed.entries]
    assert all("\u00ad" in s.title + s.text for s in stories)
    matcher = Matcher.compile([
        RuleSpec("gas", "Notfallplan NEAR/3 Gasversorgung"),
        RuleSpec("kassen", "title:Krankenkasse AND Zusatzbeitrag"),
        RuleSpec("epa", '"Patientenakte soll den Notfalldatensatz"'),
        RuleSpec("minister", "Wirtschaftsminister"),
    ])
    found = {story.url.rsplit("/", 1)[1]: matcher.match(story) for story in stories}
    assert {k: [m.rule for m in v] for k, v in found.items()} == {
        "notfallplan-gas-100.html": ["gas", "minister"],
        "krankenkassen-102.html": ["kassen", "epa"],
    }
    first, second = stories
    texts = {"title": first.title, "text": first.text}
    gas = found["notfallplan-gas-100.html"][0]
    assert {(h.field, texts[h.field][h.start:h.end]) for h in gas.hits} == {
        ("title", "Not\u00adfall\u00adplan"), ("title", "Gas\u00adversorgung"),
        ("text", "Not\u00adfall\u00adplan"), ("text", "Gas\u00adversorgung"),
    }
    assert gas.snippets[0].plain() == (
        "Bundes\u00adregierung beschließt **Not\u00adfall\u00adplan** für **Gas\u00adversorgung**")
    kassen = found["krankenkassen-102.html"][0]
    assert [second.title[h.start:h.end] for h in kassen.hits if h.field == "title"] == ["Kranken\u00adkassen"]
    assert [second.text[h.start:h.end] for h in kassen.hits if h.field == "text"] == ["Zusatz\u00adbeiträgen"]


_WORDS = ["Notfallplan", "Gasversorgung", "Bundesregierung", "rare", "earths", "U.S.", "semi-conductor",
          "Japan's", "COVID-19", "日本の防衛", "3.5", "Défense", "sanctions"]
_QUERIES = ["Notfallplan", "Gasversorgung NEAR/2 Bundesregierung", '"rare earths"', "=US", "semiconductor",
            "japan", "covid", "日本 防衛", "3.5", "defense", "sanction*", "title:earths", "conductor -Japan"]
_INVISIBLE = st.sampled_from(["\u00ad", "\u200b", "\u200d", "\u2060", "\ufeff", "\u200e", "\u202a\u202c",
                              "\U000e0041"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_WORDS), st.sampled_from([" ", ", ", ". ", "\n"])), min_size=1,
                max_size=12),
       st.lists(st.tuples(st.integers(0, 10_000), _INVISIBLE), max_size=8))
def test_invisible_characters_change_no_match(words: list[tuple[str, str]], inserts: list[tuple[int, str]]) -> None:
    """Invisible characters put anywhere in a story (inside words, at their edges, next to
    punctuation) leave the same matches at the same word positions, and each hit covers
    the same visible text."""
    text = "".join(w + sep for w, sep in words)
    hidden = list(text)
    for at, char in inserts:
        hidden.insert(at % (len(hidden) + 1), char)
    with_them = "".join(hidden)
    matcher = Matcher.compile([RuleSpec(f"r{i}", q) for i, q in enumerate(_QUERIES)])
    plain = matcher.match(Story(source="s", url="", title=text, text=text))
    shown = matcher.match(Story(source="s", url="", title=with_them, text=with_them))
    assert [m.rule for m in shown] == [m.rule for m in plain]
    for a, b in zip(plain, shown, strict=True):
        assert [(h.term, h.field, h.position) for h in b.hits] == [(h.term, h.field, h.position) for h in a.hits]
        assert [text_module.visible(with_them[h.start:h.end]) for h in b.hits] == [text[h.start:h.end] for h in a.hits]
        for snippet in b.snippets:
            for start, end in snippet.spans:
                # a highlight starts and ends on a visible character
                assert not text_module.INVISIBLE_RE.match(snippet.text[start])
                assert not text_module.INVISIBLE_RE.match(snippet.text[end - 1])
