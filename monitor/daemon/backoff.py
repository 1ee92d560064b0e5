"""When to try again: retry backoff and adaptive poll intervals.

Pure functions of their arguments (randomness comes from an injectable ``random.Random``),
so the scheduler's timing decisions are tested without waiting.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from monitor.errors import FetchError, HTTPStatusError

#: the default ceiling of retry backoff: a broken source is still tried every 6 hours
DEFAULT_CAP = 6 * 3600.0
#: a Retry-After longer than this is not believed (a hostile or buggy server could
#: otherwise silence a source for months)
RETRY_AFTER_CAP = 24 * 3600.0
#: how many recent stories the adaptive interval looks at
_RATE_WINDOW = 20
#: poll about this many times per expected new story, so a story waits ~1/(2·rate)
_POLLS_PER_STORY = 2.0

_rng = random.Random()


def backoff_delay(
    failures: int,
    *,
    base: float,
    cap: float = DEFAULT_CAP,
    jitter: float = 0.2,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after ``failures`` consecutive failures.

    ``base · 2^(failures-1)``, capped at ``cap``, then spread by ±``jitter`` (a fraction,
    e.g. 0.2 = ±20 %) so that many sources failing together do not retry in lockstep; the
    result never exceeds ``cap`` and is never negative. ``failures <= 0`` gives 0.
    ``rng`` makes the jitter reproducible in tests.
    """
    if failures <= 0 or base <= 0:
        return 0.0
    cap = max(cap, 0.0)
    # 2**60 already dwarfs any cap; avoids OverflowError for huge failure counts
    delay = min(cap, base * 2.0 ** min(failures - 1, 60))
    if jitter > 0:
        delay *= 1.0 + (rng or _rng).uniform(-jitter, jitter)
    return max(0.0, min(cap, delay))


def retry_delay_for(error: Exception, failures: int, interval: float) -> float:
    """Seconds until the next attempt after ``error`` (the ``failures``-th in a row).

    A 429 or 503 carrying Retry-After is honoured (at most 24 h). Otherwise exponential
    backoff from the source's ``interval``, capped at 6 h (or at ``interval`` when that is
    longer); errors that retrying will not fix (blocked address, 404, robots) back off as if
    two more failures had happened.
    """
    if isinstance(error, HTTPStatusError) and error.status in (429, 503) and error.retry_after is not None:
        return min(max(error.retry_after, 0.0), RETRY_AFTER_CAP)
    cap = max(DEFAULT_CAP, interval)
    transient = getattr(error, "transient", True) if isinstance(error, FetchError) else True
    extra = 0 if transient else 2
    return backoff_delay(max(failures, 1) + extra, base=interval, cap=cap)


def adaptive_interval(
    new_story_times: Sequence[float], *, minimum: float, maximum: float, now: float
) -> float:
    """The next poll interval from when new stories appeared (epoch seconds), clamped.

    The rate is estimated from the last 20 story times up to ``now``: ``n`` stories since
    the oldest of them. ``now`` is part of the span, so a source that has gone quiet slows
    down by itself. The interval is half the mean gap between stories, clamped to
    ``[minimum, maximum]`` (busy wires are polled at ``minimum``, sleepy blogs at
    ``maximum``). With no stories, ``maximum``. If ``maximum < minimum``, ``minimum`` wins.
    """
    maximum = max(maximum, minimum)
    recent = sorted(t for t in new_story_times if t <= now)[-_RATE_WINDOW:]
    if not recent:
        return maximum
    span = now - recent[0]
    if span <= 0:
        return minimum
    mean_gap = span / len(recent)
    return min(maximum, max(minimum, mean_gap / _POLLS_PER_STORY))
