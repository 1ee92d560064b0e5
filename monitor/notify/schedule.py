"""When messages may go out: digest schedules, quiet hours and the hourly throttle.

Pure functions of injected datetimes; nothing here reads the clock. All inputs and
outputs are aware UTC datetimes (or epoch seconds for :class:`Throttle`); wall-clock
rules are evaluated in the target's IANA time zone with :mod:`zoneinfo`.

Daylight-saving rules, chosen so that a user gets what the wall clock promised:

* a local time that does not exist on a spring-forward day (02:30 in Europe/Berlin on
  the last Sunday of March) happens at the moment the clock jumps past it (03:00 local);
* a local time that happens twice on a fall-back day happens at its first occurrence;
* so ``daily at HH:MM`` fires exactly once per local calendar day, and quiet hours are
  one continuous stretch per night;
* ``every N minutes/hours`` slots start at local midnight each day and are spaced in
  real elapsed time, so they never bunch up or vanish around a change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DIGEST_FORMS = '"every 30m", "every 2h", "hourly", "daily", "daily at 08:00"'
QUIET_FORMS = '"22:00-07:00" or "22:00-07:00 Europe/Berlin"'
DEFAULT_DAILY = time(8, 0)

_EVERY = re.compile(r"every\s+(\d+)\s*(m|min|mins|minute|minutes|h|hr|hrs|hour|hours)", re.IGNORECASE)
_DAILY = re.compile(r"daily(?:\s+at\s+(\d{1,2}):(\d{2}))?", re.IGNORECASE)
_QUIET = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})(?:\s+(\S+))?")


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware")
    return when.astimezone(UTC)


def wall_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The instant (aware UTC) at which the local clock in ``tz`` first shows ``at`` on ``day``.

    Existing and repeated times map to their (first) occurrence; a time skipped by a
    spring-forward change maps to the moment of the jump.
    """
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # in the gap: fold=0 uses the offset before the jump (lands after it), fold=1 the one
    # after (lands before it); the jump lies between, found by bisection to the second
    low = int(naive.replace(tzinfo=tz, fold=1).timestamp())
    high = int(first.timestamp()) + 1
    while high - low > 1:
        mid = (low + high) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
            high = mid
        else:
            low = mid
    return datetime.fromtimestamp(high, UTC)


# ---------------------------------------------------------------------------- digests


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """A digest schedule: every ``interval`` from local midnight, or daily at ``at`` local time."""

    spec: str
    interval: timedelta | None = None
    at: time | None = None

    def next_after(self, when: datetime, tz: ZoneInfo) -> datetime:
        """The next send time strictly after ``when`` (aware; returned as aware UTC) in zone ``tz``."""
        now = _utc(when)
        today = now.astimezone(tz).date()
        for offset in range(-1, 3):
            day = today + timedelta(days=offset)
            for slot in self._slots(day, tz):
                if slot > now:
                    return slot
        raise AssertionError("unreachable: a schedule has a slot within three days")  # pragma: no cover

    def _slots(self, day: date, tz: ZoneInfo) -> list[datetime]:
        if self.at is not None:
            return [wall_to_utc(day, self.at, tz)]
        assert self.interval is not None
        start = wall_to_utc(day, time(0, 0), tz)
        end = wall_to_utc(day + timedelta(days=1), time(0, 0), tz)
        slots = []
        slot = start
        while slot < end:
            slots.append(slot)
            slot += self.interval
        return slots


def parse_digest(spec: str) -> DigestSchedule:
    """Parse a digest schedule. Raises ValueError naming the allowed forms.

    Forms: ``every N m|min|minutes|h|hours`` (1 minute to 24 hours), ``hourly``,
    ``daily`` (08:00 local), ``daily at HH:MM``.
    """
    text = " ".join(str(spec).split()).strip()
    if text.lower() == "hourly":
        return DigestSchedule(spec=text, interval=timedelta(hours=1))
    every = _EVERY.fullmatch(text)
    if every:
        count = int(every.group(1))
        unit = timedelta(hours=1) if every.group(2).lower().startswith("h") else timedelta(minutes=1)
        interval = count * unit
        if not timedelta(minutes=1) <= interval <= timedelta(hours=24):
            raise ValueError(f"digest interval '{spec}' must be between 1 minute and 24 hours")
        return DigestSchedule(spec=text, interval=interval)
    daily = _DAILY.fullmatch(text)
    if daily:
        at = DEFAULT_DAILY if daily.group(1) is None else _clock_time(daily.group(1), daily.group(2), spec)
        return DigestSchedule(spec=text, at=at)
    raise ValueError(f"unknown digest schedule '{spec}'; allowed forms: {DIGEST_FORMS}")


def _clock_time(hour: str, minute: str, spec: str) -> time:
    h, m = int(hour), int(minute)
    if h > 23 or m > 59:
        raise ValueError(f"'{hour}:{minute}' in '{spec}' is not a time of day (00:00 to 23:59)")
    return time(h, m)


# ---------------------------------------------------------------------------- quiet hours


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A nightly (or daily) stretch of local time during which non-urgent alerts wait."""

    start: time
    end: time
    zone: ZoneInfo

    def _stretch(self, when: datetime) -> tuple[datetime, datetime] | None:
        now = _utc(when)
        today = now.astimezone(self.zone).date()
        for offset in (-1, 0):
            day = today + timedelta(days=offset)
            begin = wall_to_utc(day, self.start, self.zone)
            end_day = day if self.end > self.start else day + timedelta(days=1)
            finish = wall_to_utc(end_day, self.end, self.zone)
            if begin <= now < finish:
                return begin, finish
        return None

    def active(self, when: datetime) -> bool:
        """Whether ``when`` (aware) falls inside quiet hours (start inclusive, end exclusive)."""
        return self._stretch(when) is not None

    def ends_after(self, when: datetime) -> datetime:
        """When the quiet stretch containing ``when`` ends (aware UTC); ``when`` itself if not quiet."""
        stretch = self._stretch(when)
        return stretch[1] if stretch is not None else _utc(when)


def parse_quiet(spec: str, default_tz: str = "UTC") -> QuietHours:
    """Parse ``"HH:MM-HH:MM [Zone/Name]"``; without a zone, ``default_tz`` (the target's) applies.

    Raises ValueError for a malformed range, equal start and end, or an unknown zone.
    """
    text = " ".join(str(spec).split()).strip()
    found = _QUIET.fullmatch(text)
    if not found:
        raise ValueError(f"unknown quiet hours '{spec}'; expected {QUIET_FORMS}")
    start = _clock_time(found.group(1), found.group(2), spec)
    end = _clock_time(found.group(3), found.group(4), spec)
    if start == end:
        raise ValueError(f"quiet hours '{spec}' start and end at the same time")
    name = found.group(5) or default_tz
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone '{name}' in quiet hours '{spec}'{_zone_hint(name)}") from exc
    return QuietHours(start=start, end=end, zone=zone)


def _zone_hint(name: str) -> str:
    """A "did you mean" for a zone with a known city in the wrong region (Europe/Nairobi)."""
    city = name.rsplit("/", 1)[-1].lower()
    matches = sorted(z for z in available_timezones() if z.rsplit("/", 1)[-1].lower() == city and z != name)
    return f" (did you mean {' or '.join(matches[:3])}?)" if matches else ""


# ---------------------------------------------------------------------------- throttle


@dataclass(frozen=True, slots=True)
class ThrottleDecision:
    """``allowed``: send now. Otherwise fold what is due into one message sent at ``fold_at``."""

    allowed: bool
    fold_at: float | None = None


@dataclass(frozen=True, slots=True)
class Throttle:
    """At most ``max_per_hour`` messages in any sliding hour per destination."""

    max_per_hour: int
    window: float = 3600.0

    def recent(self, sent: list[float], now: float) -> list[float]:
        """The send times (epoch seconds) still inside the window at ``now``, oldest first."""
        return sorted(t for t in sent if now - self.window < t <= now)

    def decide(self, sent: list[float], now: float) -> ThrottleDecision:
        """Whether a message may go at ``now`` given earlier send times ``sent``.

        When not, ``fold_at`` is the first moment one more message fits: everything
        held until then goes out folded into a single digest/summary, so a flood costs
        one message, not a backlog that drains for hours.
        """
        if self.max_per_hour <= 0:
            raise ValueError("max_per_hour must be positive")
        recent = self.recent(sent, now)
        if len(recent) < self.max_per_hour:
            return ThrottleDecision(True)
        return ThrottleDecision(False, recent[-self.max_per_hour] + self.window)
