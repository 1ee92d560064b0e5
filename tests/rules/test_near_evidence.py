"""The evidence of a NEAR of lone words found without its spans (``_with_neighbours``)
equals what ``_within`` finds in the spans ``_pairs`` makes, whenever the shortcut is
taken: words at different places, and few enough spans for ``_within`` to look at all of
them. Seeded random positions, dense and sparse, in one or two fields."""

from __future__ import annotations

import random

from monitor.rules.evaluate import _INSIDE_LOOKBACK, _pairs, _with_neighbours, _within


def _words(rng: random.Random, count: int, width: int) -> list[tuple[int, int, int]]:
    fields = (0, 1) if rng.random() < 0.3 else (1,)
    return sorted({(rng.choice(fields), p, p) for p in (rng.randrange(width) for _ in range(count))})


def test_words_with_neighbours_are_the_words_inside_the_spans() -> None:
    rng = random.Random(1416)
    taken = 0
    for _ in range(3000):
        width = rng.choice((10, 40, 200, 1000))
        left = _words(rng, rng.randint(0, 30), width)
        right = [occ for occ in _words(rng, rng.randint(0, 30), width) if occ not in left]
        n = rng.choice((0, 1, 3, 10, 30))
        near_left, pairs = _with_neighbours(left, right, n + 1)
        spans = _pairs(left, right, n)
        # every pair of words is a span of its own
        assert pairs == len(spans)
        if pairs > _INSIDE_LOOKBACK:
            continue
        taken += 1
        near_right, _ = _with_neighbours(right, left, n + 1)
        assert [occ for occ in left if occ in near_left] == _within(left, spans)
        assert [occ for occ in right if occ in near_right] == _within(right, spans)
    # the shortcut was taken often, and skipped sometimes
    assert 500 < taken < 3000
