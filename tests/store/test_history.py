"""The stored history: texts kept compressed with their stories, matches and alert outcomes
recorded in the transactions that make them, read back in pages, pruned in bounded batches."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from monitor.models import MessageKind, OutboxStatus
from monitor.store import history, repo
from monitor.store.db import Database
from monitor.store.facade import FailurePlan, Store
from monitor.store.payload import AlertPayload
from monitor.store.schema import alert_history, rule_matches, stories, story_texts

ARTICLE = (
    "Japan and Britain agreed on Tuesday to deepen defence cooperation, including joint work on "
    "rare earths supply chains, officials said. The agreement follows months of talks. "
) * 12


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    database = Database(f"sqlite:///{tmp_path}/h.db")
    database.migrate()
    store = Store(database)
    yield store
    store.close()


def story(n: int, *, source: str = "wire", text: str = "", lang: str | None = "en") -> repo.NewStory:
    return repo.NewStory(
        source=source,
        title=f"Story {n}",
        url=f"https://news.example/{n}",
        published=None,
        keys=[f"k{n}"],
        lang=lang,
        text=text or f"Body of story {n}.",
    )


def alert(key: str, story_index: int | None = 0, *, rule: str = "r", dest: str = "d") -> repo.OutboxRow:
    return repo.OutboxRow(
        key=key,
        kind=MessageKind.ALERT,
        rule=rule,
        target="chat",
        dest=dest,
        payload=AlertPayload(title="t"),
        due_at=1.0,
        story_index=story_index,
    )


async def record(
    store: Store,
    stories_: list[repo.NewStory],
    now: float,
    *,
    source: str = "wire",
    rows: list[repo.OutboxRow] | None = None,
    matches: list[tuple[int, str]] | None = None,
) -> list[int]:
    return await store.record_poll(
        repo.SourceState(name=source),
        stories_,
        listed=(),
        extra_keys={},
        rows=rows or [],
        now=now,
        matches=matches or [],
    )


def count(store: Store, table: Any) -> int:
    with store.database.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)


# ---------------------------------------------------------------------------- compression


@given(st.text())
@example("")
@example("\ud800 a lone surrogate, as a JSON line may decode to")
@example("Ünïcödé and 日本語 and emoji 🗞️")
def test_compression_round_trips_any_text(text: str) -> None:
    assert history.decode_text(history.encode_text(text)) == text


def test_compression_stores_a_news_text_in_less_than_half_its_size() -> None:
    data = history.encode_text(ARTICLE)
    assert data[:1] == b"\x78"  # a zlib stream, readable by any zlib
    assert len(data) < len(ARTICLE.encode()) / 2
    with pytest.raises(zlib.error):
        history.decode_text(b"not a zlib stream")


async def test_a_poll_keeps_each_story_text_compressed_and_its_matches(store: Store) -> None:
    ids = await record(
        store,
        [story(1, text=ARTICLE), story(2, lang="de-AT-x-some-very-long-private-use-subtag-list")],
        100.0,
        matches=[(0, "japan"), (0, "earths"), (1, "japan")],
    )
    with store.database.read() as conn:
        raw = {sid: (lang, data) for sid, lang, data in conn.execute(select(story_texts))}
        matched = sorted(conn.execute(select(rule_matches.c.rule, rule_matches.c.story_id, rule_matches.c.source,
                                             rule_matches.c.matched_at)))
    assert len(raw[ids[0]][1]) < len(ARTICLE) / 2  # stored compressed
    assert raw[ids[1]][0] == "de-AT-x-some-very-long-private-use-"  # a language tag is kept to 35 characters
    assert matched == [("earths", ids[0], "wire", 100.0), ("japan", ids[0], "wire", 100.0),
                       ("japan", ids[1], "wire", 100.0)]
    (first, second) = await store.story_history(since=0.0, until=200.0)
    assert (first.id, first.title, first.url, first.source, first.lang, first.text, first.first_seen) == (
        ids[0], "Story 1", "https://news.example/1", "wire", "en", ARTICLE, 100.0
    )
    assert second.text == "Body of story 2."


async def test_a_story_of_a_known_id_relisted_by_another_source_is_matched_under_its_id(store: Store) -> None:
    (old,) = await record(store, [story(1)], 100.0)
    (new,) = await store.record_poll(
        repo.SourceState(name="daily"), [story(2, source="daily")], listed=(), extra_keys={}, rows=[],
        now=200.0, relisted=[old], matches=[(1, "limited")],
    )
    activity = await store.match_activity(since=0.0, until=300.0)
    assert activity.times == {"limited": [200.0]}
    with store.database.read() as conn:
        assert list(conn.execute(select(rule_matches.c.story_id, rule_matches.c.source))) == [(old, "daily")]
    assert new != old


# ---------------------------------------------------------------------------- reading in pages


async def test_pages_cover_a_window_once_in_the_order_first_seen(store: Store) -> None:
    # three polls of 4, 3 and 5 stories: many stories share a first-seen time
    for poll, (n, now) in enumerate([(4, 100.0), (3, 200.0), (5, 300.0)]):
        await record(store, [story(poll * 10 + i, source="wire" if i % 2 else "daily") for i in range(n)], now)
    await record(store, [story(99)], 400.0)  # after the window
    seen: list[history.StoredStory] = []
    page = await store.story_history(since=100.0, until=400.0, limit=2)
    while page:
        seen.extend(page)
        last = page[-1]
        page = await store.story_history(since=last.first_seen, after=last.id, until=400.0, limit=2)
    assert [s.first_seen for s in seen] == [100.0] * 4 + [200.0] * 3 + [300.0] * 5
    assert len({s.id for s in seen}) == 12 and [s.id for s in seen] == sorted(s.id for s in seen)
    # a window that starts inside the second poll, and one source only
    assert [s.first_seen for s in await store.story_history(since=150.0, until=400.0)] == [200.0] * 3 + [300.0] * 5
    daily = await store.story_history(since=0.0, until=1000.0, sources={"daily"})
    assert {s.source for s in daily} == {"daily"} and len(daily) == 2 + 2 + 3
    assert await store.story_history(since=0.0, until=1000.0, sources=set()) == []


async def test_a_story_recorded_before_the_history_has_no_text(store: Store) -> None:
    with store.database.write() as conn:
        repo.add_stories(conn, [story(1)], 50.0)  # as the daemon recorded stories before v7
    (old,) = await store.story_history(since=0.0, until=100.0)
    assert (old.title, old.text, old.lang) == ("Story 1", None, None)


# ---------------------------------------------------------------------------- alert outcomes


async def test_every_way_an_alert_ends_is_recorded_once(store: Store) -> None:
    ids = await record(store, [story(1), story(2)], 10.0, rows=[
        alert("sent", 0), alert("dead", 1), alert("poison", 1, dest="e"), alert("gone", 0, dest="f"),
        alert("failed", 0, dest="g"),
    ])
    with store.database.read() as conn:
        rows = {e.key: e.id for e in repo.list_outbox(conn, list(OutboxStatus))}
    await store.mark_sent([rows["sent"]], dest="d", target="chat", now=20.0, keep_sends_after=0.0)
    await store.mark_sent([rows["sent"]], dest="d", target="chat", now=25.0, keep_sends_after=0.0)  # no longer pending
    secret = "json://user:hunter22@hooks.example/x"
    await store.mark_dead([rows["dead"]], f"HTTP 401 from {secret}", tried=True, now=30.0)
    await store.record_failure(
        [rows["poison"]], dest="e", target="chat", now=40.0,
        decide=lambda _s: FailurePlan(error="e", retry_at=50.0, solo=True, dead_reason="poison: failed 3 times"),
    )
    await store.record_failure(  # a failure that is retried is no outcome yet
        [rows["failed"]], dest="g", target="chat", now=40.0,
        decide=lambda _s: FailurePlan(error="down", retry_at=50.0, solo=False),
    )
    await store.cancel([rows["gone"]], "destination removed from the configuration", now=45.0)
    records = await store.alert_history(since=0.0, until=100.0)
    assert [(r.key, r.outcome, r.at, r.dest, r.target, r.rule) for r in records] == [
        ("sent", OutboxStatus.SENT, 20.0, "d", "chat", "r"),
        ("dead", OutboxStatus.DEAD, 30.0, "d", "chat", "r"),
        ("poison", OutboxStatus.DEAD, 40.0, "e", "chat", "r"),
        ("gone", OutboxStatus.CANCELLED, 45.0, "f", "chat", "r"),
    ]
    dead = records[1]
    assert dead.error == "HTTP 401 from json://***@hooks.example/x"  # redacted before it is written
    assert (dead.story_id, dead.title, dead.url, dead.kind) == (ids[1], "Story 2", "https://news.example/2",
                                                                 MessageKind.ALERT)
    assert records[0].error is None
    # filtered by rule and outcome; the newest when limited, still oldest first
    assert [r.key for r in await store.alert_history(since=0.0, until=100.0, outcomes={OutboxStatus.DEAD})] == [
        "dead", "poison"]
    assert [r.key for r in await store.alert_history(since=0.0, until=100.0, limit=2)] == ["poison", "gone"]
    assert await store.alert_history(since=0.0, until=100.0, rule="other") == []
    assert (await store.match_activity(since=0.0, until=100.0)).sent == {"r": 1}


async def test_match_activity_counts_the_window_and_remembers_the_last_match(store: Store) -> None:
    await record(store, [story(1)], 10.0, matches=[(0, "old")])
    await record(store, [story(2), story(3)], 100.0, matches=[(0, "busy"), (1, "busy")])
    await record(store, [story(4)], 150.0, matches=[(0, "busy")])
    activity = await store.match_activity(since=50.0, until=200.0)
    assert activity.times == {"busy": [100.0, 100.0, 150.0]}
    assert activity.last == {"old": 10.0, "busy": 150.0}
    assert activity.sent == {}


# ---------------------------------------------------------------------------- pruning


class Transactions:
    """The statements of every transaction the engine runs, as (kind, table) in order."""

    def __init__(self, database: Database) -> None:
        self.done: list[list[tuple[str, str]]] = []
        self.current: list[tuple[str, str]] = []
        self.rows: list[dict[str, int]] = []
        self._rows: dict[str, int] = {}
        event.listen(database.engine, "after_cursor_execute", self._statement)
        event.listen(database.engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, _many: bool) -> None:
        words = statement.split()
        kind = words[0].upper()
        table = words[words.index("FROM") + 1] if "FROM" in words else ""
        self.current.append((kind, table))
        if kind == "DELETE":
            self._rows[table] = self._rows.get(table, 0) + max(_cursor.rowcount, 0)

    def _commit(self, _conn: Any) -> None:
        self.done.append(self.current)
        self.rows.append(self._rows)
        self.current, self._rows = [], {}


async def test_retention_prunes_in_bounded_batches_that_let_other_work_in(store: Store) -> None:
    ids = await record(
        store, [story(i, text=ARTICLE) for i in range(25)], 10.0,
        rows=[alert(f"a{i}", i) for i in range(25)], matches=[(i, "r") for i in range(25)],
    )
    with store.database.read() as conn:
        sent = [e.id for e in repo.list_outbox(conn, list(OutboxStatus))]
    await store.mark_sent(sent, dest="d", target="chat", now=11.0, keep_sends_after=0.0)
    kept = await record(store, [story(100, text=ARTICLE)], 500.0, matches=[(0, "r")])  # newer than the cutoff
    with store.database.write() as conn:
        repo.touch_listed(conn, ids[:3], 500.0)  # still listed: never pruned, texts kept
    watch = Transactions(store.database)

    pruning = asyncio.create_task(store.prune(100.0, batch=10))
    await asyncio.sleep(0)  # the first batch is on the database thread
    assert await store.source_state("wire") is not None  # queued behind it, not behind the whole prune
    pruned = await pruning

    assert pruned == 22 + 25 + 25 + 25  # stories, sent outbox rows, matches, alert outcomes
    for rows in watch.rows:
        assert all(n <= 10 for n in rows.values()), rows  # at most one batch of each table a transaction
    deletes = [i for i, statements in enumerate(watch.done) if ("DELETE", "stories") in statements]
    reads = [i for i, statements in enumerate(watch.done) if ("SELECT", "sources") in statements]
    assert len(deletes) == 3 and deletes[0] < reads[0] < deletes[-1]
    left = await store.story_history(since=0.0, until=1000.0)
    assert [s.id for s in left] == [*ids[:3], *kept] and all(s.text == ARTICLE for s in left)
    assert count(store, story_texts) == 4 and count(store, stories) == 4
    assert count(store, rule_matches) == 1 and count(store, alert_history) == 0
    assert await store.prune(100.0, batch=10) == 0


# ---------------------------------------------------------------------------- size


async def test_the_database_size_is_the_file_and_its_log(tmp_path: Path, store: Store) -> None:
    before = await store.database_bytes()
    await record(store, [story(i, text=ARTICLE + str(i)) for i in range(50)], 10.0)
    after = await store.database_bytes()
    files = [tmp_path / "h.db", tmp_path / "h.db-wal"]
    assert after == sum(f.stat().st_size for f in files if f.exists())
    assert before is not None and after is not None and after > before
    memory = Database("sqlite://")
    memory.migrate()
    size = memory.size_bytes()
    assert size is not None and size > 0
    memory.close()
