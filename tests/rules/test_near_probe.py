"""A NEAR of terms or ORs of terms decided through its plan (``Evaluation._near_holds``: the
terms there, pairs of their occurrences, and lone words first looked for around the other
side's occurrences) equals the NEAR walked as a tree (every span made), on seeded random
stories of repeated words, compounds, possessives, wordless chunks and punctuation."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest

from monitor.models import Story
from monitor.rules import parse_query
from monitor.rules import evaluate as evaluate_module
from monitor.rules.document import StoryDoc
from monitor.rules.evaluate import Evaluation, plan_of

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


@pytest.fixture
def probes() -> Iterator[Counter[bool]]:
    """How often ``_none_near`` answered True (the NEAR failed without finding its words)
    and False, so that a test can show it took both ways."""
    seen: Counter[bool] = Counter()
    probe = Evaluation._none_near

    def counted(self: Evaluation, *args: object) -> bool:
        found = probe(self, *args)  # type: ignore[arg-type]
        seen[found] += 1
        return found

    evaluate_module.Evaluation._none_near = counted  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        evaluate_module.Evaluation._none_near = probe  # type: ignore[method-assign]


def test_near_through_its_plan_equals_the_near_walked(probes: Counter[bool]) -> None:
    rng = random.Random(1415)
    held = Counter[bool]()
    for _ in range(150):
        story = _story(rng)
        roots = [parse_query(_query(rng)).root for _ in range(12)]
        # one evaluation for every query: the memo is shared, as across a story's rules
        planned, walked = Evaluation(StoryDoc(story)), Evaluation(StoryDoc(story))
        for root in roots:
            expected = walked.truth(root)
            assert planned.holds(plan_of(root)) == expected, (story, root)
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
                assert Evaluation(StoryDoc(story)).holds(plan_of(root)) == walked, (text, query)
                if filler == "x":
                    assert walked == (count <= distance), (text, query)
    assert probes[True] > 0 and probes[False] > 0


def test_chunks_around_are_the_chunks_holding_those_positions() -> None:
    rng = random.Random(14)
    for _ in range(200):
        field = StoryDoc(_story(rng)).fields[1]
        chunks = field.chunks
        if not chunks:
            continue
        # the positions of each chunk: first_position(i) up to the next chunk's
        starts = [field.first_position(i) for i in range(len(chunks))]
        ends = [*starts[1:], field.first_position(len(chunks) - 1) + len(field.cache.chunks[chunks[-1]].parts)]
        for _ in range(5):
            first = rng.randint(-5, ends[-1] + 5)
            last = first + rng.randint(0, 12)
            holding = [i for i in range(len(chunks)) if starts[i] <= last and ends[i] > first and ends[i] > starts[i]]
            expected = chunks[holding[0]:holding[-1] + 1] if holding else []
            assert field.chunks_around(first, last) == expected, (chunks, first, last)
