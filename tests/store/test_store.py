"""The store: migrations, seen keys, outbox uniqueness, pruning that never causes a re-alert, locking."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from monitor.errors import StoreError
from monitor.identity.keys import destination_id, idempotency_key, story_keys
from monitor.models import MessageKind, OutboxStatus
from monitor.store import repo, schema
from monitor.store.db import Database
from monitor.store.migrations import latest
from monitor.store.payload import AlertPayload


def new_story(i: int, source: str = "wire") -> repo.NewStory:
    return repo.NewStory(
        source=source,
        title=f"t{i}",
        url=f"http://x.test/{i}",
        published=None,
        keys=[f"url:http://x.test/{i}", f"guid:{i}"],
    )


def alert_row(key: str) -> repo.OutboxRow:
    return repo.OutboxRow(
        key=key, kind=MessageKind.ALERT, rule="r", target="t", dest="d", payload=AlertPayload(), due_at=1.0
    )


def test_migrate_is_idempotent_and_versioned(db: Database) -> None:
    assert db.version() == latest()
    assert db.migrate() == latest()
    assert db.version() == latest()


def test_database_file_is_private(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/s.db")
    db.migrate()
    db.close()
    mode = (tmp_path / "s.db").stat().st_mode & 0o777
    assert mode == 0o600


def test_seen_by_any_key(db: Database) -> None:
    with db.write() as conn:
        sid = repo.add_story(conn, new_story(1), now=100.0)
    with db.read() as conn:
        assert repo.find_seen(conn, ["guid:1", "url:nope"]) == {"guid:1": sid}
        assert repo.find_seen(conn, ["url:http://x.test/1"]) == {"url:http://x.test/1": sid}


def test_outbox_key_is_unique(db: Database) -> None:
    row = alert_row("nm-1")
    with db.write() as conn:
        assert repo.add_outbox(conn, [row], [], 1.0) == 1
        assert repo.add_outbox(conn, [row], [], 2.0) == 0
    with db.read() as conn:
        assert repo.outbox_counts(conn) == {"pending": 1}


def test_prune_never_removes_a_story_still_listed(db: Database) -> None:
    with db.write() as conn:
        old = repo.add_story(conn, new_story(1), now=0.0)
        listed = repo.add_story(conn, new_story(2), now=0.0)
        repo.touch_listed(conn, [listed], now=1000.0)  # still on the source's page
    with db.write() as conn:
        assert repo.prune(conn, older_than=500.0) == 1
    with db.read() as conn:
        seen = repo.find_seen(conn, ["guid:1", "guid:2"])
    assert seen == {"guid:2": listed}
    assert old not in seen.values()


def test_prune_works_in_batches(db: Database) -> None:
    with db.write() as conn:
        for i in range(25):
            repo.add_story(conn, new_story(i), now=0.0)
    counts = []
    while True:
        with db.write() as conn:
            n = repo.prune(conn, older_than=10.0, batch=10)
        counts.append(n)
        if n == 0:
            break
    assert counts == [10, 10, 5, 0]


def test_idempotency_key_depends_on_rule_story_destination_only() -> None:
    a = idempotency_key("rule", "url:x", destination_id("json://h/1"))
    assert a == idempotency_key("rule", "url:x", destination_id("json://h/1"))
    assert a != idempotency_key("rule2", "url:x", destination_id("json://h/1"))
    assert a != idempotency_key("rule", "url:y", destination_id("json://h/1"))
    assert a != idempotency_key("rule", "url:x", destination_id("json://h/2"))


def test_story_keys_prefer_normalised_link() -> None:
    keys = story_keys("wire", "https://Example.com/a/b?utm_source=x#frag", "g1", "Title")
    assert keys[0] == "url://example.com/a/b"
    assert story_keys("wire", "http://example.com/a/b/", None, "T")[0] == keys[0]
    assert keys[1].startswith("guid:")
    only_title = story_keys("wire", None, None, "Some Title")
    assert len(only_title) == 1 and only_title[0].startswith("title:")
    assert story_keys("other", None, None, "Some Title") != only_title


def test_concurrent_writers_wait_instead_of_failing(db_url: str) -> None:
    # L-3: BEGIN IMMEDIATE makes a second writer wait for the lock instead of "database is locked"
    url = db_url
    first = Database(url)
    first.migrate()
    errors: list[Exception] = []

    def writer(offset: int) -> None:
        db = Database(url)
        try:
            for i in range(30):
                with db.write() as conn:
                    found = repo.find_seen(conn, [f"guid:{offset + i}"])
                    if not found:
                        repo.add_story(conn, new_story(offset + i), now=1.0)
        except Exception as exc:
            errors.append(exc)
        finally:
            db.engine.dispose()

    threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with first.read() as conn:
        assert repo.count_stories(conn) == 120
    assert errors == []
    first.close()


def test_second_instance_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/l.db"
    a, b = Database(url), Database(url)
    a.lock.acquire()
    with pytest.raises(StoreError, match="already using the database"):
        b.lock.acquire()
    a.lock.release()
    b.lock.acquire()  # free again once the first one stopped
    b.lock.release()


def test_prune_outbox_keeps_pending_and_dead(db: Database) -> None:
    rows = [alert_row(f"nm-{i}") for i in range(4)]
    with db.write() as conn:
        repo.add_outbox(conn, rows, [], now=1.0)
        ids = [r.id for r in repo.list_outbox(conn, [OutboxStatus.PENDING])]
        repo.mark_sent(conn, ids[:2], now=2.0)
        repo.mark_dead(conn, [ids[2]], "x")
    with db.write() as conn:
        assert repo.prune_outbox(conn, older_than=100.0) == 2
    with db.read() as conn:
        assert repo.outbox_counts(conn) == {"dead": 1, "pending": 1}


def alias_keys(conn: Connection, story_id: int) -> list[str]:
    rows = conn.execute(
        select(schema.story_keys.c.key).where(schema.story_keys.c.story_id == story_id, schema.story_keys.c.alias == 1)
    ).scalars()
    return sorted(rows)


def test_a_story_keeps_its_own_keys_and_its_most_recently_listed_aliases(db: Database) -> None:
    with db.write() as conn:
        sid = repo.add_story(conn, new_story(1), now=0.0)
        for t, key in enumerate(["guid:a", "guid:b", "guid:c"], start=1):
            repo.add_keys(conn, sid, [key], now=float(t), max_aliases=2)
        assert alias_keys(conn, sid) == ["guid:b", "guid:c"]  # the oldest went
        repo.touch_keys(conn, ["guid:b", "url:http://x.test/1"], now=4.0)  # listed again under b
        repo.add_keys(conn, sid, ["guid:d"], now=5.0, max_aliases=2)
        assert alias_keys(conn, sid) == ["guid:b", "guid:d"]
        repo.add_keys(conn, sid, ["guid:e"], now=6.0, max_aliases=0)
        assert alias_keys(conn, sid) == []
    with db.read() as conn:
        # the keys recorded with the story never go
        assert repo.find_seen(conn, ["url:http://x.test/1", "guid:1"]) == {"url:http://x.test/1": sid, "guid:1": sid}


def test_a_windowed_key_names_its_story_while_the_story_is_listed(db: Database) -> None:
    story = replace(new_story(1), keys=["url:http://x.test/1?sid=k1", "pathtitle:p1"])
    with db.write() as conn:
        sid = repo.add_story(conn, story, now=100.0)
    with db.read() as conn:
        keys = ["pathtitle:p1", "url:http://x.test/1?sid=k1"]
        assert repo.find_seen(conn, keys, windowed=["pathtitle:p1"], since=100.0) == dict.fromkeys(keys, sid)
        assert repo.find_seen(conn, keys, windowed=["pathtitle:p1"], since=100.5) == {keys[1]: sid}
        assert repo.find_seen(conn, keys) == dict.fromkeys(keys, sid)  # not windowed: for good


def test_the_sources_that_listed_a_story(db: Database) -> None:
    with db.write() as conn:
        (sid,) = repo.add_stories(conn, [replace(new_story(1, source="agg"), cluster="c1")], now=0.0)
    with db.read() as conn:
        assert repo.first_listings(conn, "agg", [sid]) == {}  # it recorded the story
        assert repo.first_listings(conn, "pub", [sid, 999]) == {sid: repo.Listers(sid, "c1", ("agg",))}
    with db.write() as conn:
        repo.add_listers(conn, "pub", [sid])
        repo.add_listers(conn, "pub", [sid])  # once
    with db.read() as conn:
        assert repo.first_listings(conn, "pub", [sid]) == {}
        assert repo.first_listings(conn, "mirror", [sid]) == {sid: repo.Listers(sid, "c1", ("agg", "pub"))}
    with db.write() as conn:
        assert repo.prune(conn, older_than=10.0) == 1
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.story_listers)).scalar() == 0


def test_the_stories_a_source_listed(db: Database) -> None:
    with db.write() as conn:
        ids = repo.add_stories(conn, [new_story(1), new_story(2)], now=0.0)
    with db.read() as conn:
        assert repo.listed_stories(conn, [ids[1], 999]) == [repo.ListedStory(ids[1], "http://x.test/2", "t2")]
