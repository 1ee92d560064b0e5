"""The store facade: each named operation is one transaction on the one database thread, and
what a policy function decides inside a transaction is written in the order the daemon relies on."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from monitor.models import MessageKind, OutboxStatus
from monitor.store import repo
from monitor.store.db import Database
from monitor.store.facade import FailurePlan, Store
from monitor.store.payload import AlertPayload, NoticePayload


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    database = Database(db_url)
    database.migrate()
    store = Store(database)
    yield store
    store.close()


def alert(key: str, dest: str = "d", *, target: str = "t", due_at: float = 1.0) -> repo.OutboxRow:
    return repo.OutboxRow(
        key=key,
        kind=MessageKind.ALERT,
        rule="r",
        target=target,
        dest=dest,
        payload=AlertPayload(),
        due_at=due_at,
    )


def seed(store: Store, rows: list[repo.OutboxRow], now: float = 1.0) -> list[repo.OutboxEntry]:
    with store.database.write() as conn:
        repo.add_outbox(conn, rows, [], now)
    with store.database.read() as conn:
        return repo.list_outbox(conn, list(OutboxStatus))


def outbox(store: Store) -> dict[str, repo.OutboxEntry]:
    with store.database.read() as conn:
        return {e.key: e for e in repo.list_outbox(conn, list(OutboxStatus))}


def destination(store: Store, dest: str = "d") -> repo.DestinationState | None:
    with store.database.read() as conn:
        return repo.get_destination(conn, dest)


@dataclass(frozen=True)
class Told:
    subject: str
    rows: tuple[repo.OutboxRow, ...] = ()


# ---------------------------------------------------------------------------- the thread


async def test_policies_run_inside_the_transaction_on_the_one_database_thread(store: Store) -> None:
    entries = seed(store, [alert("a")])
    threads: list[threading.Thread] = []

    def decide(state: repo.DestinationState) -> FailurePlan:
        threads.append(threading.current_thread())
        return FailurePlan(error="e", retry_at=5.0, solo=True)

    def plan(last: Mapping[str, float]) -> list[Told]:
        threads.append(threading.current_thread())
        return []

    await store.record_failure([entries[0].id], dest="d", target="t", now=2.0, decide=decide)
    await store.add_health_notices(["x"], 2.0, plan)
    assert len({t.ident for t in threads}) == 1
    assert threads[0] is not threading.main_thread() and threads[0].name.startswith("newsmonitor-db")


# ---------------------------------------------------------------------------- delivery


async def test_due_pending_and_next_due(store: Store) -> None:
    seed(store, [alert("a", "d1", due_at=5.0), alert("b", "d2", due_at=20.0), alert("c", "d1", due_at=8.0)])
    assert await store.next_due() == 5.0
    assert await store.due_destinations(4.0) == []
    assert await store.due_destinations(10.0) == ["d1"]
    assert [e.key for e in await store.pending_for("d1", 10.0)] == ["a", "c"]
    assert await store.pending_for("d2", 10.0) == []


async def test_destination_is_fresh_before_its_first_send(store: Store) -> None:
    assert await store.destination("d", "t") == repo.DestinationState(dest="d", target="t")


async def test_mark_sent_clears_the_backoff_and_keeps_the_window_of_the_send_log(store: Store) -> None:
    entries = seed(store, [alert("a"), alert("b")])
    with store.database.write() as conn:
        repo.save_destination(
            conn,
            repo.DestinationState(
                dest="d",
                target="old",
                failures=3,
                blocked_until=500.0,
                last_error="down",
                sent_log=(10.0, 50.0, 90.0),
            ),
        )
    await store.mark_sent([entries[0].id], dest="d", target="t", now=100.0, keep_sends_after=50.0)
    rows = outbox(store)
    assert (rows["a"].status, rows["a"].sent_at, rows["a"].attempts) == (OutboxStatus.SENT, 100.0, 1)
    assert (rows["b"].status, rows["b"].attempts) == (OutboxStatus.PENDING, 0)
    assert destination(store) == repo.DestinationState(
        dest="d", target="t", failures=0, blocked_until=None, last_success_at=100.0, sent_log=(90.0, 100.0)
    )


async def test_a_retry_counts_the_attempt_and_leaves_the_destination_alone(store: Store) -> None:
    entries = seed(store, [alert("a")])
    seen: list[repo.DestinationState] = []

    def decide(state: repo.DestinationState) -> FailurePlan:
        seen.append(state)
        return FailurePlan(error="HTTP 500", retry_at=40.0, solo=True)

    plan = await store.record_failure([entries[0].id], dest="d", target="t", now=10.0, decide=decide)
    assert plan.retry_at == 40.0 and seen == [repo.DestinationState(dest="d", target="t")]
    row = outbox(store)["a"]
    assert (row.status, row.attempts, row.solo_failures, row.next_attempt_at) == (OutboxStatus.PENDING, 1, 1, 40.0)
    assert (row.first_failed_at, row.last_error) == (10.0, "HTTP 500")
    assert destination(store) is None


async def test_a_backoff_saves_the_destination_and_holds_all_its_rows(store: Store) -> None:
    entries = seed(store, [alert("a"), alert("b", due_at=30.0), alert("c", "other")])

    def decide(state: repo.DestinationState) -> FailurePlan:
        blocked = replace(state, failures=state.failures + 1, blocked_until=70.0, last_error="down")
        return FailurePlan(error="down", retry_at=70.0, solo=False, destination=blocked)

    await store.record_failure([entries[0].id], dest="d", target="t", now=10.0, decide=decide)
    rows = outbox(store)
    # the send was a try, though not one that counts towards poison
    assert (rows["a"].attempts, rows["a"].solo_failures) == (1, 0)
    assert (rows["a"].next_attempt_at, rows["a"].first_failed_at) == (70.0, 10.0)
    assert rows["b"].next_attempt_at == 70.0 and rows["b"].first_failed_at is None  # held, not failed
    assert rows["b"].attempts == 0
    assert rows["c"].next_attempt_at == 1.0
    state = destination(store)
    assert state is not None and (state.failures, state.blocked_until, state.last_error) == (1, 70.0, "down")


async def test_a_dead_plan_gives_up_on_the_rows(store: Store) -> None:
    entries = seed(store, [alert("a")])
    plan = FailurePlan(error="e", retry_at=0.0, solo=True, dead_reason="poison: failed 8 times")
    await store.record_failure([entries[0].id], dest="d", target="t", now=10.0, decide=lambda _state: plan)
    row = outbox(store)["a"]
    assert (row.status, row.last_error, row.attempts) == (OutboxStatus.DEAD, "poison: failed 8 times", 1)


async def test_a_failure_is_written_all_or_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = seed(store, [alert("a")])

    def broken(conn: object, state: repo.DestinationState) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(repo, "save_destination", broken)
    blocked = repo.DestinationState(dest="d", target="t", failures=1, blocked_until=70.0)
    plan = FailurePlan(error="down", retry_at=70.0, solo=True, destination=blocked)
    with pytest.raises(RuntimeError, match="disk full"):
        await store.record_failure([entries[0].id], dest="d", target="t", now=10.0, decide=lambda _s: plan)
    row = outbox(store)["a"]
    assert (row.attempts, row.next_attempt_at, row.first_failed_at, row.last_error) == (0, 1.0, None, None)
    assert row.solo_failures == 0


async def test_mark_dead_cancel_and_throttle_hold(store: Store) -> None:
    a, b, c, _d = seed(store, [alert("a"), alert("b"), alert("c"), alert("d")])
    await store.mark_dead([a.id], "render failed", tried=False, now=1.0)
    await store.cancel([b.id], "destination removed from the configuration", now=1.0)
    await store.cancel([], "nothing", now=1.0)
    await store.hold_for_throttle([c.id], 3600.0)
    rows = outbox(store)
    assert (rows["a"].status, rows["a"].last_error, rows["a"].attempts) == (OutboxStatus.DEAD, "render failed", 0)
    assert rows["b"].status is OutboxStatus.CANCELLED
    assert (rows["c"].next_attempt_at, rows["c"].due_at, rows["c"].digest) == (3600.0, 3600.0, "throttle")
    assert (rows["d"].next_attempt_at, rows["d"].digest) == (1.0, None)


async def test_cluster_sources_in_the_order_seen(store: Store) -> None:
    stories = [
        repo.NewStory(
            source=src, title="t", url=f"http://x.test/{i}", published=None, keys=[f"k{i}"], cluster=cl
        )
        for i, (src, cl) in enumerate([("wire", "c1"), ("daily", "c1"), ("wire", "c2"), ("weekly", "c1")])
    ]
    with store.database.write() as conn:
        repo.add_stories(conn, stories, 1.0)
    found = await store.cluster_sources(["c1", "c2", "nowhere"])
    assert found == {"c1": ["wire", "daily", "weekly"], "c2": ["wire"], "nowhere": []}


# ---------------------------------------------------------------------------- status and health


async def test_overview_reads_sources_and_outbox(store: Store) -> None:
    a, _b, c = seed(store, [alert("a", target="chat"), alert("b"), alert("c", target="mail")], now=7.0)
    await store.mark_dead([a.id, c.id], "gone", tried=True, now=1.0)
    with store.database.write() as conn:
        for name in ("zeta", "alpha"):
            note = "feed has 2500 entries, first 2000 read" if name == "zeta" else None
            repo.save_source(conn, repo.SourceState(name=name, polls=2, listing_note=note))
    overview = await store.overview()
    assert list(overview.sources) == ["alpha", "zeta"] and overview.sources["zeta"].polls == 2
    # the notes are joined from ``meta`` by a key built in SQL: on both engines
    assert overview.sources["zeta"].listing_note == "feed has 2500 entries, first 2000 read"
    assert overview.sources["alpha"].listing_note is None
    assert overview.outbox == {OutboxStatus.PENDING: 1, OutboxStatus.DEAD: 2}
    assert await store.outbox_counts() == overview.outbox
    assert overview.oldest_pending == 1.0  # the earliest due time, not when the row was written
    assert overview.dead_by_target == {"chat": 1, "mail": 1}


async def test_the_oldest_pending_alert_counts_from_its_due_time(store: Store) -> None:
    # written at 100: one held until 5000 (quiet hours, a digest), one due at once, one sent
    held, now, sent = seed(store, [alert("held", due_at=5000.0), alert("now", due_at=100.0), alert("sent")], 100.0)
    await store.mark_sent([sent.id], dest="d", target="t", now=100.0, keep_sends_after=0.0)
    assert (await store.overview()).oldest_pending == 100.0
    # the hourly throttle holds the due one until 3700: its wait starts then
    await store.hold_for_throttle([now.id], 3700.0)
    assert (await store.overview()).oldest_pending == 3700.0
    await store.hold_for_throttle([held.id], 3700.0)  # a hold never makes a row due earlier
    assert outbox(store)["held"].due_at == 5000.0
    await store.mark_dead([now.id], "gone", tried=True, now=1.0)
    assert (await store.overview()).oldest_pending == 5000.0
    await store.mark_dead([held.id], "gone", tried=True, now=1.0)
    assert (await store.overview()).oldest_pending is None


async def test_health_notices_remember_when_each_subject_was_told(store: Store) -> None:
    note = repo.OutboxRow(
        key="h1",
        kind=MessageKind.HEALTH,
        rule="(health)",
        target="ops",
        dest="o",
        payload=NoticePayload(note="source down"),
        due_at=100.0,
        urgent=True,
    )
    asked: list[dict[str, float]] = []

    def plan(last: Mapping[str, float]) -> list[Told]:
        asked.append(dict(last))
        return [] if asked[1:] else [Told("source:a", (note,)), Told("pending")]

    told = await store.add_health_notices(["source:a", "pending", "dead:x"], 100.0, plan)
    assert [t.subject for t in told] == ["source:a", "pending"]
    assert outbox(store)["h1"].payload == NoticePayload(note="source down")
    assert await store.add_health_notices(["source:a", "pending", "dead:x"], 160.0, plan) == []
    assert asked == [{}, {"source:a": 100.0, "pending": 100.0}]


# ---------------------------------------------------------------------------- sources and stories


def story(i: int, source: str = "wire") -> repo.NewStory:
    return repo.NewStory(
        source=source, title=f"t{i}", url=f"http://x.test/{i}", published=None, keys=[f"url:{i}", f"guid:{i}"]
    )


async def test_open_migrates_and_holds_the_lock(tmp_path: Path) -> None:
    from monitor.errors import StoreError

    url = f"sqlite:///{tmp_path}/lock.db"
    first, second = Store(Database(url)), Store(Database(url))
    try:
        assert await first.open() == first.database.version() > 0
        with pytest.raises(StoreError, match="already using the database"):
            await second.open()
    finally:
        first.close()
        second.close()


async def test_source_states_round_trip(store: Store) -> None:
    assert await store.source_state("wire") is None
    await store.save_source(repo.SourceState(name="wire", polls=3, etag='"v1"'))
    await store.save_source(repo.SourceState(name="blog"))
    state = await store.source_state("wire")
    assert state is not None and (state.polls, state.etag) == (3, '"v1"')
    assert list(await store.source_states()) == ["blog", "wire"]


async def test_record_poll_is_one_transaction_in_order(store: Store) -> None:
    with store.database.write() as conn:
        (old,) = repo.add_stories(conn, [story(0)], 1.0)
    state = repo.SourceState(name="wire", polls=1, failures=3, stories_total=1)
    first = repo.OutboxRow(
        key="o1",
        kind=MessageKind.ALERT,
        rule="r",
        target="t",
        dest="d",
        payload=AlertPayload(),
        due_at=50.0,
        story_index=1,
    )
    ids = await store.record_poll(
        state, [story(1), story(2)], listed={old}, extra_keys={old: ["title:zero"]}, rows=[first], now=50.0
    )
    assert state.listed_ids == sorted([old, *ids])
    assert (state.polls, state.failures, state.stories_total, state.last_ok_at) == (2, 0, 3, 50.0)
    assert await store.find_seen(["guid:1", "guid:2", "title:zero", "guid:9"]) == {
        "guid:1": ids[0],
        "guid:2": ids[1],
        "title:zero": old,
    }
    assert outbox(store)["o1"].story_id == ids[1]
    assert await store.source_state("wire") == state
    # nothing of a poll whose transaction fails is kept
    broken = replace(first, key="o2", story_index=5)  # no such story: the transaction fails
    with pytest.raises(IndexError):
        await store.record_poll(state, [story(3)], listed=set(), extra_keys={}, rows=[broken], now=60.0)
    assert await store.find_seen(["guid:3"]) == {}


async def test_an_unchanged_poll_keeps_what_it_lists_from_pruning(store: Store) -> None:
    with store.database.write() as conn:
        kept, _gone = repo.add_stories(conn, [story(1), story(2)], 10.0)
    state = repo.SourceState(name="wire", listed_ids=[kept], failures=2, polls=4)
    await store.record_unchanged(state, 100.0)
    assert (state.failures, state.polls, state.last_ok_at) == (0, 5, 100.0)
    assert await store.source_state("wire") == state
    assert await store.prune(older_than=50.0) == 1
    assert await store.find_seen(["guid:1", "guid:2"]) == {"guid:1": kept}


async def test_recent_signatures_since(store: Store) -> None:
    with store.database.write() as conn:
        repo.add_stories(conn, [replace(story(1), cluster="c1", title_key="tk")], 10.0)
        repo.add_stories(conn, [replace(story(2), cluster="c2")], 20.0)
    assert await store.recent_signatures(15.0) == [("c2", None, None, 20.0)]
