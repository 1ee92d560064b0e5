"""The evidence of a story's matches built in one pass (``StoryReports._build``, when the
first match is read) is what each rule's query walked as a tree gives (``Evaluation.hits``
and ``make_snippets``), read in any order; and the pass's per-field helpers (``FieldDoc.char_spans``,
``StorySnippets.places``) agree with the one-hit ``char_span`` and with the sentences
``make_snippets`` groups hits by."""

from __future__ import annotations

import random

import pytest

from monitor.models import Hit, Story
from monitor.rules import Matcher, RuleSpec, parse_query
from monitor.rules.ast import Node
from monitor.rules.document import StoryDoc
from monitor.rules.encoding import FIELD_NAMES
from monitor.rules.evaluate import Evaluation
from monitor.rules.snippets import Sentences, StorySnippets, make_snippets
from monitor.rules.snippets import _sentence as sentence_of

_WORDS = [f"{a}{b}" for a in ("kar", "lum", "dev", "sor", "pim", "tak", "vel") for b in ("an", "ot", "ible", "ust")]
_COMMON = ["the", "of", "and", "said", "minister", "ministers", "talks", "U.S.", "e-mail", "don't", "—", "(vel)"]


def _query(rng: random.Random) -> str:
    a, b, c = rng.sample(_WORDS, 3)
    d = rng.choice(_COMMON[:8])
    return rng.choice([
        a, f"{a} {d}", f'"{a} {b}"', f"{a} NEAR/3 {b}", f"{a[:4]}*", f"title:{a}", f"{a} -{b}", f"{a} {b}",
        f"({a} OR {b}) {c}", f'"{a} {b}" NEAR/5 ({c} OR {b[:4]}*)', f"{d} AND NOT ({b} OR {c})", f"{a} {b} {c}",
        f"{d} {a}", f'"{d} {a}"', d, f"({a} OR {d}) ({b} OR {c})", f"{a} NEAR/2 ({b} OR {c})",
    ])


def _sentence(rng: random.Random) -> str:
    words = rng.choices([*_WORDS, *_COMMON], k=rng.randint(3, 16))
    end = rng.choice([".", ".", "!", "?", "…", "", ". ”"])
    return " ".join(words).capitalize() + end


def _stories(rng: random.Random, count: int) -> list[Story]:
    out = []
    for i in range(count):
        paragraphs = ["  ".join(_sentence(rng) for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 9))]
        title = _sentence(rng)[:80] if rng.random() < 0.9 else ""
        out.append(Story(source="wire", url=f"https://news.example/{i}", title=title,
                         text=rng.choice(["\n\n", "\n", " "]).join(paragraphs)))
    return out


@pytest.fixture(scope="module")
def case() -> tuple[Matcher, list[Story], dict[str, Node]]:
    """The matcher, the stories, and the root of each rule's query by the rule's name."""
    rng = random.Random(1418)
    rules = [RuleSpec(f"r{i}", _query(rng)) for i in range(600)]
    return Matcher.compile(rules), _stories(rng, 40), {r.name: parse_query(r.query).root for r in rules}


def _walked(story: Story, rules: list[str], roots: dict[str, Node]) -> list[tuple[object, object]]:
    """The hits and snippets of each of ``rules``, matches of ``story``, from its query walked
    as a tree, one rule after another: the evidence without the matcher's plans and reports."""
    evaluation = Evaluation(StoryDoc(story))
    texts = {name: fd.text for name, fd in zip(FIELD_NAMES, evaluation.doc.fields, strict=True)}
    sentences = Sentences()
    out: list[tuple[object, object]] = []
    for rule in rules:
        hits = evaluation.hits(roots[rule])
        out.append((tuple(hits), make_snippets(texts, hits, 2, sentences)))
    return out


def test_batched_evidence_is_each_rules_walked_in_any_order(case: tuple[Matcher, list[Story], dict[str, Node]]) -> None:
    matcher, stories, roots = case
    rng = random.Random(7)
    read = twice = 0
    for story in stories:
        for _ in range(3):
            matches = matcher.match(story)
            if not matches:
                continue
            order = list(range(len(matches)))
            rng.shuffle(order)
            expected = _walked(story, [m.rule for m in matches], roots)
            # the batched reports, first read at a random match
            got = {k: (matches[k].hits, matches[k].snippets) for k in order}
            assert got == dict(enumerate(expected))
            read += len(matches)
            # occurrences reported under two labels (``kar*`` and ``karan``): the pass looks
            # their offsets and places up once per label
            labels: dict[tuple[str, int], set[str]] = {}
            for hits, _ in got.values():
                for hit in hits:
                    labels.setdefault((hit.field, hit.start), set()).add(hit.term)
            twice += sum(len(these) > 1 for these in labels.values())
    assert read > 1000
    assert twice > 10


def test_batched_evidence_matches_a_fresh_matchers_in_reverse(case: tuple[Matcher, list[Story], dict[str, Node]]) -> None:
    matcher, stories, _ = case
    for story in stories[:10]:
        forward = [(m.rule, m.hits, m.snippets) for m in matcher.match(story)]
        backward = [(m.rule, m.snippets, m.hits) for m in reversed(matcher.match(story))]
        assert forward == [(r, h, s) for r, s, h in reversed(backward)]


def test_char_spans_and_places_are_char_span_and_place_of_each(case: tuple[Matcher, list[Story], dict[str, Node]]) -> None:
    _, stories, _ = case
    rng = random.Random(11)
    checked = 0
    long_word = "x" * 400  # a chunk too long to cache: the field is cut by expression
    for n, story in enumerate(stories):
        if n % 4 == 0:
            text = f"{story.text} {long_word}{n} vel. Tak—lumot (U.S.) said."
            story = Story(source=story.source, url=story.url, title=story.title, text=text)
        doc = StoryDoc(story)
        snippets = StorySnippets({name: fd.text for name, fd in zip(FIELD_NAMES, doc.fields, strict=True)})
        for f, fd in enumerate(doc.fields):
            positions = len(fd.chunks) + (fd._irregular_ or fd._irregular()).shift[-1]
            if not positions:
                continue
            occs = []
            for _ in range(rng.randint(1, 30)):
                s = rng.randrange(positions)
                occs.append((f, s, min(positions - 1, s + rng.choice([0, 0, 0, 1, 2]))))
            occs = sorted(set(occs))
            # before and after ``char_span`` made its lists (which ``char_spans`` uses when made)
            spans = fd.char_spans(occs)
            assert spans == [fd.char_span(s, e) for _, s, e in occs]
            assert fd.char_spans(occs) == spans
            # an occurrence named twice (reported under two labels), from an iterator
            doubled = sorted(occs + rng.sample(occs, rng.randint(0, len(occs))))
            assert fd.char_spans(iter(doubled)) == [fd.char_span(s, e) for _, s, e in doubled]
            # the sentences ``make_snippets`` groups hits by
            name = FIELD_NAMES[f]
            sentences = Sentences()
            assert snippets.places(name, spans) == [
                (name, *sentence_of(fd.text, Hit("t", name, 0, a, b), sentences)) if fd.text else None for a, b in spans]
            assert snippets.places(name, [fd.char_span(s, e) for _, s, e in doubled]) == [
                snippets.places(name, [fd.char_span(s, e)])[0] for _, s, e in doubled]
            checked += len(occs)
    assert checked > 300
