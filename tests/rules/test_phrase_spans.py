"""A phrase's spans found by looking at the word after each span so far (``_seq_spans``) are
those found by joining every position of every word (``_seq_spans_by_lists``), in the same
order: in fields of one-word chunks, joined chunks (``e-mail``, ``U.S.``), punctuated and
wordless chunks, with a matcher's notes and without, whatever was looked up before."""

from __future__ import annotations

import random

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules.ast import Mode, Unit, unit
from monitor.rules.document import FieldDoc, Span, StoryDoc
from monitor.rules.evaluate import _joined, _seq_spans, _unit_spans
from tests.support.matching import random_story

_WORDS = ["new", "New", "york", "York", "York,", "(New", "York)", "new-york", "New-York's", "—", "-", "white",
          "White", "house", "House.", "house's", "e-mail", "mail", "U.S.", "u.s", "the", "The", "state", "States",
          "united", "United", "don't", "data", "...", "“New", "York”"]

_PHRASES = [("new", "york"), ("white", "house"), ("united", "states"), ("the", "new", "york"), ("e", "mail"),
            ("new", "new"), ("york", "new", "york"), ("u.s", "state"), ("the", "white", "house"), ("don't", "data"),
            ("house", "absent"), ("absent", "house")]


def _seq_spans_by_lists(fd: FieldDoc, units: tuple[Unit, ...], doc: StoryDoc, feats: set[str]) -> list[Span]:
    """The spans of a phrase by every position of every word, joined (what ``_seq_spans``
    did before it looked for a quoted word only after the spans found so far)."""
    cur = _unit_spans(fd, units[0], doc, feats)
    for u in units[1:]:
        if not cur:
            return []
        cur = _joined(cur, _unit_spans(fd, u, doc, feats))
    return cur


def _units(words: tuple[str, ...], rng: random.Random) -> tuple[Unit, ...]:
    # mostly quoted words (the fast path), now and then a lemma word among them
    return tuple(unit(Mode.LEMMA if rng.random() < 0.15 else Mode.EXACT, w) for w in words)


def _check(doc: StoryDoc, other: StoryDoc, rng: random.Random) -> int:
    found = 0
    for words in rng.sample(_PHRASES, 6):
        units = _units(words, rng)
        for f, fd in enumerate(doc.fields):
            # (``other`` takes the reference path first: what either looks up first is kept)
            expected = _seq_spans_by_lists(other.fields[f], units, other, other.field_feats[f])
            assert _seq_spans(fd, units, doc, doc.field_feats[f]) == expected, (fd.text, units)
            found += bool(expected)
    return found


def _story(rng: random.Random, i: int) -> Story:
    """A story of up to 80 words of ``_WORDS`` and a title of up to 8."""
    return random_story(rng, i, _WORDS, 80, 8)


def test_phrase_spans_without_notes() -> None:
    rng = random.Random(2121)
    found = 0
    for i in range(200):
        story = _story(rng, i)
        found += _check(StoryDoc(story), StoryDoc(story), rng)
    assert found > 300


def test_phrase_spans_with_notes() -> None:
    rules = ['"new york"', '"white house"', '"united states"', '"the new york"', '"e-mail"', '"u.s state"',
             '"the white house" NEAR/3 data', "title:\"york new york\"", "don't", '"new new"']
    matcher = Matcher.compile([RuleSpec(f"r{i}", q) for i, q in enumerate(rules)])
    rng = random.Random(2222)
    found = 0
    for i in range(200):
        story = _story(rng, i)
        # (made twice: a story of new chunks makes the dictionary to note them)
        matcher._doc(story)
        found += _check(matcher._doc(story), matcher._doc(story), rng)
    assert found > 300
