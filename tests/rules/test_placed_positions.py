"""A field of a story made with a matcher's notes places the chunks a rule may look up in
one pass (``FieldDoc._place``): its positions, chunks that are not one word and word pairs
are those a field without notes finds one chunk at a time."""

from __future__ import annotations

import random
from collections.abc import Set as AbstractSet
from typing import Any

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules import matcher as matcher_module
from monitor.rules.document import StoryDoc
from monitor.rules.evaluate import Evaluation
from monitor.rules.text import HEADS, INNER, TAILS

_WORDS = ["rare", "earths", "Rare", "the", "The", "semi-conductor", "U.S.", "Japan's", "maker", "-", "—", "",
          "trade,", "war", "New", "York", "new", "york.", "COVID-19", "_", "a", "times", "Times", "x"]
_RULES = ['"rare earths"', '"New York"', "semi*", '"the times"', "japan NEAR/2 trade", "war -maker",
          '(covid OR "U.S.") NEAR/3 york', "title:times", "conductor"]


def _stories(seed: int, count: int) -> list[Story]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(0, 80)))
        title = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(0, 6)))
        out.append(Story(source="s", url="", title=title, text=text.replace("  ", "\n\n", 3)))
    return out


def _matcher() -> Matcher:
    saved = matcher_module._PAIRS_FROM
    matcher_module._PAIRS_FROM = 0  # word pairs in the filter, whatever the rule count
    try:
        return Matcher.compile([RuleSpec(f"r{i}", q) for i, q in enumerate(_RULES)])
    finally:
        matcher_module._PAIRS_FROM = saved


def _reference_pairs(chunks: list[str], starters: set[str], infos: dict[str, Any],
                     wordless: AbstractSet[str]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for i, chunk in enumerate(chunks):
        if chunk not in starters:
            continue
        out.update(infos[chunk][INNER])
        j = i + 1
        while j < len(chunks) and chunks[j] in wordless:
            j += 1
        if j < len(chunks):
            out.update((t, h) for t in infos[chunk][TAILS] for h in infos[chunks[j]][HEADS])
    return out


def test_placed_positions_equal_those_found_one_chunk_at_a_time() -> None:
    matcher = _matcher()
    for story in _stories(7, 300):
        doc = matcher._doc(story)
        plain = StoryDoc(story)  # no notes: every chunk found by ``where`` on its own
        for field, other in zip(doc.fields, plain.fields, strict=True):
            assert field.chunks == other.chunks
            starters = doc.starters(field)
            pairs = field.pairs(starters) if starters else set()
            infos = field.cache.chunks
            wordless = field.cache.wordless
            assert pairs == _reference_pairs(field.chunks, starters, infos, wordless)
            assert field._irregular() == other._irregular()
            for chunk in field.occurrences():
                expected = [i for i, c in enumerate(field.chunks) if c == chunk]
                assert field.where(chunk) == other.where(chunk) == expected, chunk


def test_placed_positions_match_as_before() -> None:
    """The matches (and their evidence) of a matcher, whose stories are placed, are those
    of evaluating every rule on a story without notes."""
    matcher = _matcher()
    for story in _stories(11, 200):
        got = [(m.rule, list(m.hits)) for m in matcher.match(story)]
        evaluation = Evaluation(StoryDoc(story))
        expected = [(rule.name, evaluation.hits(rule.query.root)) for rule in matcher._rules
                    if evaluation.truth(rule.query.root)]
        assert got == expected, story.text
