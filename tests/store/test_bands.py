"""The database's near-duplicate index (monitor.store.bands) and the order of key inserts:
band keys found within the window and pruned after it, the table's v9 shape, and two
instances' transactions inserting overlapping story keys at once never deadlocking."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial

import pytest
from sqlalchemy import Column, Connection, Float, Integer, MetaData, String, Table, inspect, select, text

from monitor.identity.clusters import story_bands, text_signature, title_key
from monitor.store import bands, repo
from monitor.store.db import Database
from monitor.store.migrations import latest
from monitor.store.schema import lsh_bands, meta, story_keys
from tests.identity.test_clusters import OTHER, WIRE, copies


def story(n: int, keys: list[str], cluster: str | None = None, sig: bytes | None = None) -> repo.NewStory:
    return repo.NewStory(
        source="wire", title=f"t{n}", url=f"http://x.test/{n}", published=None, keys=keys, cluster=cluster, signature=sig
    )


def test_band_keys_find_the_copies_recorded_within_the_window_and_go_after_it(db: Database) -> None:
    wire, other = text_signature(WIRE), text_signature(OTHER)
    with db.write() as conn:
        ids = repo.add_stories(
            conn,
            [story(1, ["url:1"], "wire", wire.to_bytes()), story(2, ["url:2"], "other", other.to_bytes())],
            100.0,
        )
        bands.add(conn, [(ids[0], story_bands(wire, None)), (ids[1], story_bands(other, None))], 100.0)
    copy = text_signature(copies(WIRE)[2])
    wanted = story_bands(copy, None)
    assert set(wanted) & set(story_bands(wire, None)) and not set(wanted) & set(story_bands(other, None))
    with db.read() as conn:
        (found,) = bands.copies(conn, wanted, since=50.0)
        assert (found.story_id, found.cluster, found.signature, found.at) == (ids[0], "wire", wire.to_bytes(), 100.0)
        assert bands.copies(conn, wanted, since=100.5) == []  # outside the window
    with db.write() as conn:
        assert bands.prune(conn, older_than=100.0) == 0
        assert bands.prune(conn, older_than=100.5, batch=10) == 2 * len(story_bands(wire, None))
        assert conn.execute(select(lsh_bands)).all() == []


def test_a_title_key_is_a_band_of_its_own() -> None:
    a = title_key("Container ship runs aground and blocks the northern harbour channel | Reuters")
    b = title_key("Container ship runs aground and blocks the northern harbour channel - AP News")
    assert a is not None and story_bands(None, a) == story_bands(None, b) != story_bands(None, a + " again")
    assert story_bands(None, None) == []
    assert story_bands(text_signature(" ".join(WIRE.split()[:60])), None) == []  # too short to merge on text


def test_v9_gives_the_band_table_its_integer_keys(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.migrate()
        with db.write() as conn:  # the table as v7 made it, in a database at v8
            conn.execute(text("DROP TABLE lsh_bands"))
            old = Table(
                "lsh_bands",
                MetaData(),
                Column("band", String(64), nullable=False),
                Column("story_id", Integer, nullable=False),
                Column("at", Float, nullable=False),
            )
            old.create(conn)
            conn.execute(meta.update().where(meta.c.key == "schema_version").values(value="8"))
        assert db.migrate() == latest() >= 9
        with db.read() as conn:
            columns = {c["name"]: c["type"].python_type for c in inspect(conn).get_columns("lsh_bands")}
            indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("lsh_bands")}
        assert columns == {"band": int, "story_id": int, "at": float}
        assert indexes == {"ix_lsh_bands_band_at": ["band", "at", "story_id"], "ix_lsh_bands_at": ["at"]}
    finally:
        db.close()


def _at_once(postgres_url: str, work: list[Callable[[Database], None]]) -> list[BaseException]:
    """Run each of ``work`` in its own thread with its own engine, all starting together."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(work))

    def run(job: Callable[[Database], None]) -> None:
        mine = Database(postgres_url)
        try:
            start.wait()
            job(mine)
        except BaseException as exc:  # the test reports what any thread raised
            errors.append(exc)
        finally:
            mine.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _record(db: Database, *, listing: list[repo.NewStory], aliases: dict[int, list[str]]) -> None:
    with db.write() as conn:
        repo.add_stories(conn, listing, 2.0, aliases=aliases, max_aliases=500)


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    database.migrate()
    yield database
    database.close()


def test_instances_recording_overlapping_keys_in_opposite_orders_never_deadlock(
    postgres_url: str, pg: Database
) -> None:
    for round_ in range(8):
        # two listings of the same two stories, in opposite orders; the second instance also
        # knows one of them already (a story recorded earlier) and adds its keys as aliases
        first = [f"url:r{round_}-a{i:03d}" for i in range(150)]
        second = [f"url:r{round_}-b{i:03d}" for i in range(150)]
        alias = f"guid:r{round_}-z"
        with pg.write() as conn:
            (known,) = repo.add_stories(conn, [story(0, [f"url:r{round_}-known"])], 1.0)
        in_order = ([story(1, first), story(2, second)], {known: [alias]})
        reversed_ = ([story(3, second[::-1])], {known: [alias, *first[::-1]]})
        jobs = [partial(_record, listing=listing, aliases=aliases) for listing, aliases in (in_order, reversed_)]
        assert _at_once(postgres_url, jobs) == []
        with pg.read() as conn:
            owners = conn.execute(
                select(story_keys.c.key, story_keys.c.story_id).where(story_keys.c.key.like(f"url:r{round_}-%"))
            ).all()
        assert len(owners) == 301  # every key once, whoever inserted it first


def test_copies_recorded_at_once_take_turns_on_their_band_keys(postgres_url: str, pg: Database) -> None:
    wire = [text_signature(c) for c in copies(WIRE)[:2]]
    order: list[str] = []

    def record(n: int) -> Callable[[Database], None]:
        def job(db: Database) -> None:
            keys = story_bands(wire[n], None)
            with db.write() as conn:
                bands.lock(conn, keys)
                found = bands.copies(conn, keys, since=0.0)
                cluster = found[0].cluster if found else f"c{n}"
                (sid,) = repo.add_stories(conn, [story(n, [f"url:{n}"], cluster, wire[n].to_bytes())], 10.0)
                bands.add(conn, [(sid, keys)], 10.0)
                order.append(cluster)

        return job

    assert _at_once(postgres_url, [record(0), record(1)]) == []
    assert len(order) == 2 and order[0] == order[1]  # the second waited for the first and joined it
    with pg.read() as conn:
        # this database's locks only: the server may serve other tests at the same time
        held = conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )).scalar()
    assert held == 0  # transaction locks: gone with their commits


def _advisory(conn: Connection) -> list[tuple[int, str]]:
    rows = conn.execute(
        text(
            "SELECT (classid::bigint << 32) | objid::bigint, mode FROM pg_locks "
            "WHERE locktype = 'advisory' AND pid = pg_backend_pid() ORDER BY 1"
        )
    ).all()
    return [(int(key), str(mode)) for key, mode in rows]


def test_a_transaction_locks_its_band_keys_or_with_many_of_them_all_bands_at_once(pg: Database) -> None:
    with pg.write() as conn:
        bands.lock(conn, [9, 3, 5, 3])
        assert _advisory(conn) == [
            (3, "ExclusiveLock"), (5, "ExclusiveLock"), (9, "ExclusiveLock"), (bands.ALL_BANDS, "ShareLock")
        ]
    with pg.write() as conn:
        bands.lock(conn, range(100, 100 + bands.LOCK_LIMIT + 1))
        assert _advisory(conn) == [(bands.ALL_BANDS, "ExclusiveLock")]
    with pg.read() as conn:
        assert _advisory(conn) == []
