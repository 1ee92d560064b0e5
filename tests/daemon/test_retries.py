"""The retry policy for what a send's answer asks: Retry-After, and the slower, bounded schedule of unknown outcomes."""

from __future__ import annotations

import random

import pytest

from monitor.config import DeliverySettings
from monitor.daemon.retries import RETRY_AFTER_CAP, FailedSend, plan_failure, unknown_delay
from monitor.notify.deliver import Outcome, SendResult
from monitor.store import repo
from tests.support.store import outbox_entry


class NoJitter(random.Random):
    """Backoff without its random spread, so a table states exact delays."""

    def uniform(self, a: float, b: float) -> float:
        return 0.0


POLICY = DeliverySettings(retry_base=30, retry_cap=3600, timeout=30, dead_after=86400, unknown_attempts=3)
NOW = 1_000_000.0


def failed(
    *,
    status: int | None = None,
    retry_after: float | None = None,
    unknown: bool = False,
    unknowns: int = 0,
    individual: bool = False,
    solo_failures: int = 0,
) -> FailedSend:
    return FailedSend(
        target="chat",
        error="the error",
        status=status,
        now=NOW,
        individual=individual,
        solo_failures=solo_failures,
        first_failed=NOW,
        unknown=unknown,
        unknowns=unknowns,
        retry_after=retry_after,
    )


@pytest.mark.parametrize(
    ("case", "send", "retry_in", "dead"),
    [
        ("a 429 asking for 300 s waits 300 s, not a minute", failed(status=429, retry_after=300), 300, None),
        ("a 503 asking for 120 s", failed(status=503, retry_after=120), 120, None),
        ("a Retry-After shorter than the backoff does not shorten it", failed(status=503, retry_after=5), 30, None),
        ("a Retry-After of a week is capped", failed(status=429, retry_after=7 * 86400), RETRY_AFTER_CAP, None),
        ("a 429 without Retry-After waits a minute", failed(status=429), 60, None),
        ("a 500's Retry-After is not a request to wait", failed(status=500, retry_after=900), 30, None),
        # unknown outcome: from max(4 x retry_base, 2 x timeout) = 120 s, doubling
        ("a first send with no answer", failed(unknown=True, unknowns=1), 120, None),
        ("a second send with no answer", failed(unknown=True, unknowns=2), 240, None),
        (
            "the third send with no answer is the last",
            failed(unknown=True, unknowns=3),
            480,
            "no answer to 3 sends (each may have arrived)",
        ),
        # an unknown outcome is not a refusal: it never makes a message poison
        ("no answer while others go through", failed(unknown=True, unknowns=1, individual=True, solo_failures=2), 120, None),
    ],
)
def test_what_the_answer_asks_for(case: str, send: FailedSend, retry_in: float, dead: str | None) -> None:
    state = repo.DestinationState(dest="d", target="chat")
    plan = plan_failure(state, send, POLICY, NoJitter())
    assert plan.retry_at == NOW + retry_in, case
    assert plan.unknown == send.unknown
    assert (plan.dead_reason or "").startswith(dead or ""), plan.dead_reason
    assert (plan.dead_reason is None) == (dead is None)
    if not send.individual:  # the whole destination waits: a throttled service asked it to
        assert plan.destination is not None and plan.destination.blocked_until == NOW + retry_in
    assert not plan.solo or not send.unknown


def test_unknown_outcomes_are_counted_and_never_poison() -> None:
    rows = [outbox_entry(id=1, unknowns=1, solo_failures=2), outbox_entry(id=2, unknowns=0)]
    send = FailedSend.of(rows, SendResult(Outcome.UNKNOWN, "no answer"), NOW, individual=True)
    assert (send.unknown, send.unknowns, send.solo_failures) == (True, 2, 2)
    assert not send.is_poison(DeliverySettings(poison_attempts=1))
    refused = FailedSend.of(rows, SendResult(Outcome.RETRY, "HTTP 429", 429), NOW, False, retry_after=300.0)
    assert (refused.unknown, refused.unknowns, refused.retry_after) == (False, 1, 300.0)


def test_the_unknown_schedule_is_slower_than_a_refusals_and_bounded() -> None:
    fast = DeliverySettings(retry_base=1, retry_cap=4, timeout=5)
    assert [unknown_delay(n, fast, NoJitter()) for n in (1, 2, 3)] == [10, 10, 10]  # 2 x timeout, capped by itself
    assert [unknown_delay(n, POLICY, NoJitter()) for n in (1, 2, 3, 10)] == [120, 240, 480, 3600]
