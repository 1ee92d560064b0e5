"""The typed outbox edge: enum values are the stored strings, payloads round-trip through
their JSON (and read rows written before the types existed), reads come back as frozen rows."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.models import Match, MessageKind, OutboxStatus, Snippet, Story
from monitor.notify.message import KINDS
from monitor.store import repo
from monitor.store.db import Database
from monitor.store.payload import AlertPayload, NoticePayload, RuleEvidence
from monitor.store.schema import outbox


def row(
    key: str,
    kind: MessageKind = MessageKind.ALERT,
    *,
    payload: AlertPayload | NoticePayload | None = None,
    digest: str | None = None,
    urgent: bool = False,
    cluster: str | None = None,
    story_index: int | None = None,
) -> repo.OutboxRow:
    if payload is None:
        payload = NoticePayload(note="n") if kind in repo.NOTICE_KINDS else AlertPayload(title="t")
    return repo.OutboxRow(
        key=key,
        kind=kind,
        rule="r",
        target="t",
        dest="d",
        payload=payload,
        due_at=1.0,
        urgent=urgent,
        digest=digest,
        cluster=cluster,
        story_index=story_index,
    )


# ---------------------------------------------------------------------------- enums


@pytest.mark.parametrize(
    ("status", "stored"),
    [
        (OutboxStatus.PENDING, "pending"),
        (OutboxStatus.SENT, "sent"),
        (OutboxStatus.DEAD, "dead"),
        (OutboxStatus.CANCELLED, "cancelled"),
    ],
)
def test_status_values_are_the_stored_strings(status: OutboxStatus, stored: str) -> None:
    assert status == stored and str(status) == stored and f"{status}" == stored
    assert OutboxStatus(stored) is status


@pytest.mark.parametrize(
    ("kind", "stored"),
    [
        (MessageKind.ALERT, "alert"),
        (MessageKind.DIGEST, "digest"),
        (MessageKind.SUMMARY, "summary"),
        (MessageKind.HEALTH, "health"),
    ],
)
def test_kind_values_are_the_stored_strings_and_template_names(kind: MessageKind, stored: str) -> None:
    assert kind == stored and f"{kind}" == stored
    assert MessageKind(stored) is kind
    assert kind in KINDS
    templates = Path(__file__).parents[2] / "monitor" / "notify" / "templates"
    for ext in ("txt", "md", "html"):
        assert (templates / f"{kind}.{ext}").is_file()


def test_enums_are_written_as_plain_strings(db: Database) -> None:
    with db.write() as conn:
        repo.add_outbox(conn, [row("nm-a"), row("nm-h", MessageKind.HEALTH)], [], now=1.0)
        repo.mark_dead(conn, [2], "x")
    with db.read() as conn:
        stored = [tuple(r) for r in conn.execute(select(outbox.c.kind, outbox.c.status).order_by(outbox.c.id))]
        counts = repo.outbox_counts(conn)
    assert stored == [("alert", "pending"), ("health", "dead")]
    assert all(type(v) is str for pair in stored for v in pair)
    assert counts == {"pending": 1, "dead": 1}
    assert all(isinstance(k, OutboxStatus) for k in counts)


# ---------------------------------------------------------------------------- payloads

STORY = Story(
    source="wire",
    url="https://news.example/a?x=1",
    title="Zölle auf Halbleiter — «tariffs»",
    text="Semiconductor tariffs rise.",
    published=datetime(2024, 3, 1, 12, 30, tzinfo=UTC),
    outlet="Wire Service",
)
MATCHES = [
    Match(rule="chips", snippets=(Snippet("Semiconductor tariffs rise.", ((0, 13), (14, 22))),)),
    Match(rule="trade", snippets=()),
]
#: exactly what the planner wrote before the payload had a type: stored rows must keep reading back
LEGACY_ALERT_JSON = (
    '{"title": "Zölle auf Halbleiter — «tariffs»", "url": "https://news.example/a?x=1", "source": "wire", '
    '"outlet": "Wire Service", "published": 1709296200.0, "rules": [{"rule": "chips", "snippets": '
    '[{"text": "Semiconductor tariffs rise.", "spans": [[0, 13], [14, 22]]}]}, {"rule": "trade", "snippets": []}]}'
)


def test_alert_payload_from_story_writes_the_legacy_json() -> None:
    payload = AlertPayload.from_story(STORY, MATCHES)
    assert payload.to_json() == LEGACY_ALERT_JSON
    assert payload.rules == (
        RuleEvidence("chips", (Snippet("Semiconductor tariffs rise.", ((0, 13), (14, 22))),)),
        RuleEvidence("trade", ()),
    )


def test_alert_payload_reads_legacy_json() -> None:
    assert AlertPayload.from_json(LEGACY_ALERT_JSON) == AlertPayload.from_story(STORY, MATCHES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", AlertPayload()),
        ('{"title": "T", "outlet": null, "published": null}', AlertPayload(title="T")),
        ('{"title": "T", "source": "s", "rules": []}', AlertPayload(title="T", source="s")),
    ],
)
def test_alert_payload_missing_fields_take_defaults(text: str, expected: AlertPayload) -> None:
    assert AlertPayload.from_json(text) == expected


def test_notice_payload_round_trip_and_legacy_health_json() -> None:
    flood = NoticePayload(note="120 new stories", items=(AlertPayload.from_story(STORY, MATCHES),))
    assert NoticePayload.from_json(flood.to_json()) == flood
    assert flood.to_json() == '{"note": "120 new stories", "items": [' + LEGACY_ALERT_JSON + "]}"
    health = NoticePayload(note="Source 'x' is gone")
    assert health.to_json() == '{"note": "Source \'x\' is gone", "items": []}'
    assert NoticePayload.from_json('{"note": "n"}') == NoticePayload(note="n")


spans = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 10_000)), max_size=4).map(tuple)
snippets = st.builds(Snippet, text=st.text(), spans=spans)
payloads = st.builds(
    AlertPayload,
    title=st.text(),
    url=st.text(),
    source=st.text(),
    outlet=st.text(),
    published=st.none() | st.floats(0, 4e9),
    rules=st.lists(
        st.builds(RuleEvidence, rule=st.text(), snippets=st.lists(snippets, max_size=3).map(tuple)), max_size=3
    ).map(tuple),
)


@settings(max_examples=200)
@given(payloads)
def test_alert_payload_json_round_trip(payload: AlertPayload) -> None:
    assert AlertPayload.from_json(payload.to_json()) == payload


@settings(max_examples=50)
@given(st.text(), st.lists(payloads, max_size=3).map(tuple))
def test_notice_payload_json_round_trip(note: str, items: tuple[AlertPayload, ...]) -> None:
    notice = NoticePayload(note=note, items=items)
    assert NoticePayload.from_json(notice.to_json()) == notice


# ---------------------------------------------------------------------------- typed rows


def test_outbox_reads_are_typed_frozen_rows(db: Database) -> None:
    alert = row("nm-a", urgent=True, digest="quiet", cluster="c1", payload=AlertPayload.from_story(STORY, MATCHES))
    summary = row("nm-s", MessageKind.SUMMARY, payload=NoticePayload(note="flood", items=(AlertPayload(),)))
    with db.write() as conn:
        assert repo.add_outbox(conn, [alert, summary, row("nm-h", MessageKind.HEALTH)], [], now=5.0) == 3
    with db.read() as conn:
        due = repo.pending_for(conn, "d", now=1.0)
        listed = repo.list_outbox(conn, [OutboxStatus.PENDING])
    assert due == listed
    first, second, third = due
    assert isinstance(first, repo.OutboxEntry)
    assert (first.key, first.kind, first.status, first.urgent) == ("nm-a", MessageKind.ALERT, "pending", True)
    assert type(first.kind) is MessageKind and type(first.status) is OutboxStatus
    assert first.payload == alert.payload and first.digest == "quiet" and first.subject == "c1"
    assert (first.created_at, first.due_at, first.next_attempt_at, first.attempts) == (5.0, 1.0, 1.0, 0)
    assert first.story_id is None and first.first_failed_at is None and first.sent_at is None
    assert second.kind is MessageKind.SUMMARY and second.payload == summary.payload and not second.urgent
    assert third.kind is MessageKind.HEALTH and third.payload == NoticePayload(note="n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.status = OutboxStatus.SENT  # type: ignore[misc]


def test_subject_falls_back_to_the_story_id(db: Database) -> None:
    with db.write() as conn:
        repo.add_outbox(conn, [row("nm-a", story_index=0)], [42], now=1.0)
    with db.read() as conn:
        [entry] = repo.pending_for(conn, "d", now=1.0)
    assert (entry.story_id, entry.cluster, entry.subject) == (42, None, "42")


def test_destination_state_round_trip(db: Database) -> None:
    with db.read() as conn:
        assert repo.get_destination(conn, "d") is None
    state = repo.DestinationState(
        dest="d", target="chat", failures=2, blocked_until=9.0, last_error="HTTP 500", sent_log=(1.0, 2.5)
    )
    with db.write() as conn:
        repo.save_destination(conn, state)
    with db.read() as conn:
        assert repo.get_destination(conn, "d") == state
    with db.write() as conn:
        repo.save_destination(conn, dataclasses.replace(state, failures=0, sent_log=tuple(map(float, range(600)))))
    with db.read() as conn:
        again = repo.get_destination(conn, "d")
    assert again is not None and again.failures == 0
    assert again.sent_log == tuple(map(float, range(100, 600)))  # only the newest 500 sends are kept


def test_hold_for_throttle_makes_every_held_row_wait_for_the_throttle(db: Database) -> None:
    # a held row's digest or quiet hours are over (it was due): what it waits for now is the throttle
    with db.write() as conn:
        repo.add_outbox(conn, [row("nm-1"), row("nm-2", digest="daily 08:00"), row("nm-3")], [], now=1.0)
        repo.hold_for_throttle(conn, [1, 2], until=3600.0)
    with db.read() as conn:
        rows = repo.list_outbox(conn, [OutboxStatus.PENDING])
    assert [(r.digest, r.due_at, r.next_attempt_at) for r in rows] == [
        ("throttle", 3600.0, 3600.0),
        ("throttle", 3600.0, 3600.0),
        (None, 1.0, 1.0),
    ]
