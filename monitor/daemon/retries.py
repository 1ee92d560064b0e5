"""What a failed send writes: when its rows go again, whether the destination backs off, when they are dead.

Pure (randomness comes from an injectable ``random.Random``), so every rule is a table test:

* a refusal (the service answered with an error) backs off exponentially from
  ``delivery.retry_base`` to ``delivery.retry_cap``, per destination;
* a 429 or 503 with ``Retry-After`` waits at least that long (at most :data:`RETRY_AFTER_CAP`),
  a 429 without it at least a minute, and blocks the whole destination;
* an unknown outcome (the request went out and no answer came: it may have arrived) is
  retried with the same key on a slower schedule (:func:`unknown_delay`) and never counts
  towards poison; after ``delivery.unknown_attempts`` of them the rows are dead (kept,
  listed, a health notice), so a service that takes messages and never answers gets a
  bounded number of copies;
* a message failing on its own while the destination works is poison after
  ``delivery.poison_attempts``; anything failing longer than ``delivery.dead_after`` is dead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from monitor.config import DeliverySettings
from monitor.daemon.backoff import backoff_delay
from monitor.notify.deliver import Outcome, SendResult
from monitor.store import repo
from monitor.store.facade import FailurePlan

#: a Retry-After longer than this is not believed: a buggy or hostile service could otherwise
#: hold every alert of a destination for days (one more try after an hour costs one request)
RETRY_AFTER_CAP = 3600.0
#: at least this long after a 429 that says nothing about when to come back
TOO_MANY_REQUESTS_WAIT = 60.0
#: the statuses by which a service says it is busy or down as a whole, not refusing one message
THROTTLED = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class FailedSend:
    """One failed send of a batch, as the failure policy (:func:`plan_failure`) sees it.

    ``individual``: the destination works while this message does not (it fails on its own,
    a poison message?); such a failure counts towards ``poison_attempts`` and does not hold
    the destination back. ``solo_failures`` is the rows' count of such failures after this
    one, and ``first_failed`` when the first of them first failed (``now`` for a first failure).
    ``unknown``: no answer came (the message may have arrived); ``unknowns`` is the rows'
    count of such sends after this one. ``retry_after``: the seconds a 429 or 503 asked for.
    """

    target: str
    error: str
    status: int | None
    now: float
    individual: bool
    solo_failures: int
    first_failed: float
    unknown: bool = False
    unknowns: int = 0
    retry_after: float | None = None

    @classmethod
    def of(
        cls,
        rows: list[repo.OutboxEntry],
        result: SendResult,
        now: float,
        individual: bool,
        retry_after: float | None = None,
    ) -> FailedSend:
        """The failure of sending ``rows`` (one batch, one destination) with ``result`` at ``now``.

        An unknown outcome never counts as a failure on its own (it is not a refusal).
        """
        unknown = result.outcome is Outcome.UNKNOWN
        solo = individual and not unknown
        return cls(
            target=rows[0].target,
            error=result.detail or result.outcome.value,
            status=result.status,
            now=now,
            individual=individual,
            solo_failures=max(r.solo_failures for r in rows) + (1 if solo else 0),
            first_failed=min((r.first_failed_at or now) for r in rows),
            unknown=unknown,
            unknowns=max(r.unknowns for r in rows) + (1 if unknown else 0),
            retry_after=retry_after,
        )

    def is_poison(self, settings: DeliverySettings) -> bool:
        """Whether the rows are set aside as poison: failed alone ``poison_attempts`` times."""
        return self.individual and not self.unknown and self.solo_failures >= settings.poison_attempts


def unknown_delay(unknowns: int, settings: DeliverySettings, rng: random.Random | None = None) -> float:
    """Seconds before the next send of a message whose ``unknowns``-th send had an unknown outcome.

    Slower than a refusal's backoff: from ``max(4 × retry_base, 2 × timeout)`` doubling up to
    ``max(retry_cap, that base)``, ±20 % jitter (a copy may have arrived; each retry may be one more).
    """
    base = max(4 * settings.retry_base, 2 * settings.timeout)
    return backoff_delay(max(unknowns, 1), base=base, cap=max(settings.retry_cap, base), rng=rng)


def _least_wait(failed: FailedSend, settings: DeliverySettings, rng: random.Random) -> float:
    """The least the answer asks to wait: the unknown-outcome schedule, or a throttled service's Retry-After."""
    if failed.unknown:
        return unknown_delay(failed.unknowns, settings, rng)
    if failed.status in THROTTLED and failed.retry_after is not None:
        return min(max(failed.retry_after, 0.0), RETRY_AFTER_CAP)
    if failed.status == 429:
        return TOO_MANY_REQUESTS_WAIT
    return 0.0


def _dead_reason(failed: FailedSend, settings: DeliverySettings) -> str | None:
    error = failed.error
    if failed.is_poison(settings):
        return f"poison: failed {failed.solo_failures} times while other messages went through: {error}"
    if failed.unknown and failed.unknowns >= settings.unknown_attempts:
        return (
            f"no answer to {failed.unknowns} sends (each may have arrived): check the service, "
            f"then `newsmonitor outbox retry ID` to send it once more: {error}"
        )
    if failed.now - failed.first_failed >= settings.dead_after:
        return f"failing for longer than dead_after: {error}"
    return None


def plan_failure(
    state: repo.DestinationState, failed: FailedSend, settings: DeliverySettings, rng: random.Random
) -> FailurePlan:
    """What to write after ``failed``, given the destination's ``state``: retry later with backoff;
    poison, too many unknown outcomes or too old → dead.

    The backoff grows with the destination's failures in a row or the rows' failures on
    their own, whichever is more, and is never shorter than what the answer asks for
    (:func:`_least_wait`: a Retry-After, the unknown-outcome schedule). An individual failure
    leaves the destination as it is; otherwise the destination counts one more failure and
    is blocked, with all its rows, until the backoff ends. Pure but for ``rng``, the jitter.
    """
    failures = state.failures + (0 if failed.individual else 1)
    delay = backoff_delay(
        max(failures, failed.solo_failures, 1), base=settings.retry_base, cap=settings.retry_cap, rng=rng
    )
    delay = max(delay, _least_wait(failed, settings, rng))
    now = failed.now
    destination = None
    if not failed.individual:
        destination = replace(
            state, target=failed.target, failures=failures, blocked_until=now + delay, last_error=failed.error[:300]
        )
    return FailurePlan(
        error=failed.error,
        retry_at=now + delay,
        solo=failed.individual and not failed.unknown,
        dead_reason=_dead_reason(failed, settings),
        destination=destination,
        unknown=failed.unknown,
    )
