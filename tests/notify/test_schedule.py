"""Digest schedules, quiet hours and the throttle on injected datetimes, across DST changes."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.notify.schedule import Throttle, parse_digest, parse_quiet, wall_to_utc

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# 2026 changes: Europe 29 Mar (02:00 -> 03:00) and 25 Oct (03:00 -> 02:00);
# US 8 Mar (02:00 -> 03:00) and 1 Nov (02:00 -> 01:00)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def run(spec: str, tz: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """Every send time from ``start`` to ``end``, as the delivery loop would chain them."""
    schedule, out, when = parse_digest(spec), [], start
    while True:
        when = schedule.next_after(when, tz)
        if when > end:
            return out
        out.append(when)


@pytest.mark.parametrize(
    ("spec", "interval", "at"),
    [
        ("every 30m", timedelta(minutes=30), None),
        ("every 45 minutes", timedelta(minutes=45), None),
        ("Every 2h", timedelta(hours=2), None),
        ("every 1 hour", timedelta(hours=1), None),
        ("hourly", timedelta(hours=1), None),
        ("daily", None, time(8, 0)),
        ("daily at 18:30", None, time(18, 30)),
        ("  daily   at 7:05 ", None, time(7, 5)),
    ],
)
def test_parse_digest_forms(spec: str, interval: timedelta | None, at: time | None) -> None:
    schedule = parse_digest(spec)
    assert (schedule.interval, schedule.at) == (interval, at)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("weekly", "allowed forms"),
        ("every", "allowed forms"),
        ("every 0m", "between 1 minute and 24 hours"),
        ("every 25h", "between 1 minute and 24 hours"),
        ("daily at 24:00", "not a time of day"),
        ("daily at 8", "allowed forms"),
        ("", "allowed forms"),
    ],
)
def test_parse_digest_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_digest(spec)


@pytest.mark.parametrize(
    ("spec", "now", "expected"),
    [
        ("every 30m", utc(2026, 6, 1, 10, 10), utc(2026, 6, 1, 10, 30)),
        ("every 30m", utc(2026, 6, 1, 10, 30), utc(2026, 6, 1, 11, 0)),  # strictly after
        ("hourly", utc(2026, 6, 1, 23, 59, 59), utc(2026, 6, 2, 0, 0)),
        ("daily at 08:00", utc(2026, 6, 1, 8, 0), utc(2026, 6, 2, 8, 0)),
        ("daily at 08:00", utc(2026, 6, 1, 7, 59), utc(2026, 6, 1, 8, 0)),
    ],
)
def test_next_after_utc(spec: str, now: datetime, expected: datetime) -> None:
    assert parse_digest(spec).next_after(now, ZoneInfo("UTC")) == expected


def test_interval_slots_follow_local_midnight() -> None:
    # Kolkata is UTC+05:30: every 2h means 00:00, 02:00, ... local, not UTC
    kolkata = ZoneInfo("Asia/Kolkata")
    sent = run("every 2h", kolkata, utc(2026, 6, 1, 0, 0), utc(2026, 6, 2, 0, 0))
    assert [s.astimezone(kolkata).hour for s in sent[:3]] == [6, 8, 10]
    assert {s.astimezone(kolkata).minute for s in sent} == {0}


@pytest.mark.parametrize(
    ("tz", "first", "last"),
    [
        (BERLIN, date(2026, 3, 26), date(2026, 4, 2)),  # spring forward
        (BERLIN, date(2026, 10, 22), date(2026, 10, 29)),  # fall back
        (NEW_YORK, date(2026, 3, 5), date(2026, 3, 12)),
        (NEW_YORK, date(2026, 10, 29), date(2026, 11, 5)),
    ],
)
@pytest.mark.parametrize("at", ["daily at 08:00", "daily at 02:30", "daily at 01:30", "daily at 00:00"])
def test_exactly_one_daily_digest_per_local_day(tz: ZoneInfo, first: date, last: date, at: str) -> None:
    start = datetime.combine(first, time(0, 0), tzinfo=tz).astimezone(UTC) - timedelta(seconds=1)
    end = datetime.combine(last, time(0, 0), tzinfo=tz).astimezone(UTC) - timedelta(seconds=1)
    sent = run(at, tz, start, end)
    per_day = Counter(s.astimezone(tz).date() for s in sent)
    days = [first + timedelta(days=i) for i in range((last - first).days)]
    assert [per_day[d] for d in days] == [1] * len(days), sent
    assert sent == sorted(set(sent))


@pytest.mark.parametrize(
    ("tz", "day", "expected_utc"),
    [
        # 02:30 does not exist on spring-forward day: sent when the clock jumps (03:00 local)
        (BERLIN, date(2026, 3, 29), utc(2026, 3, 29, 1, 0)),
        (NEW_YORK, date(2026, 3, 8), utc(2026, 3, 8, 7, 0)),
        # 02:30 happens twice in Berlin on fall-back day: the first one (CEST)
        (BERLIN, date(2026, 10, 25), utc(2026, 10, 25, 0, 30)),
    ],
)
def test_daily_0230_on_change_days(tz: ZoneInfo, day: date, expected_utc: datetime) -> None:
    before = datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)
    sent = parse_digest("daily at 02:30").next_after(before, tz)
    assert sent == expected_utc
    following = parse_digest("daily at 02:30").next_after(sent, tz)
    assert following.astimezone(tz).date() == day + timedelta(days=1)
    assert following.astimezone(tz).time() == time(2, 30)


def test_fall_back_ambiguous_time_in_new_york_sent_once() -> None:
    # 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST) on 1 Nov 2026
    sent = run("daily at 01:30", NEW_YORK, utc(2026, 11, 1, 4, 0), utc(2026, 11, 1, 23, 0))
    assert sent == [utc(2026, 11, 1, 5, 30)]


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25), (date(2026, 6, 1), 24)]
)
def test_hourly_on_change_days_never_bunches(day: date, hours: int) -> None:
    start = datetime.combine(day, time(0, 0), tzinfo=BERLIN).astimezone(UTC) - timedelta(seconds=1)
    end = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=BERLIN).astimezone(UTC) - timedelta(
        seconds=1
    )
    sent = run("hourly", BERLIN, start, end)
    assert len(sent) == hours  # one per real hour of that local day
    assert {b - a for a, b in itertools.pairwise(sent)} == {timedelta(hours=1)}


def test_every_2h_on_spring_forward_keeps_spacing() -> None:
    day = date(2026, 3, 29)
    start = datetime.combine(day, time(0, 0), tzinfo=BERLIN).astimezone(UTC) - timedelta(seconds=1)
    sent = run("every 2h", BERLIN, start, start + timedelta(days=2))
    gaps = {b - a for a, b in itertools.pairwise(sent)}
    assert max(gaps) <= timedelta(hours=2) and min(gaps) >= timedelta(hours=1)
    assert [
        s.astimezone(BERLIN).hour for s in sent if s.astimezone(BERLIN).date() == day + timedelta(days=1)
    ] == list(range(0, 24, 2))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_digest("hourly").next_after(datetime(2026, 1, 1), BERLIN)


def test_wall_to_utc() -> None:
    assert wall_to_utc(date(2026, 6, 1), time(8, 0), BERLIN) == utc(2026, 6, 1, 6, 0)
    assert wall_to_utc(date(2026, 3, 29), time(2, 0), BERLIN) == utc(2026, 3, 29, 1, 0)
    assert wall_to_utc(date(2026, 10, 25), time(2, 0), BERLIN) == utc(2026, 10, 25, 0, 0)


# ---------------------------------------------------------------------------- quiet hours


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("22:00", "expected"),
        ("25:00-07:00", "not a time of day"),
        ("22:00-22:00", "same time"),
        ("22:00-07:00 Mars/Base", "unknown time zone 'Mars/Base'"),
        ("night", "expected"),
    ],
)
def test_parse_quiet_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_quiet(spec)


NAIROBI = parse_quiet("22:00-07:00 Africa/Nairobi")  # UTC+3 all year


@pytest.mark.parametrize(
    ("now", "active", "ends"),
    [
        (utc(2026, 5, 1, 18, 59), False, None),  # 21:59 local
        (utc(2026, 5, 1, 19, 0), True, utc(2026, 5, 2, 4, 0)),  # 22:00 local: starts (inclusive)
        (utc(2026, 5, 1, 21, 30), True, utc(2026, 5, 2, 4, 0)),  # 00:30 local: after midnight
        (utc(2026, 5, 2, 3, 59), True, utc(2026, 5, 2, 4, 0)),
        (utc(2026, 5, 2, 4, 0), False, None),  # 07:00 local: over (exclusive)
        (utc(2026, 5, 2, 12, 0), False, None),
    ],
)
def test_quiet_spanning_midnight(now: datetime, active: bool, ends: datetime | None) -> None:
    assert NAIROBI.active(now) is active
    assert NAIROBI.ends_after(now) == (ends or now)


def test_quiet_zone_defaults_to_the_target_zone() -> None:
    quiet = parse_quiet("09:00-17:00", default_tz="America/New_York")
    assert quiet.active(utc(2026, 6, 1, 14, 0))  # 10:00 EDT
    assert not quiet.active(utc(2026, 6, 1, 22, 0))  # 18:00 EDT
    assert parse_quiet("09:00-17:00").zone == ZoneInfo("UTC")


def test_quiet_over_fall_back_night_is_one_stretch() -> None:
    quiet = parse_quiet("01:00-03:30 Europe/Berlin")
    begin, end = utc(2026, 10, 24, 23, 0), utc(2026, 10, 25, 2, 30)  # 01:00 CEST to 03:30 CET
    step = timedelta(minutes=5)
    when = begin - step
    states = []
    while when <= end + step:
        states.append(quiet.active(when))
        if quiet.active(when):
            assert quiet.ends_after(when) == end
        when += step
    # one continuous stretch of 3.5 hours wall time + the repeated hour
    assert states == [False] + [True] * int((end - begin) / step) + [False, False]


def test_quiet_ending_inside_the_spring_forward_gap_ends_at_the_jump() -> None:
    quiet = parse_quiet("22:00-02:30 Europe/Berlin")
    assert quiet.active(utc(2026, 3, 29, 0, 59))  # 01:59 CET
    assert quiet.ends_after(utc(2026, 3, 29, 0, 59)) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST
    assert not quiet.active(utc(2026, 3, 29, 1, 0))


def test_daytime_quiet_window() -> None:
    quiet = parse_quiet("12:00-13:00 UTC")
    assert quiet.active(utc(2026, 1, 1, 12, 30)) and not quiet.active(utc(2026, 1, 1, 13, 0))


# ---------------------------------------------------------------------------- throttle


@pytest.mark.parametrize(
    ("sent", "allowed", "fold_at"),
    [
        ([], True, None),
        ([9000.0, 9500.0], True, None),
        ([9000.0, 9500.0, 9900.0], False, 12600.0),  # the oldest of the last three ages out
        ([1000.0, 5000.0, 9000.0, 9500.0], True, None),  # sends older than an hour do not count
        ([6500.0, 9000.0, 9500.0, 9900.0], False, 12600.0),
    ],
)
def test_throttle(sent: list[float], allowed: bool, fold_at: float | None) -> None:
    decision = Throttle(max_per_hour=3).decide(sent, now=10000.0)
    assert (decision.allowed, decision.fold_at) == (allowed, fold_at)


def test_throttle_rejects_nonsense_limit() -> None:
    with pytest.raises(ValueError, match="positive"):
        Throttle(max_per_hour=0).decide([], 0.0)


def test_wrong_region_zone_gets_a_hint() -> None:
    with pytest.raises(ValueError, match=r"did you mean Africa/Nairobi\?"):
        parse_quiet("22:00-07:00 Europe/Nairobi")
