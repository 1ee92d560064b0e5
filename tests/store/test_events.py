"""Events decided in the recording transaction (store/events.py), on both engines: a new event,
a follow-up held for the next slot, a copy already told, and instances recording write-ups of
one event at once (exactly one alert)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from monitor.daemon.eventgroups import choose
from monitor.models import MessageKind
from monitor.store import events, repo
from monitor.store.db import Database
from monitor.store.payload import AlertPayload
from monitor.store.schema import outbox

QUAKE = {"earthquake": 3.0, "chile": 2.5, "valparaiso": 3.5, "#7.1": 1.5}
QUAKE_LATER = {"earthquake": 3.0, "chile": 2.5, "valparaiso": 3.0, "tsunami": 3.0, "#12": 1.5}
OTHER = {"election": 3.0, "peru": 2.5, "lima": 3.0}
FOLLOW_UP = 7200.0


def write_up(
    subject: str, terms: dict[str, float], *, dests: int = 1, due: float = 0.0, digest: str | None = None
) -> list[repo.OutboxRow]:
    cand = events.EventCandidate(
        rule="quakes",
        profile=terms,
        sentences=(events.LeadSentence("A tsunami warning was issued for 12 towns.", frozenset({"tsunami", "#12"})),),
        window=86400.0,
        follow_up=FOLLOW_UP,
        threshold=0.25,
    )
    return [
        repo.OutboxRow(
            key=f"nm-{subject}-{d}",
            kind=MessageKind.ALERT,
            rule="quakes",
            target="chat",
            dest=f"d{d}",
            payload=AlertPayload(title=subject),
            due_at=due,
            cluster=subject,
            digest=digest,
            event_candidate=cand,
        )
        for d in range(dests)
    ]


def record(db: Database, rows: list[repo.OutboxRow], now: float) -> list[repo.OutboxRow]:
    with db.write() as conn:
        planned = events.plan_rows(conn, rows, now, choose)
        repo.add_outbox(conn, planned, [], now)
    return planned


def test_the_first_write_up_alerts_later_ones_wait_for_one_follow_up_slot(db: Database) -> None:
    first = record(db, write_up("a", QUAKE, dests=2, due=1000.0), now=1000.0)
    assert [(r.event, r.due_at) for r in first] == [(None, 1000.0)] * 2  # the event's alert, as it was
    later = record(db, write_up("b", QUAKE_LATER, dests=2, due=1500.0), now=1500.0)
    slot = 1000.0 + FOLLOW_UP
    assert {(r.due_at, r.event is not None) for r in later} == {(slot, True)}
    payload = later[0].payload
    assert isinstance(payload, AlertPayload) and payload.details == ("A tsunami warning was issued for 12 towns.",)
    # a third write-up before the slot joins the same follow-up
    third = record(db, write_up("c", QUAKE_LATER, due=3000.0), now=3000.0)
    assert [r.due_at for r in third] == [slot]
    # after the slot passed, the next follow-up is an interval after it
    fourth = record(db, write_up("d", QUAKE, due=slot + 60), now=slot + 60)
    assert [r.due_at for r in fourth] == [slot + FOLLOW_UP]
    # long after, a write-up is told at once
    fifth = record(db, write_up("e", QUAKE, due=slot + 3 * FOLLOW_UP), now=slot + 3 * FOLLOW_UP)
    assert [r.due_at for r in fifth] == [slot + 3 * FOLLOW_UP]
    # another event alerts on its own
    other = record(db, write_up("x", OTHER, due=4000.0), now=4000.0)
    assert [r.event for r in other] == [None]
    with db.read() as conn:
        stored = events.recent(conn, "quakes", 0.0)
    assert sorted(e.stories for e in stored) == [1, 5]


def test_a_write_up_held_for_a_digest_goes_in_the_digest_and_one_held_for_quiet_hours_waits_for_both(
    db: Database,
) -> None:
    record(db, write_up("a", QUAKE, due=1000.0), now=1000.0)
    (digest,) = record(db, write_up("b", QUAKE_LATER, due=1800.0, digest="hourly"), now=1500.0)
    assert (digest.due_at, digest.event is not None) == (1800.0, True)
    (quiet,) = record(db, write_up("c", QUAKE_LATER, due=9000.0, digest="quiet"), now=1600.0)
    assert quiet.due_at == max(9000.0, 1000.0 + FOLLOW_UP)


def test_a_copy_of_a_write_up_already_in_an_event_adds_no_row(db: Database) -> None:
    record(db, write_up("a", QUAKE, due=10.0), now=10.0)
    assert record(db, write_up("a", QUAKE_LATER, due=20.0), now=20.0) == []


def test_an_event_older_than_the_window_is_not_joined(db: Database) -> None:
    record(db, write_up("a", QUAKE, due=10.0), now=10.0)
    late = record(db, write_up("b", QUAKE_LATER, due=10.0 + 86401), now=10.0 + 86401)
    assert [r.event for r in late] == [None]


def test_instances_recording_write_ups_of_one_event_at_once_alert_once(db_url: str, db: Database) -> None:
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def instance(k: int) -> None:
        mine = Database(db_url)
        try:
            start.wait()
            record(mine, write_up(f"s{k}", QUAKE if k % 2 else QUAKE_LATER, due=100.0), now=100.0)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            mine.engine.dispose()

    threads = [threading.Thread(target=instance, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as conn:
        rows = conn.execute(select(outbox.c.event)).scalars().all()
        stored = events.recent(conn, "quakes", 0.0)
    assert sorted(rows, key=lambda e: e or 0) == [None, stored[0].id, stored[0].id, stored[0].id]
    assert [e.stories for e in stored] == [4]
