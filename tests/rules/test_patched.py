"""A matcher patched for a few changed rules (a reload) answers as one compiled from nothing.

``Matcher.compile(..., previous=...)`` copies the previous matcher's index and files only the
changed rules anew; the previous matcher must keep answering as it did (it may still be
matching while the new one is built).
"""

from __future__ import annotations

import random

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec

_WORDS = [f"{a}{b}{c}" for a in ("kar", "lum", "dev", "sor", "pim", "tak", "vel", "nor")
          for b in ("an", "ot", "ib", "us", "er") for c in ("ane", "oto", "ible", "ust", "ery")]


def _query(rng: random.Random) -> str:
    a, b, c = rng.sample(_WORDS, 3)
    return rng.choice([
        a, f"{a} {b}", f'"{a} {b}"', f"{a} NEAR/3 {b}", f"{a[:4]}*", f"title:{a}", f"{a} -{b}",
        f"({a} OR {b}) {c}", f'"{a} {b}" NEAR/5 ({c} OR {b[:4]}*)', f"{a} AND NOT ({b} OR {c})",
        f"{a} {b} {c}", f"lang:en {a}",
    ])


def _rules(rng: random.Random, count: int) -> list[RuleSpec]:
    return [RuleSpec(f"r{i}", _query(rng), tags=("world",) if i % 97 == 0 else ()) for i in range(count)]


def _stories(rng: random.Random, count: int) -> list[Story]:
    return [
        Story(source="wire", url=f"https://news.example/{i}", title=" ".join(rng.choices(_WORDS, k=3)),
              text=". ".join(" ".join(rng.choices([*_WORDS, "the", "of", "and"], k=8)) for _ in range(4)),
              source_tags=("world",) if i % 3 == 0 else ())
        for i in range(count)
    ]


def _answers(matcher: Matcher, stories: list[Story]) -> list[object]:
    return [(matcher.candidates(story), matcher.match(story)) for story in stories]


def test_a_patched_matcher_answers_as_one_compiled_in_full() -> None:
    rng = random.Random(14)
    rules = _rules(rng, 1_200)  # past the size from which word pairs are used
    stories = _stories(rng, 12)
    before = Matcher.compile(rules)
    answers_before = _answers(before, stories)
    for round_ in range(2):
        changed = list(rules)
        for r in rng.sample(range(len(rules)), 8):
            old = changed[r]
            changed[r] = RuleSpec(old.name if round_ != 1 or r % 2 else f"renamed{r}", _query(rng),
                                  tags=("world",) if r % 5 == 0 else ())
        patched = Matcher.compile(changed, previous=before)
        assert patched._patches == before._patches + 8  # it was patched, not compiled anew
        assert _answers(patched, stories) == _answers(Matcher.compile(changed), stories)
        # the matcher patched keeps its answers
        assert _answers(before, stories) == answers_before
        rules, before, answers_before = changed, patched, _answers(patched, stories)


def test_other_changes_compile_in_full() -> None:
    rng = random.Random(15)
    rules = _rules(rng, 300)
    before = Matcher.compile(rules)
    added = Matcher.compile([*rules, RuleSpec("new", "karane")], previous=before)
    assert added._patches == 0
    many = [RuleSpec(rule.name, _query(rng)) for rule in rules]
    assert Matcher.compile(many, previous=before)._patches == 0
