"""Events of the rules grouped by event, decided inside the transaction that records a poll.

A rule with ``group: event`` alerts once per news event: its first write-up alerts as any
match does, later write-ups of the event (by other outlets, within the window) become
follow-up rows, held until the event's next follow-up is due and then sent together. Which
event a write-up belongs to is decided here, in :meth:`monitor.store.facade.Store.record_poll`'s
transaction, by a pure function the daemon passes in (:data:`Choose`; the similarity lives in
:mod:`monitor.identity.events`), so that two instances sharing a PostgreSQL database never
both start an event for two write-ups of it: each transaction first takes an advisory lock
per rule (SQLite: ``BEGIN IMMEDIATE`` serialises the writers already) and then reads the
events the other committed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, func, insert, select, text, update

from monitor.store.payload import AlertPayload
from monitor.store.schema import event_members, events

if TYPE_CHECKING:
    from monitor.store.repo import OutboxRow

#: the most recent events of one rule a write-up is compared with
MAX_EVENTS = 500


@dataclass(frozen=True, slots=True)
class LeadSentence:
    """A sentence of a write-up's lead and its salient terms (what a follow-up can quote)."""

    text: str
    terms: frozenset[str]


@dataclass(frozen=True, slots=True)
class EventCandidate:
    """What a write-up matched by a rule grouped by event brings to the transaction.

    Every outbox row of the (rule, story) carries the same candidate. ``profile`` is the
    story's salient terms (opaque here: only :data:`Choose` reads them).
    """

    rule: str
    profile: Mapping[str, float]
    sentences: tuple[LeadSentence, ...]
    window: float
    follow_up: float
    threshold: float


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as stored."""

    id: int
    rule: str
    first_at: float
    last_at: float
    #: JSON of the event's salient terms (opaque here)
    profile: str
    stories: int
    told_at: float
    follow_up_at: float | None


@dataclass(frozen=True, slots=True)
class Choice:
    """What :data:`Choose` decided for one write-up: the event it joins (None: a new one),
    the profile that event has now (JSON), and the new details a follow-up quotes."""

    event: StoredEvent | None
    profile: str
    details: tuple[str, ...] = ()


#: (candidate, the rule's events within the window, newest first, now) → the choice
Choose = Callable[[EventCandidate, Sequence[StoredEvent], float], Choice]


def _lock_key(rule: str) -> int:
    """A signed 64-bit advisory lock key for ``rule`` (stable across processes)."""
    return int.from_bytes(hashlib.sha256(b"nm-event:" + rule.encode()).digest()[:8], "big", signed=True)


def lock_rules(conn: Connection, rules: Sequence[str]) -> None:
    """Take the transaction's advisory lock of each rule (PostgreSQL; sorted, so two
    transactions never wait on each other in a circle)."""
    if conn.dialect.name != "postgresql":
        return
    for rule in sorted(set(rules)):
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(rule)})


def recent(conn: Connection, rule: str, since: float) -> list[StoredEvent]:
    """The events of ``rule`` whose first write-up was recorded at or after ``since``, newest first."""
    rows = conn.execute(
        select(events)
        .where(and_(events.c.rule == rule, events.c.first_at >= since))
        .order_by(events.c.first_at.desc(), events.c.id.desc())
        .limit(MAX_EVENTS)
    ).mappings()
    return [StoredEvent(**dict(row)) for row in rows]


def member_of(conn: Connection, rule: str, subject: str) -> int | None:
    """The event of ``rule`` that ``subject`` (a story or its cluster) is a write-up of, if any."""
    value = conn.execute(
        select(event_members.c.event_id).where(
            and_(event_members.c.rule == rule, event_members.c.subject == subject)
        )
    ).scalar()
    return int(value) if value is not None else None


def plan_rows(conn: Connection, rows: Sequence[OutboxRow], now: float, choose: Choose) -> list[OutboxRow]:
    """The outbox rows to insert for ``rows`` (one poll's), with each write-up of a rule
    grouped by event put in its event, in this transaction.

    Rows without a candidate pass unchanged. For the rows of one (rule, subject) with one:

    * a subject already in an event of the rule (a copy of a write-up told before) adds no
      row: the earlier row's message lists its outlets;
    * a write-up :data:`Choose` finds no event for starts one: its rows pass unchanged (the
      event's alert);
    * a write-up of an event becomes a follow-up: its rows wait (``event`` set, ``due_at``
      the follow-up's time) for the event's follow-up, due no sooner than ``follow_up``
      after the event's previous message, and carry the details :data:`Choose` found new;
      a row held for a digest keeps its time and goes out in the digest.
    """
    groups: dict[tuple[str, str], list[int]] = {}
    for index, row in enumerate(rows):
        if row.event_candidate is not None:
            groups.setdefault((row.rule, row.cluster or f"#{row.story_index}"), []).append(index)
    if not groups:
        return list(rows)
    lock_rules(conn, [rule for rule, _ in groups])
    out: list[OutboxRow | None] = list(rows)
    for (rule, subject), indexes in groups.items():
        first = rows[indexes[0]]
        candidate = first.event_candidate
        assert candidate is not None
        if member_of(conn, rule, subject) is not None:
            for index in indexes:
                out[index] = None
            continue
        choice = choose(candidate, recent(conn, rule, now - candidate.window), now)
        due_first = min(rows[i].due_at for i in indexes)
        if choice.event is None:
            event_id = _add_event(conn, rule, now, choice.profile, due_first)
            _add_member(conn, rule, subject, event_id, now)
            continue
        event = choice.event
        previous = event.follow_up_at if event.follow_up_at is not None else event.told_at
        # a follow-up still to come takes the write-up; else the next one is due an
        # interval after the event's previous message, or now when that is longer ago
        due = (
            previous
            if event.follow_up_at is not None and previous > now
            else max(now, previous + candidate.follow_up)
        )
        conn.execute(
            update(events)
            .where(events.c.id == event.id)
            .values(
                profile=choice.profile,
                last_at=_later(conn, events.c.last_at, now),
                stories=events.c.stories + 1,
                follow_up_at=due,
            )
        )
        _add_member(conn, rule, subject, event.id, now)
        for index in indexes:
            row = rows[index]
            payload = row.payload
            if isinstance(payload, AlertPayload):
                payload = replace(payload, details=choice.details)
            # a row held for a digest goes out in it (a digest is no more often than its
            # schedule already); any other waits for the follow-up
            held = row.digest is not None and row.digest != "quiet"
            out[index] = replace(
                row, due_at=row.due_at if held else max(row.due_at, due), event=event.id, payload=payload
            )
    return [row for row in out if row is not None]


def _later(conn: Connection, column: Any, value: float) -> Any:
    """The later of ``column`` and ``value``, in the dialect's words."""
    return func.greatest(column, value) if conn.dialect.name == "postgresql" else func.max(column, value)


def _add_event(conn: Connection, rule: str, now: float, profile: str, told_at: float) -> int:
    result = conn.execute(
        insert(events)
        .values(
            rule=rule,
            first_at=now,
            last_at=now,
            profile=profile,
            stories=1,
            told_at=told_at,
            follow_up_at=None,
        )
        .returning(events.c.id)
    )
    return int(result.scalar_one())


def _add_member(conn: Connection, rule: str, subject: str, event_id: int, now: float) -> None:
    conn.execute(insert(event_members).values(rule=rule, subject=subject, event_id=event_id, at=now))


def prune(conn: Connection, *, older_than: float, batch: int = 1000) -> int:
    """Delete up to ``batch`` events last joined before ``older_than``, with their members;
    returns how many events went (call again until 0)."""
    ids = conn.execute(select(events.c.id).where(events.c.last_at < older_than).limit(batch)).scalars().all()
    if not ids:
        return 0
    conn.execute(delete(event_members).where(event_members.c.event_id.in_(ids)))
    conn.execute(delete(events).where(events.c.id.in_(ids)))
    return len(ids)
