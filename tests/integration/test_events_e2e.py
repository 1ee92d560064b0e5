"""One alert per event, end to end: three local feeds, a real SQLite file, a json:// receiver.

Three outlets write up one event (the third plague case in China, November 2019: real leads
from tests/data/events/) and another story matches the same rule; the daemon is stopped and
started between every step, as a crash or restart would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from monitor.clock import FakeClock
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.store import repo
from monitor.store.schema import event_members, events, outbox
from tests.support.configs import make_config
from tests.support.feeds import Item
from tests.support.servers import Feed

DATA = Path(__file__).resolve().parents[1] / "data" / "events" / "stories.jsonl"
STORIES = {row["id"]: row for row in map(json.loads, DATA.open(encoding="utf-8"))}
FOLLOW_UP = 2 * 3600


def item(story_id: str) -> Item:
    row = STORIES[story_id]
    return Item(row["title"], f"http://127.0.0.1/{story_id}", story_id, row["lead"])


PLAGUE_NYPOST, PLAGUE_SUN, PLAGUE_EXPRESS = item("432362af"), item("8b194530"), item("ba4dfe2d")
ESPER = item("db6b0816")  # matches the rule too ("China"), a different event


def config(tmp_path: Path, httpserver: HTTPServer, feeds: dict[str, Feed], hook: str) -> Any:
    return make_config(
        tmp_path,
        sources=[{"name": name, "feed": feed.url, "full_text": False, "outlet": name} for name, feed in feeds.items()],
        rules=[{"name": "china", "query": "China", "group": "event"}],
        notifiers={"chat": hook},
        allow=[f"127.0.0.1:{httpserver.port}"],
        extra=f"events: {{window: 24h, follow_up: {FOLLOW_UP}s}}",
    )


async def run_once(cfg: Any, clock: FakeClock) -> None:
    daemon = Daemon(cfg, workers=0, clock=clock)
    try:
        await daemon.run_once()
    finally:
        await daemon.close()


async def stored_events(cfg: Any, clock: FakeClock) -> list[tuple[int, int]]:
    """(write-ups, follow-up rows) of each stored event, oldest first."""
    daemon = Daemon(cfg, workers=0, clock=clock)
    try:
        with daemon.rt.store.database.read() as conn:
            rows = conn.execute(select(events.c.id, events.c.stories).order_by(events.c.id)).all()
            members = conn.execute(select(event_members.c.event_id)).scalars().all()
            follow_ups = conn.execute(select(outbox.c.event).where(outbox.c.event.is_not(None))).scalars().all()
    finally:
        await daemon.close()
    assert sorted(members) == sorted(i for i, n in rows for _ in range(n))
    return [(n, follow_ups.count(i)) for i, n in rows]


async def test_three_write_ups_of_one_event_make_one_alert_then_one_follow_up(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    feeds = {name: Feed(httpserver, f"/{name}.xml") for name in ("nypost", "sun", "express")}
    cfg = config(tmp_path, httpserver, feeds, receiver.url)
    clock = FakeClock()
    await run_once(cfg, clock)  # the first poll of each source primes
    assert receiver.messages == []

    clock.advance(600)
    feeds["nypost"].items = [PLAGUE_NYPOST]
    feeds["express"].items = [ESPER]
    await run_once(cfg, clock)
    titles = sorted(m.title for m in receiver.messages)
    assert len(titles) == 2, titles  # the event's alert, and the unrelated story's own
    assert any("bubonic plague" in t for t in titles) and any("Esper" in t for t in titles)

    clock.advance(600)  # two more outlets write the event up: held for the follow-up
    feeds["sun"].items = [PLAGUE_SUN]
    feeds["express"].items = [PLAGUE_EXPRESS, ESPER]
    await run_once(cfg, clock)
    assert len(receiver.messages) == 2

    clock.advance(600)  # a restart before the follow-up is due: nothing sent, nothing lost
    await run_once(cfg, clock)
    assert len(receiver.messages) == 2

    clock.advance(FOLLOW_UP)
    await run_once(cfg, clock)
    assert len(receiver.messages) == 3
    follow_up = receiver.messages[2]
    assert "the story develops (2 more)" in follow_up.title
    body = follow_up.body
    assert "2 more write-ups from 2 outlets (sun, express)" in body
    assert "New details:" in body
    assert PLAGUE_SUN.title in body and PLAGUE_EXPRESS.title in body
    assert PLAGUE_NYPOST.title not in body and ESPER.title not in body

    for _ in range(2):  # later restarts send nothing twice
        clock.advance(FOLLOW_UP)
        await run_once(cfg, clock)
    assert len(receiver.messages) == 3
    assert await stored_events(cfg, clock) == [(3, 2), (1, 0)]


async def test_a_recording_that_fails_after_the_event_decision_keeps_none_of_it(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = {name: Feed(httpserver, f"/{name}.xml") for name in ("nypost", "sun")}
    cfg = config(tmp_path, httpserver, feeds, receiver.url)
    clock = FakeClock()
    await run_once(cfg, clock)
    clock.advance(600)
    feeds["nypost"].items = [PLAGUE_NYPOST]
    await run_once(cfg, clock)
    assert len(receiver.messages) == 1

    real_add = repo.add_outbox

    def crash_on_follow_up(conn: Any, rows: Any, *args: Any, **kwargs: Any) -> int:
        if any(row.event is not None for row in rows):
            raise OSError("disk full")  # after the event was updated, in the same transaction
        return real_add(conn, rows, *args, **kwargs)

    monkeypatch.setattr(repo, "add_outbox", crash_on_follow_up)
    clock.advance(600)
    feeds["sun"].items = [PLAGUE_SUN]
    await run_once(cfg, clock)
    assert await stored_events(cfg, clock) == [(1, 0)]  # the write-up left no trace

    monkeypatch.setattr(repo, "add_outbox", real_add)
    clock.advance(600)
    await run_once(cfg, clock)  # the next poll reads it again as new
    assert await stored_events(cfg, clock) == [(2, 1)]
    clock.advance(FOLLOW_UP)
    await run_once(cfg, clock)
    clock.advance(FOLLOW_UP)
    await run_once(cfg, clock)
    assert [m.title.split(": ", 1)[1].split(" (")[0] for m in receiver.messages[1:]] == ["the story develops"]
