"""Plans (``evaluate.PlanTable``) against the query walked as a tree: a NEAR of terms or ORs
of terms decided through its plan (``Evaluation._near_holds``: the terms there, pairs of
their occurrences, and lone words first looked for around the other side's occurrences),
and NOTs checked first, on seeded random stories of repeated words, compounds,
possessives, wordless chunks and punctuation."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from monitor.models import Story
from monitor.rules import parse_query
from monitor.rules.ast import Term
from monitor.rules.document import StoryDoc
from monitor.rules.evaluate import _PROBE_WORDS, MAX_HITS, Evaluation, Occ, PlanTable
from monitor.rules.text import PARTS

#: words of the stories and of the queries: inflections, a compound, a possessive, a word
#: with punctuation, wordless chunks, a number
_STORY_WORDS = [
    "report", "reports", "reported", "market", "markets", "Tesla", "Tesla's", "Musk", "semi-conductor",
    "conductor", "semi", "deal,", "(deal", "deal", "probe.", "probe", "New", "York", "—", "|", "...", "2024",
    "the", "a", "of", "said", "e-mail", "mail",
]
_QUERY_WORDS = ["report", "market", "tesla", "musk", "conductor", "semi", "deal", "probe", "mail", "2024",
                '"new york"', '"tesla musk"', '"semi conductor"', "title:deal", "title:tesla", "title:\"new york\""]


def _side(rng: random.Random) -> str:
    words = rng.sample(_QUERY_WORDS, rng.choice((1, 1, 2, 3)))
    return words[0] if len(words) == 1 else "(" + " OR ".join(words) + ")"


def _query(rng: random.Random) -> str:
    near = f"{_side(rng)} NEAR/{rng.choice((0, 1, 2, 3, 5, 10))} {_side(rng)}"
    return near if rng.random() < 0.7 else f"{rng.choice(_QUERY_WORDS)} AND {near}"


def _story(rng: random.Random) -> Story:
    def words(count: int) -> str:
        return " ".join(rng.choice(_STORY_WORDS) for _ in range(count))
    return Story(source="s", url="", title=words(rng.randint(0, 8)), text=words(rng.randint(0, 120)))


def _evaluations(story: Story) -> tuple[PlanTable, Evaluation, Evaluation]:
    """A plan table, an evaluation of ``story`` for its plans, and one for queries walked as
    trees: one each for all of a story's queries, whose memo they share as a story's rules do."""
    table = PlanTable()
    return table, Evaluation(StoryDoc(story), table), Evaluation(StoryDoc(story))


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> Counter[bool]:
    """How often ``_none_near`` answered True (the NEAR failed without finding its words)
    and False, so that a test can show it took both ways."""
    seen: Counter[bool] = Counter()
    probe = Evaluation._none_near

    def counted(self: Evaluation, *args: Any) -> bool:
        found = probe(self, *args)
        seen[found] += 1
        return found

    monkeypatch.setattr(Evaluation, "_none_near", counted)
    return seen


def test_near_through_its_plan_equals_the_near_walked(probes: Counter[bool]) -> None:
    rng = random.Random(1415)
    held = Counter[bool]()
    for _ in range(150):
        story = _story(rng)
        roots = [parse_query(_query(rng)).root for _ in range(12)]
        # one evaluation for every query: the memo is shared, as across a story's rules
        table, planned, walked = _evaluations(story)
        for root in roots:
            expected = walked.truth(root)
            assert planned.holds(table.plan(root)) == expected, (story, root)
            held[expected] += 1
    assert held[True] > 50 and held[False] > 50
    # the probe ruled NEARs out, and let others through to be decided exactly
    assert probes[True] > 50 and probes[False] > 20


@pytest.mark.parametrize("distance", [0, 1, 4])
def test_near_at_the_edge_of_its_distance(distance: int, probes: Counter[bool]) -> None:
    """Words exactly ``distance`` words apart are near, one more apart are not, whatever is
    between them: plain words, compounds (a position per part) or dashes (none)."""
    for filler in ("x", "semi-conductor", "—", "Tesla's"):
        for count in range(distance + 3):
            text = "the Tesla " + " ".join([filler] * count) + " report of"
            story = Story(source="s", url="", title="", text=text)
            for query in (f"tesla NEAR/{distance} report", f"(musk OR tesla) NEAR/{distance} (deal OR report)",
                          f'"the tesla" NEAR/{distance} (report OR probe)', f"report NEAR/{distance} tesla"):
                root = parse_query(query).root
                walked = Evaluation(StoryDoc(story)).truth(root)
                table = PlanTable()
                assert Evaluation(StoryDoc(story), table).holds(table.plan(root)) == walked, (text, query)
                if filler == "x":
                    assert walked == (count <= distance), (text, query)
    assert probes[True] > 0 and probes[False] > 0


def _probed_one_at_a_time(evaluation: Evaluation, occurrences: list[list[Occ]],
                          wanted: list[tuple[tuple[int, ...], tuple[str, ...]]], n: int) -> bool:
    """``Evaluation._none_near`` as it was first written: the chunks around each occurrence
    on their own, made anew for every call."""
    if sum(map(len, occurrences)) * (2 * n + 3) > _PROBE_WORDS:
        return False
    doc = evaluation.doc
    for occs in occurrences:
        for f, s, e in occs:
            field, feats = doc.fields[f], doc.field_feats[f]
            around = set(field.chunks_around(s - n - 1, e + n + 1))
            for fields, keys in wanted:
                if f in fields and any(k in feats and not around.isdisjoint(field.cache.rev.get(k, ())) for k in keys):
                    return False
    return True


def test_probe_of_the_chunks_around_a_side_equals_it_occurrence_by_occurrence() -> None:
    """``_none_near`` looks at the union of the chunks around a side's occurrences, a field at
    a time, kept for the story by occurrence list and reach (``_around``): asked again, with
    other words and other distances, in any order, it answers as the probe of each
    occurrence on its own."""
    rng = random.Random(1418)
    words = ["report", "market", "tesla", "musk", "conductor", "semi", "deal", "probe", "mail", "2024",
             "title:deal", "title:tesla", "(deal OR probe)", "(market OR musk OR mail)"]
    sides = [*words, '"new york"', '"tesla musk"', '"semi conductor"', "title:\"new york\""]
    answers = Counter[bool]()
    for _ in range(150):
        evaluation = Evaluation(StoryDoc(_story(rng)))
        for _ in range(20):
            terms = [t for q in rng.sample(sides, rng.choice((1, 2))) for t in _terms(parse_query(q).root)]
            lone = [t for q in rng.sample(words, rng.choice((1, 2))) for t in _terms(parse_query(q).root)]
            occurrences = [occs for occs in map(evaluation.term_occ, terms) if occs]
            wanted = [lookup for lookup in map(evaluation._lookup_of, lone) if lookup is not None]
            if not occurrences or not wanted:
                continue
            n = rng.choice((0, 1, 2, 3, 5, 10))
            expected = _probed_one_at_a_time(evaluation, occurrences, wanted, n)
            assert evaluation._none_near(occurrences, wanted, n) == expected, (occurrences, wanted, n)
            answers[expected] += 1
    assert answers[True] > 100 and answers[False] > 100


def _terms(root: Any) -> list[Term]:
    """The terms of ``root``, a term or an OR of terms."""
    return [root] if isinstance(root, Term) else list(root.children)


def test_chunks_around_are_the_chunks_holding_those_positions() -> None:
    rng = random.Random(14)
    for _ in range(200):
        field = StoryDoc(_story(rng)).fields[1]
        chunks = field.chunks
        if not chunks:
            continue
        # the positions of each chunk: first_position(i) up to the next chunk's
        starts = [field.first_position(i) for i in range(len(chunks))]
        ends = [*starts[1:], field.first_position(len(chunks) - 1) + len(field.cache.chunks[chunks[-1]][PARTS])]
        for _ in range(5):
            first = rng.randint(-5, ends[-1] + 5)
            last = first + rng.randint(0, 12)
            holding = [i for i in range(len(chunks)) if starts[i] <= last and ends[i] > first and ends[i] > starts[i]]
            expected = chunks[holding[0]:holding[-1] + 1] if holding else []
            assert field.chunks_around(first, last) == expected, (chunks, first, last)


def test_plans_with_nots_first_keep_truth_and_evidence() -> None:
    """A plan checks the NOTs of lone words first and a NOT of an OR of terms by memo
    lookups: whether it holds, and its evidence, are those of the query walked as a tree."""
    rng = random.Random(1416)
    held = Counter[bool]()
    for _ in range(150):
        story = _story(rng)
        table, planned, walked = _evaluations(story)
        for _ in range(12):
            a, b, c, d = (rng.choice(_QUERY_WORDS) for _ in range(4))
            query = rng.choice((f"{a} -{b}", f"{a} {b} NOT ({c} OR {d})", f"{a} -{b} {_query(rng)}",
                                f"({a} OR {b}) NOT {c} NOT {d}", f"{_side(rng)} -{c} -({d} OR {a})"))
            root = parse_query(query).root
            plan = table.plan(root)
            expected = walked.truth(root)
            assert planned.holds(plan) == expected, (story, query)
            if expected:
                assert planned.evidence_of(plan) == walked.evidence(root), (story, query)
            held[expected] += 1
    assert held[True] > 50 and held[False] > 50


def test_evidence_made_for_one_match_is_not_given_as_kept() -> None:
    """``shared_evidence_of`` says which evidence an evaluation keeps (a term's, met again by
    identity by every rule of that term alone) and which it made for the call (merged from
    several terms, or cut from a NEAR's): the latter is never the object a later call
    returns. The evidence is ``evidence_of``'s either way."""
    rng = random.Random(1417)
    kinds = Counter[bool]()
    for _ in range(60):
        story = _story(rng)
        table, planned, walked = _evaluations(story)
        for _ in range(12):
            a, b = rng.sample(_QUERY_WORDS, 2)
            root = parse_query(rng.choice((a, f"{a} {b}", f"{a} NEAR/3 {b}", _query(rng)))).root
            plan = table.plan(root)
            if not planned.holds(plan):
                continue
            evidence, kept = planned.shared_evidence_of(plan)
            assert evidence == walked.evidence(root), (story, root)
            again, _ = planned.shared_evidence_of(plan)
            assert again == evidence
            if not kept:
                assert again is not evidence, (story, root)
            if type(root) is Term and len(evidence) <= MAX_HITS:
                assert kept and again is evidence, (story, root)
            kinds[kept] += 1
    assert kinds[True] > 30 and kinds[False] > 30
