"""plan_batches: due outbox rows of one destination grouped into messages (pure, table-driven)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from monitor.daemon.batches import Batch, plan_batches
from monitor.models import MessageKind
from monitor.store import repo
from monitor.store.payload import AlertPayload, NoticePayload, RuleEvidence
from tests.support.store import outbox_entry


def row(spec: str, n: int) -> repo.OutboxEntry:
    """An outbox row as the delivery loop reads it, from ``"subject rule [digest]"`` (an alert)
    or ``"summary"`` / ``"health"``.

    ``subject`` is the row's cluster, or ``#ID`` for a story without one.
    """
    kind = MessageKind(spec) if spec in ("summary", "health") else MessageKind.ALERT
    subject, rule, *digest = spec.split(" ", 2) if kind is MessageKind.ALERT else ("-", f"({kind})")
    payload: AlertPayload | NoticePayload = (
        AlertPayload(
            title=f"Story {subject}", url=f"https://ex.com/{subject}", source="wire", outlet="Wire",
            rules=(RuleEvidence(rule),),
        )
        if kind is MessageKind.ALERT
        else NoticePayload(note=f"{kind} note")
    )
    alert = kind is MessageKind.ALERT
    return outbox_entry(
        id=n,
        key=f"nm-{n}",
        kind=kind,
        rule=rule,
        dest="d1",
        story_id=int(subject[1:]) if subject.startswith("#") else (100 + n if alert else None),
        cluster=subject if alert and not subject.startswith("#") else None,
        digest=digest[0] if digest else None,
        payload=payload,
    )


def summary(batch: Batch) -> str:
    """``kind subject:rule+rule ...``: one item per story or cluster, in message order."""
    message = batch.message
    items = [
        f"{subject}:{'+'.join(rule for rule, _ in item.rules)}"
        for subject, item in zip(batch.subjects, message.items, strict=True)
    ]
    return " ".join([message.kind, *items])


# (due rows of one destination, oldest first (see ``row``); the messages planned)
BATCHES = [
    ("nothing due", [], []),
    ("one alert", ["c1 storm"], ["alert c1:storm"]),
    ("two rules of one story: one alert", ["c1 storm", "c1 quake"], ["alert c1:storm+quake"]),
    ("two stories: two alerts", ["c1 storm", "c2 storm"], ["alert c1:storm", "alert c2:storm"]),
    ("a later rule joins its alert", ["c1 storm", "c2 storm", "c1 quake"], ["alert c1:storm+quake", "alert c2:storm"]),
    ("no cluster: the story is the subject", ["#7 storm", "#7 quake"], ["alert 7:storm+quake"]),
    ("held rows: one digest", ["c1 storm hourly", "c2 quake quiet"], ["digest c1:storm c2:quake"]),
    ("a digest item lists every rule", ["c1 storm hourly", "c1 quake throttle"], ["digest c1:storm+quake"]),
    ("in row order", ["c1 storm", "c2 storm hourly", "c3 quake"], ["alert c1:storm", "digest c2:storm", "alert c3:quake"]),
    ("one story, now and held", ["c1 storm", "c1 quake hourly"], ["alert c1:storm", "digest c1:quake"]),
    ("a summary goes alone", ["c1 storm", "summary", "c1 quake"], ["alert c1:storm+quake", "summary"]),
    ("health notices go one by one", ["health", "health"], ["health", "health"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "rows", "messages"), BATCHES, ids=[c[0] for c in BATCHES])
def test_plan_batches(case: str, rows: list[str], messages: list[str]) -> None:
    batches = plan_batches([row(spec, n) for n, spec in enumerate(rows)], "chat")
    assert [summary(batch) for batch in batches] == messages
    assert all(batch.message.target == "chat" for batch in batches)


def test_every_row_is_in_one_batch_whose_keys_are_its_rows() -> None:
    rows = [row(spec, n) for n, spec in enumerate(["c1 storm", "c2 storm hourly", "c1 quake"])]
    batches = plan_batches(rows, "chat")
    assert [[r.id for r in batch.rows] for batch in batches] == [[0, 2], [1]]
    assert [batch.message.keys for batch in batches] == [["nm-0", "nm-2"], ["nm-1"]]


def test_a_summary_shows_its_note_and_items() -> None:
    story = row("c1 storm", 1).payload
    assert isinstance(story, AlertPayload)
    flood = replace(row("summary", 0), payload=NoticePayload(note="40 new stories", items=(story,)))
    (batch,) = plan_batches([flood], "chat")
    assert batch.message.note == "40 new stories"
    assert [item.title for item in batch.message.items] == ["Story c1"]


def test_the_follow_up_rows_of_one_event_go_as_one_follow_up_saying_what_develops() -> None:
    from monitor.daemon.batches import describe_follow_up

    def write_up(n: int, event: int | None, outlet: str, details: tuple[str, ...] = ()) -> repo.OutboxEntry:
        payload = AlertPayload(title=f"Story {n}", source=outlet.lower(), outlet=outlet, details=details)
        return outbox_entry(id=n, key=f"nm-{n}", cluster=f"c{n}", event=event, payload=payload)

    rows = [
        write_up(1, None, "Wire"),  # an event's own alert
        write_up(2, 7, "BBC", ("Forty towns were evacuated.",)),
        write_up(3, 8, "AP"),
        write_up(4, 7, "Reuters", ("Forty towns were evacuated.", "A tsunami warning was lifted.")),
    ]
    batches = plan_batches(rows, "chat")
    assert [summary(b) for b in batches] == ["alert c1:", "follow_up c2: c4:", "follow_up c3:"]
    message = batches[1].message
    describe_follow_up(message)
    assert message.note.splitlines() == [
        "The story develops: 2 more write-ups from 2 outlets (BBC, Reuters)",
        "New details:",
        "- Forty towns were evacuated.",
        "- A tsunami warning was lifted.",
    ]
    describe_follow_up(batches[2].message)
    assert batches[2].message.note == "The story develops: 1 more write-up from 1 outlet (AP)"
