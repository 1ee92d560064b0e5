"""A match's evidence (hits, snippets) is built when first read, and is what it would have
been if built at once: in any order, after other stories were matched, from another thread,
and through pickling or copying."""

from __future__ import annotations

import copy
import gc
import pickle
import random
import threading

import pytest

from monitor.models import Hit, Match, Snippet, Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules.reports import StoryReports

_WORDS = [f"{a}{b}" for a in ("kar", "lum", "dev", "sor", "pim", "tak") for b in ("an", "ot", "ible", "ust", "ery")]
_COMMON = ["the", "of", "and", "said", "minister", "ministers", "talks", "defence"]


def _query(rng: random.Random) -> str:
    a, b, c = rng.sample(_WORDS, 3)
    d = rng.choice(_COMMON)
    return rng.choice([
        a, f"{a} {d}", f'"{a} {b}"', f"{a} NEAR/3 {b}", f"{a[:4]}*", f"title:{a}", f"{a} -{b}",
        f"({a} OR {b}) {c}", f'"{a} {b}" NEAR/5 ({c} OR {b[:4]}*)', f"{d} AND NOT ({b} OR {c})",
        f"{d} {a}", f'"{d} {a}"', d,
    ])


def _stories(rng: random.Random, count: int) -> list[Story]:
    def sentence() -> str:
        return " ".join(rng.choices([*_WORDS, *_COMMON], k=rng.randint(4, 14))).capitalize() + "."

    return [Story(source="wire", url=f"https://news.example/{i}", title=sentence()[:-1],
                  text="\n\n".join(" ".join(sentence() for _ in range(rng.randint(1, 5))) for _ in range(8)))
            for i in range(count)]


def _evidence(matches: list[Match]) -> list[tuple[str, tuple[Hit, ...], tuple[Snippet, ...]]]:
    return [(m.rule, m.hits, m.snippets) for m in matches]


@pytest.fixture(scope="module")
def case() -> tuple[list[RuleSpec], list[Story]]:
    rng = random.Random(1402)
    rules = [RuleSpec(f"r{i}", _query(rng)) for i in range(400)]
    return rules, _stories(rng, 20)


def test_evidence_read_late_and_out_of_order_is_what_it_is_at_once(case: tuple[list[RuleSpec], list[Story]]) -> None:
    rules, stories = case
    at_once = [_evidence(Matcher.compile(rules).match(s)) for s in stories]
    assert sum(len(m) for m in at_once) > 100  # the case has matches, many sharing words
    assert any(hits for story in at_once for _, hits, _ in story)
    matcher = Matcher.compile(rules)
    decided = [matcher.match(s) for s in stories]  # every story decided before any evidence is read
    late: list[list[tuple[str, tuple[Hit, ...], tuple[Snippet, ...]]]] = [[] for _ in stories]
    for i in reversed(range(len(stories))):
        # snippets before hits, last match first
        for m in reversed(decided[i]):
            late[i].insert(0, (m.rule, (m.snippets, m.hits)[1], m.snippets))
    assert late == at_once


def test_a_match_read_from_two_threads_gives_the_same_evidence(case: tuple[list[RuleSpec], list[Story]]) -> None:
    rules, stories = case
    expected = [_evidence(Matcher.compile(rules).match(s)) for s in stories]
    matcher = Matcher.compile(rules)
    decided = [matcher.match(s) for s in stories]
    seen: dict[int, list[object]] = {0: [], 1: []}
    barrier = threading.Barrier(2)

    def read(n: int) -> None:
        barrier.wait()
        order = decided if n == 0 else decided[::-1]
        seen[n] = [_evidence(ms) for ms in order]

    threads = [threading.Thread(target=read, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen[0] == expected
    assert seen[1] == expected[::-1]


def test_a_lazy_match_equals_hashes_and_pickles_as_its_values(case: tuple[list[RuleSpec], list[Story]]) -> None:
    rules, stories = case
    matcher = Matcher.compile(rules)
    story = max(stories, key=lambda s: len(matcher.match(s)))
    lazy = matcher.match(story)
    eager = [Match(m.rule, m.hits, m.snippets) for m in matcher.match(story)]
    assert lazy == eager
    assert [hash(m) for m in matcher.match(story)] == [hash(m) for m in eager]
    assert repr(matcher.match(story)[0]) == repr(eager[0]) and repr(eager[0]).startswith("Match(rule=")
    # pickled and copied with the evidence, not the story's evaluation
    fresh = matcher.match(story)
    blob = pickle.dumps(fresh)
    assert pickle.loads(blob) == eager
    assert len(blob) < 50 * len(pickle.dumps(eager))
    assert b"Evaluation" not in blob and b"_Reports" not in blob
    assert copy.deepcopy(matcher.match(story)) == eager
    assert copy.copy(matcher.match(story)[0]) == eager[0]
    assert lazy[0] != Match(lazy[0].rule)
    assert (lazy[0] == "not a match") is False


def test_a_match_cannot_be_changed() -> None:
    match = Match("r", (), (Snippet("a b", ((0, 1),)),))
    with pytest.raises(AttributeError, match="immutable"):
        match.rule = "s"
    with pytest.raises(AttributeError, match="immutable"):
        del match.topic
    assert match.snippets[0].text == "a b" and match.hits == () and match.topic is None


def _live_reports() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is StoryReports)


def test_evidence_shared_between_a_storys_matches_is_each_matchs_own(case: tuple[list[RuleSpec], list[Story]]) -> None:
    """A match read alone (its story's only report built) has the evidence it has when every
    match of the story is read, sharing hits, marks, sentences, snippets and reports."""
    rules, stories = case
    matcher = Matcher.compile(rules)
    shared_rules = 0
    for story in stories[:3]:
        together = _evidence(matcher.match(story))
        alone = [_evidence([matcher.match(story)[i]])[0] for i in range(len(together))]
        assert alone == together
        # rules sharing evidence share its report: the same objects, built once
        reports = [(m.hits, m.snippets) for m in matcher.match(story)]
        shared_rules += len(reports) - len({id(r[0]) for r in reports})
    assert shared_rules > 20


def test_a_storys_reports_are_let_go_when_its_last_match_is_read(case: tuple[list[RuleSpec], list[Story]]) -> None:
    """The per-story memos (hits, marks, snippets, reports) live only as long as a match of
    the story is unread: the matcher keeps none, and they hold no reference cycle (freed
    with the collector off)."""
    rules, stories = case
    matcher = Matcher.compile(rules)
    story = max(stories, key=lambda s: len(matcher.match(s)))
    enabled = gc.isenabled()
    gc.disable()
    try:
        before = _live_reports()
        matches = matcher.match(story)
        assert len(matches) > 10 and _live_reports() == before + 1
        for m in matches[:-1]:
            assert m.snippets
        assert _live_reports() == before + 1  # the last match still needs them
        assert matches[-1].hits
        assert _live_reports() == before
        dropped = matcher.match(story)
        assert _live_reports() == before + 1
        del dropped  # never read
        assert _live_reports() == before
    finally:
        if enabled:
            gc.enable()
