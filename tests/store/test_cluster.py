"""Instances sharing one database: source and destination leases, membership and migrations
started at once, on both engines (PostgreSQL is where several instances really share one)."""

from __future__ import annotations

import threading

from monitor.models import MessageKind, OutboxStatus
from monitor.store import cluster, repo
from monitor.store.db import Database
from monitor.store.migrations import latest
from monitor.store.payload import AlertPayload


def claim(db: Database, owner: str, now: float, *, until: float | None = None, force: bool = False) -> cluster.SourceClaim:
    with db.write() as conn:
        return cluster.claim_source(
            conn, "wire", kind="feed", url_hash="h", owner=owner, now=now, until=until or now + 60, force=force
        )


def test_a_source_is_leased_to_one_instance_until_its_poll_is_recorded_then_waits_for_its_interval(
    db: Database,
) -> None:
    assert claim(db, "a", 100.0).claimed
    refused = claim(db, "b", 101.0)
    assert (refused.claimed, refused.owner, refused.lease_until) == (False, "a", 160.0)
    assert claim(db, "a", 102.0).claimed  # its own lease: taken again (a retried claim)
    with db.write() as conn:
        state = repo.get_source(conn, "wire")
        assert state is not None and state.primed_at is None  # a new source: its first poll primes
        state.next_poll_at, state.polled_by = 400.0, "a"
        repo.save_source(conn, state)  # the poll's outcome frees the lease
    not_due = claim(db, "b", 300.0)
    assert (not_due.claimed, not_due.next_poll_at, not_due.owner) == (False, 400.0, None)
    assert claim(db, "b", 300.0, force=True).claimed  # `once` polls every source, due or not
    with db.write() as conn:
        cluster.release_source(conn, "wire", "b")
    assert claim(db, "b", 400.0).claimed
    with db.read() as conn:
        assert cluster.last_pollers(conn) == {"wire": "a"}


def test_the_lease_of_a_dead_instance_is_taken_once_it_ends(db: Database) -> None:
    assert claim(db, "dead", 100.0, until=130.0).claimed
    assert not claim(db, "b", 129.9).claimed
    assert claim(db, "b", 130.0).claimed
    with db.read() as conn:
        assert (cluster.leases_held(conn, "b", 131.0), cluster.leases_held(conn, "dead", 131.0)) == (1, 0)


def test_of_many_instances_claiming_at_once_exactly_one_gets_the_source(db_url: str, db: Database) -> None:
    winners: list[str] = []
    start = threading.Barrier(6)

    def instance(owner: str) -> None:
        mine = Database(db_url)
        try:
            start.wait()
            if claim(mine, owner, 100.0).claimed:
                winners.append(owner)
        finally:
            mine.engine.dispose()

    threads = [threading.Thread(target=instance, args=(f"i{k}",)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def alert(key: str) -> repo.OutboxRow:
    return repo.OutboxRow(
        key=key, kind=MessageKind.ALERT, rule="r", target="t", dest="d", payload=AlertPayload(), due_at=1.0
    )


def test_a_destination_is_delivered_by_one_instance_and_a_dead_ones_sends_come_back_first(db: Database) -> None:
    with db.write() as conn:
        repo.add_outbox(conn, [alert("nm-1"), alert("nm-2")], [], now=1.0)
        ids = [e.id for e in repo.list_outbox(conn, [OutboxStatus.PENDING])]
        assert cluster.claim_destination(conn, "d", "t", owner="dead", now=10.0, until=20.0)
        assert cluster.extend_destination(conn, "d", owner="dead", until=50.0)  # a row claim of its round
        assert repo.claim(conn, ids[:1], 50.0) == ids[:1]
    with db.write() as conn:
        assert not cluster.claim_destination(conn, "d", "t", owner="b", now=49.0, until=100.0)
        assert repo.due_destinations(conn, 49.0, shared=True) == ["d"]  # nm-2 is due
        assert not cluster.extend_destination(conn, "d", owner="b", until=100.0)
    with db.write() as conn:
        assert cluster.claim_destination(conn, "d", "t", owner="b", now=50.0, until=100.0)
        back = repo.recover_interrupted(conn, 50.0, "cut off", dest="d")
        assert [e.key for e in back] == ["nm-1"]
    with db.read() as conn:
        rows = {e.key: e for e in repo.list_outbox(conn, [OutboxStatus.PENDING])}
    assert rows["nm-1"].id < rows["nm-2"].id and rows["nm-1"].next_attempt_at == 50.0
    with db.write() as conn:
        cluster.release_destination(conn, "d", "b")
        assert cluster.claim_destination(conn, "d", "t", owner="c", now=51.0, until=60.0)


def test_a_live_instances_send_in_flight_is_never_taken(db: Database) -> None:
    with db.write() as conn:
        repo.add_outbox(conn, [alert("nm-1")], [], now=1.0)
        ids = [e.id for e in repo.list_outbox(conn, [OutboxStatus.PENDING])]
        repo.claim(conn, ids, 100.0)
        assert repo.recover_interrupted(conn, 50.0, "x", dest="d") == []
        assert repo.due_destinations(conn, 50.0, shared=True) == []


def test_membership_rows_beat_and_silent_ones_go(db: Database) -> None:
    with db.write() as conn:
        for name, beat in (("a", 100.0), ("b", 40.0)):
            cluster.heartbeat(conn, cluster.Member(name, "host", 1, 1.0, beat, "cfg", leases=2, lag=0.5))
    with db.read() as conn:
        assert [m.id for m in cluster.members(conn, since=90.0)] == ["a"]
        assert [m.id for m in cluster.members(conn)] == ["a", "b"]
    with db.write() as conn:
        assert cluster.forget_silent(conn, 50.0) == 1
        cluster.leave(conn, "a")
        assert cluster.members(conn) == []


def test_instances_starting_at_once_migrate_once(db_url: str) -> None:
    versions: list[int] = []
    errors: list[Exception] = []
    start = threading.Barrier(4)

    def instance() -> None:
        mine = Database(db_url)
        try:
            start.wait()
            versions.append(mine.migrate())
        except Exception as exc:
            errors.append(exc)
        finally:
            mine.close()

    threads = [threading.Thread(target=instance) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and versions == [latest()] * 4


def test_a_stopping_instance_frees_its_leases_and_only_its_own(db: Database) -> None:
    assert claim(db, "stopping", 100.0, until=400.0).claimed
    with db.write() as conn:
        cluster.claim_source(conn, "other", kind="feed", url_hash="h", owner="b", now=100.0, until=400.0)
        assert cluster.claim_destination(conn, "d", "t", owner="stopping", now=100.0, until=400.0)
        assert cluster.release_all(conn, "stopping") == (1, 1)
    assert claim(db, "c", 101.0).claimed  # at once, not at 400
    with db.write() as conn:
        assert cluster.claim_destination(conn, "d", "t", owner="c", now=101.0, until=200.0)
        assert cluster.leases_held(conn, "b", 101.0) == 1
        assert cluster.release_all(conn, "stopping") == (0, 0)
