"""Why an alert waits, as ``newsmonitor outbox`` says it: one line per case."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.daemon.outbox import Wait, WaitReason, describe, local_time, wait_of
from monitor.models import OutboxStatus
from monitor.store import repo
from monitor.store.payload import AlertPayload
from tests.support.store import outbox_entry

NOW = datetime(2026, 3, 2, 21, 0, tzinfo=UTC).timestamp()  # 00:00 in Nairobi (UTC+3)
HOUR = 3600.0
NAIROBI = ZoneInfo("Africa/Nairobi")


def row(
    *,
    status: OutboxStatus = OutboxStatus.PENDING,
    digest: str | None = None,
    due: float = NOW,
    next_attempt: float | None = None,
    unknowns: int = 0,
    lease_until: float | None = None,
    event: int | None = None,
) -> repo.OutboxEntry:
    return outbox_entry(
        event=event,
        status=status,
        unknowns=unknowns,
        lease_until=lease_until,
        digest=digest,
        payload=AlertPayload(title="t"),
        created_at=NOW - HOUR,
        due_at=due,
        next_attempt_at=due if next_attempt is None else next_attempt,
    )


def blocked(until: float | None) -> repo.DestinationState:
    return repo.DestinationState(dest="d", target="chat", failures=2, blocked_until=until)


@pytest.mark.parametrize(
    ("case", "entry", "destination", "wait", "said"),
    [
        ("due, never sent to", row(), None, Wait(WaitReason.DUE, NOW), "due now"),
        ("due, the destination fine", row(due=NOW - 60), blocked(None), Wait(WaitReason.DUE, NOW - 60), "due now"),
        ("a backoff that has ended", row(), blocked(NOW - 1), Wait(WaitReason.DUE, NOW), "due now"),
        (
            "the destination backs off",
            row(next_attempt=NOW + 90),
            blocked(NOW + 90),
            Wait(WaitReason.BACKOFF, NOW + 90),
            "backing off until 00:01",
        ),
        (
            "its own retry after a failure",
            row(due=NOW - HOUR, next_attempt=NOW + 120),
            None,
            Wait(WaitReason.BACKOFF, NOW + 120),
            "backing off until 00:02",
        ),
        (
            "quiet hours",
            row(digest="quiet", due=NOW + 7 * HOUR),
            None,
            Wait(WaitReason.QUIET, NOW + 7 * HOUR),
            "quiet hours until 07:00",
        ),
        (
            "quiet hours outlast a short backoff",
            row(digest="quiet", due=NOW + 7 * HOUR),
            blocked(NOW + 60),
            Wait(WaitReason.QUIET, NOW + 7 * HOUR),
            "quiet hours until 07:00",
        ),
        (
            "a digest schedule",
            row(digest="daily at 08:00", due=NOW + 8 * HOUR),
            None,
            Wait(WaitReason.DIGEST, NOW + 8 * HOUR),
            "digest at 08:00",
        ),
        (
            "a later write-up of an event",
            row(event=7, due=NOW + 2 * HOUR),
            None,
            Wait(WaitReason.FOLLOW_UP, NOW + 2 * HOUR),
            "follow-up of its event at 02:00",
        ),
        (
            "the hourly throttle",
            row(digest="throttle", due=NOW + 1800),
            None,
            Wait(WaitReason.THROTTLE, NOW + 1800),
            "throttled (max_per_hour) until 00:30",
        ),
        (
            "a failed digest retries",
            row(digest="hourly", due=NOW - 60, next_attempt=NOW + 30),
            None,
            Wait(WaitReason.BACKOFF, NOW + 30),
            "backing off until 00:00",
        ),
        ("a digest now due", row(digest="hourly", due=NOW - 60), None, Wait(WaitReason.DUE, NOW - 60), "due now"),
        (
            "a send of it had no answer (it may have arrived)",
            row(due=NOW - HOUR, next_attempt=NOW + 600, unknowns=1),
            None,
            Wait(WaitReason.UNKNOWN, NOW + 600),
            "no answer, again at 00:10",
        ),
        (
            "claimed for a send in flight",
            row(status=OutboxStatus.SENDING, lease_until=NOW + 37),
            blocked(NOW + 600),
            Wait(WaitReason.SENDING, NOW + 37),
            "sending, claimed until 00:00",
        ),
        ("dead", row(status=OutboxStatus.DEAD), None, None, "-"),
        ("cancelled", row(status=OutboxStatus.CANCELLED), blocked(NOW + 60), None, "-"),
    ],
)
def test_why_an_alert_waits(
    case: str, entry: repo.OutboxEntry, destination: repo.DestinationState | None, wait: Wait | None, said: str
) -> None:
    assert wait_of(entry, destination, NOW) == wait
    assert describe(wait, NOW, NAIROBI) == said


def test_times_are_shown_on_the_notifier_clock() -> None:
    assert local_time(NOW, NAIROBI) == "2026-03-03 00:00 EAT"
    assert local_time(NOW, ZoneInfo("UTC")) == "2026-03-02 21:00 UTC"
    assert local_time(None, NAIROBI) == "-"
