"""What ``newsmonitor outbox`` says about an alert: how often it was tried, why it waits, when it goes.

Pure: stored rows and destination states in, plain values out, so a table test covers every
reason. A ``sending`` row is claimed for a send until its lease ends (a daemon that stopped
in the middle of the send sends it once more, with its key, after that). A pending row waits
for the first of these that holds it:

* its destination is backing off (``destinations.blocked_until``) past the row's own time;
* nothing: it is due, and the running daemon sends it on its next round;
* its own retry after a failure (``next_attempt_at`` later than ``due_at``), on the slower
  schedule of an unknown outcome when a send of it may have arrived (``unknowns``);
* what its ``digest`` names (quiet hours, a digest schedule, the hourly throttle) until ``due_at``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from monitor.config import Config
from monitor.models import OutboxStatus
from monitor.store import repo
from monitor.store.payload import AlertPayload


class WaitReason(enum.StrEnum):
    """Why a pending alert has not gone out yet."""

    DUE = "due"
    SENDING = "sending"
    BACKOFF = "backing off"
    UNKNOWN = "no answer"
    QUIET = "quiet hours"
    DIGEST = "digest"
    THROTTLE = "throttled"
    #: a later write-up of an event already alerted, waiting for the event's follow-up
    FOLLOW_UP = "follow-up"


@dataclass(frozen=True, slots=True)
class Wait:
    """A pending row waits for ``reason`` until ``until`` (epoch seconds; at or before now: due now)."""

    reason: WaitReason
    until: float


def wait_of(row: repo.OutboxEntry, destination: repo.DestinationState | None, now: float) -> Wait | None:
    """Why ``row`` waits at ``now`` and until when, given its ``destination``'s stored state
    (None before the destination's first send); None when the row is neither pending nor sending."""
    if row.status is OutboxStatus.SENDING:
        return Wait(WaitReason.SENDING, row.lease_until if row.lease_until is not None else now)
    if row.status is not OutboxStatus.PENDING:
        return None
    due = row.next_attempt_at
    blocked = destination.blocked_until if destination is not None else None
    # the destination's backoff, when it outlasts the row's own time (the same time: the row's own retry)
    if blocked is not None and blocked > now and blocked > due:
        return Wait(WaitReason.BACKOFF, blocked)
    if due <= now:
        return Wait(WaitReason.DUE, due)
    if due > row.due_at:
        return Wait(WaitReason.UNKNOWN if row.unknowns else WaitReason.BACKOFF, due)
    if row.digest == "quiet":
        return Wait(WaitReason.QUIET, due)
    if row.digest == "throttle":
        return Wait(WaitReason.THROTTLE, due)
    if row.event is not None and not row.digest:
        return Wait(WaitReason.FOLLOW_UP, due)
    return Wait(WaitReason.DIGEST if row.digest else WaitReason.DUE, due)


def describe(wait: Wait | None, now: float, zone: ZoneInfo) -> str:
    """``wait`` in words, its time as the local clock of ``zone`` shows it: ``quiet hours until 07:00``,
    ``digest at 08:00``, ``throttled (max_per_hour) until 11:00``, ``backing off until 10:32``,
    ``no answer, again at 10:40`` (it may have arrived), ``follow-up of its event at 12:00``,
    ``sending, claimed until 10:31``, ``due now``."""
    if wait is None:
        return "-"
    at = datetime.fromtimestamp(wait.until, UTC).astimezone(zone).strftime("%H:%M")
    match wait.reason:
        case WaitReason.DUE:
            return "due now" if wait.until <= now else f"due at {at}"
        case WaitReason.DIGEST:
            return f"digest at {at}"
        case WaitReason.FOLLOW_UP:
            return f"follow-up of its event at {at}"
        case WaitReason.THROTTLE:
            return f"throttled (max_per_hour) until {at}"
        case WaitReason.UNKNOWN:
            return f"no answer, again at {at}"
        case WaitReason.SENDING:
            return f"sending, claimed until {at}"
        case _:
            return f"{wait.reason} until {at}"


def local_time(ts: float | None, zone: ZoneInfo) -> str:
    """``ts`` (epoch seconds) on the local clock of ``zone``, with the zone's abbreviation; ``-`` for None."""
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True, slots=True)
class Zones:
    """The time zone each notifier's alerts are shown in: its own, else the configuration's."""

    default: ZoneInfo
    by_target: Mapping[str, ZoneInfo]

    @classmethod
    def of(cls, config: Config) -> Zones:
        """The zones of ``config``'s notifiers."""
        default = config.settings.timezone
        return cls(
            ZoneInfo(default),
            {name: ZoneInfo(n.timezone or default) for name, n in config.settings.notifiers.items()},
        )

    def of_target(self, target: str) -> ZoneInfo:
        """The zone of notifier ``target``; one no longer configured has the configuration's."""
        return self.by_target.get(target, self.default)


def headline(row: repo.OutboxEntry) -> str:
    """What the row's message is about, as stored (untrusted): a story's title, or a notice's note."""
    payload = row.payload
    if isinstance(payload, AlertPayload):
        return payload.title
    return payload.note
