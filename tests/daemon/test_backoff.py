"""Retry backoff and adaptive poll intervals (pure functions)."""

from __future__ import annotations

import random

import pytest

from monitor.daemon.backoff import DEFAULT_CAP, adaptive_interval, backoff_delay, retry_delay_for
from monitor.errors import BlockedURL, FetchTimeout, HTTPStatusError


def test_backoff_doubles_without_jitter() -> None:
    assert [backoff_delay(n, base=30, jitter=0) for n in range(0, 6)] == [0, 30, 60, 120, 240, 480]


def test_backoff_is_capped_even_for_huge_failure_counts() -> None:
    assert backoff_delay(10_000, base=30, jitter=0) == DEFAULT_CAP
    assert backoff_delay(10_000, base=30, cap=3600, jitter=0.2, rng=random.Random(1)) <= 3600


def test_backoff_jitter_stays_within_bounds_and_is_reproducible() -> None:
    values = [backoff_delay(3, base=100, jitter=0.2, rng=random.Random(seed)) for seed in range(200)]
    assert all(320 <= v <= 480 for v in values)
    assert len(set(values)) > 100  # actually spread out
    assert backoff_delay(3, base=100, rng=random.Random(7)) == backoff_delay(
        3, base=100, rng=random.Random(7)
    )


def test_retry_after_honoured_for_429_and_503() -> None:
    assert retry_delay_for(HTTPStatusError("x", 429, 120.0), 1, 300) == 120.0
    assert retry_delay_for(HTTPStatusError("x", 503, 7200.0), 5, 300) == 7200.0
    assert retry_delay_for(HTTPStatusError("x", 429, 10 * 86400.0), 1, 300) == 86400.0  # capped at a day


def test_retry_without_retry_after_backs_off_from_interval() -> None:
    delays = [retry_delay_for(FetchTimeout("t"), n, 300) for n in range(1, 10)]
    assert 240 <= delays[0] <= 360
    assert delays[-1] <= DEFAULT_CAP
    assert delays[5] > delays[0]
    assert retry_delay_for(HTTPStatusError("x", 500), 1, 300) <= 360
    assert retry_delay_for(HTTPStatusError("x", 404), 1, 300) >= 960  # permanent: two steps further


def test_permanent_errors_back_off_longer() -> None:
    transient = retry_delay_for(FetchTimeout("t"), 2, 60)
    permanent = retry_delay_for(BlockedURL("b"), 2, 60)
    assert permanent > transient


def test_long_intervals_are_not_cut_by_the_cap() -> None:
    assert retry_delay_for(FetchTimeout("t"), 1, 86400) >= 86400 * 0.8


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([], 3600.0),  # nothing seen yet: poll rarely
        ([1000.0 - 60 * i for i in range(20)], 60.0),  # a story a minute: as often as allowed
        ([1000.0 - 86400 * 7], 3600.0),  # one story a week ago
        ([1000.0 - 1200 * i for i in range(1, 21)], 600.0),  # every 20 min → every 10 min
    ],
)
def test_adaptive_interval(times: list[float], expected: float) -> None:
    assert adaptive_interval(times, minimum=60, maximum=3600, now=1000.0) == pytest.approx(expected)


def test_adaptive_interval_slows_when_source_goes_quiet() -> None:
    times = [10_000.0 - 300 * i for i in range(20)]
    busy = adaptive_interval(times, minimum=60, maximum=86400, now=10_000.0)
    quiet = adaptive_interval(times, minimum=60, maximum=86400, now=10_000.0 + 86400)
    assert busy < quiet


def test_adaptive_interval_ignores_future_and_handles_bad_bounds() -> None:
    assert adaptive_interval([5000.0], minimum=60, maximum=3600, now=1000.0) == 3600.0
    assert adaptive_interval([999.0], minimum=600, maximum=60, now=1000.0) == 600.0
