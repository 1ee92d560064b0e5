"""Politeness per host for all the instances sharing a (PostgreSQL) database.

Each instance keeps its own in-memory gates (:mod:`monitor.fetch.politeness`); these
statements make the same limits hold for the cluster as a whole:

* **In-flight places** (``http.per_host``): a host has ``host_slots`` rows 0..n-1; a
  request takes a free one (no owner, or its lease ended) with ``UPDATE ... WHERE slot =
  (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)``, so two instances never take the same
  place, and frees it when it is done. A place held by an instance that died frees itself
  when its lease ends (the request's deadline and a margin, from its start).
* **Spacing** (``http.host_delay``, robots.txt Crawl-delay): ``hosts.next_at`` is the
  earliest start of the host's next request; a request reserves its start with
  ``UPDATE hosts SET next_at = greatest(next_at, now) + delay ... RETURNING``, which
  PostgreSQL serialises on the row, and waits until then.

On PostgreSQL a claim is one statement (the place and the start together, in one
``WITH``) and a release another, each in autocommit on a connection that each of the
class's threads keeps open: two round trips per request, no ``BEGIN``/``COMMIT``, no pool
check-out ping. (A third only when a request must wait more than the lease's margin for
its start: its place's lease is then moved past its start.) SQLite runs the same steps as
separate statements in one transaction (a SQLite file has one daemon; tests only). The
rows of a host are made the first time this process meets it. Times are the instances'
clocks (epoch seconds), which must agree, as for the source leases.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import psycopg
from sqlalchemy import ColumnElement, Connection, delete, func, or_, select, update

from monitor.models import HostTurn
from monitor.store.db import Database, libpq_url
from monitor.store.repo import _insert
from monitor.store.schema import host_slots, hosts

T = TypeVar("T")


def _greatest(conn: Connection, a: ColumnElement[float], b: float) -> ColumnElement[float]:
    return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)


def ensure_host(conn: Connection, host: str, slots: int) -> None:
    """Create the rows of ``host`` (its spacing row and places 0..``slots``-1) that are missing."""
    conn.execute(_insert(conn, hosts).values(host=host, next_at=0.0).on_conflict_do_nothing(index_elements=["host"]))
    if slots < 1:
        return
    conn.execute(
        _insert(conn, host_slots)
        .values([{"host": host, "slot": n} for n in range(slots)])
        .on_conflict_do_nothing(index_elements=["host", "slot"])
    )


def claim_turn(
    conn: Connection, host: str, *, owner: str, slots: int, delay: float, now: float, lease: float, ensure: bool
) -> HostTurn | None:
    """Take a free in-flight place of ``host`` (one of its first ``slots``) for ``owner`` and,
    with a ``delay``, reserve the next start; None when every place is taken (try again
    later). The place's lease ends ``lease`` seconds after the start. ``ensure``: create the
    host's rows first (the first claim of this process for the host, or after a miss)."""
    if ensure:
        ensure_host(conn, host, slots)
    free = (
        select(host_slots.c.slot)
        .where(
            host_slots.c.host == host,
            host_slots.c.slot < slots,
            or_(host_slots.c.lease_owner.is_(None), host_slots.c.lease_until <= now),
        )
        .order_by(host_slots.c.slot)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    slot = conn.execute(
        update(host_slots)
        .where(host_slots.c.host == host, host_slots.c.slot == free)
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(host_slots.c.slot)
    ).scalar()
    if slot is None:
        return None
    start = now
    if delay > 0:
        reserved = conn.execute(
            update(hosts)
            .where(hosts.c.host == host)
            .values(next_at=_greatest(conn, hosts.c.next_at, now) + delay)
            .returning(hosts.c.next_at)
        ).scalar()
        if reserved is None:  # the row was pruned since this process made it
            ensure_host(conn, host, 0)
            conn.execute(update(hosts).where(hosts.c.host == host).values(next_at=now + delay))
            reserved = now + delay
        start = float(reserved) - delay
        if start > now:
            conn.execute(
                update(host_slots)
                .where(host_slots.c.host == host, host_slots.c.slot == slot)
                .values(lease_until=start + lease)
            )
    return HostTurn(int(slot), start)


def places_known(conn: Connection, host: str, slots: int) -> int:
    """How many of the first ``slots`` places of ``host`` have rows."""
    value = conn.execute(
        select(func.count()).select_from(host_slots).where(host_slots.c.host == host, host_slots.c.slot < slots)
    ).scalar()
    return int(value or 0)


def release_turn(conn: Connection, host: str, slot: int, owner: str, now: float) -> None:
    """Free ``owner``'s place ``slot`` of ``host`` (its request is done at ``now``, which the
    row keeps: when the host was last asked, for :func:`forget_idle`)."""
    conn.execute(
        update(host_slots)
        .where(host_slots.c.host == host, host_slots.c.slot == slot, host_slots.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=now)
    )


def forget_idle(conn: Connection, before: float) -> int:
    """Remove the rows of hosts not asked for since ``before`` (no start reserved, no place
    taken or freed since); how many hosts."""
    idle = select(hosts.c.host).where(
        hosts.c.next_at < before,
        ~select(host_slots.c.host)
        .where(host_slots.c.host == hosts.c.host, host_slots.c.lease_until >= before)
        .exists(),
    )
    names = [row[0] for row in conn.execute(idle)]
    if names:
        conn.execute(delete(host_slots).where(host_slots.c.host.in_(names)))
        conn.execute(delete(hosts).where(hosts.c.host.in_(names)))
    return len(names)


#: the claim of :func:`claim_turn` as one PostgreSQL statement: the free place taken and,
#: when one was, the start reserved
_CLAIM = """
WITH free AS (
    SELECT slot FROM host_slots
    WHERE host = %(host)s AND slot < %(slots)s AND (lease_owner IS NULL OR lease_until <= %(now)s)
    ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
), taken AS (
    UPDATE host_slots AS s SET lease_owner = %(owner)s, lease_until = %(until)s
    FROM free WHERE s.host = %(host)s AND s.slot = free.slot
    RETURNING s.slot
), spaced AS (
    UPDATE hosts SET next_at = greatest(next_at, %(now)s) + %(delay)s
    WHERE host = %(host)s AND %(delay)s > 0 AND EXISTS (SELECT 1 FROM taken)
    RETURNING next_at
)
SELECT (SELECT slot FROM taken), (SELECT next_at FROM spaced)
"""
_RELEASE = (
    "UPDATE host_slots SET lease_owner = NULL, lease_until = %(now)s "
    "WHERE host = %(host)s AND slot = %(slot)s AND lease_owner = %(owner)s"
)
_EXTEND = (
    "UPDATE host_slots SET lease_until = %(until)s "
    "WHERE host = %(host)s AND slot = %(slot)s AND lease_owner = %(owner)s"
)
_ENSURE_HOST = "INSERT INTO hosts (host, next_at) VALUES (%(host)s, 0) ON CONFLICT DO NOTHING"
_ENSURE_SLOTS = (
    "INSERT INTO host_slots (host, slot) SELECT %(host)s, n FROM generate_series(0, %(slots)s - 1) AS n "
    "ON CONFLICT DO NOTHING"
)
_PLACES = "SELECT count(*) FROM host_slots WHERE host = %(host)s AND slot < %(slots)s"
_NEXT_AT = "UPDATE hosts SET next_at = %(next_at)s WHERE host = %(host)s"
#: a request's place is held at least this long past its start: when it must wait longer
#: than this for its start, the lease is moved (one statement more)
_MARGIN = 30.0


class _Postgres:
    """The claims on PostgreSQL: raw statements in autocommit, one open connection per thread."""

    def __init__(self, url: str) -> None:
        self._url = libpq_url(url)
        self._local = threading.local()
        self._all: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    def _conn(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=10)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _execute(self, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        conn = self._conn()
        try:
            cur = conn.execute(sql, params)
            return cur.fetchone() if cur.description is not None else None
        except psycopg.OperationalError:
            conn.close()  # opened again by the next call of this thread
            raise

    def claim(
        self, host: str, *, owner: str, slots: int, delay: float, now: float, lease: float, ensure: bool
    ) -> HostTurn | None:
        if ensure:
            self._execute(_ENSURE_HOST, {"host": host})
            self._execute(_ENSURE_SLOTS, {"host": host, "slots": slots})
        params = {"host": host, "slots": slots, "now": now, "owner": owner, "until": now + lease, "delay": delay}
        row = self._execute(_CLAIM, params)
        if row is None or row[0] is None:
            return None
        slot, next_at = int(row[0]), row[1]
        if delay > 0 and next_at is None:  # the host's row was pruned since this process made it
            self._execute(_ENSURE_HOST, {"host": host})
            self._execute(_NEXT_AT, {"host": host, "next_at": now + delay})
            next_at = now + delay
        start = float(next_at) - delay if delay > 0 else now
        if start > now + _MARGIN:
            self._execute(_EXTEND, {"host": host, "slot": slot, "owner": owner, "until": start + lease})
        return HostTurn(slot, start)

    def release(self, host: str, slot: int, owner: str, now: float) -> None:
        self._execute(_RELEASE, {"host": host, "slot": slot, "owner": owner, "now": now})

    def places(self, host: str, slots: int) -> int:
        row = self._execute(_PLACES, {"host": host, "slots": slots})
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()


class ClusterHosts:
    """The cluster-wide politeness of one instance (``owner``), on a few threads of its own
    beside the store's database thread (a claim must not wait behind a poll's recording).

    Implements :class:`monitor.fetch.politeness.SharedHosts`. ``lease``: how long a place is
    held at most after its request's start (the fetch deadline, and a margin).

    While :attr:`alone` is true (the daemon's heartbeat found no other live instance) a
    claim is granted at once without a statement: one instance on PostgreSQL pays nothing.
    An instance that joins sees the first at its own first heartbeat and claims from then
    on; the first sees it at its next heartbeat. Until then (one ``instances.heartbeat`` at
    most) the first's requests are not in the tables: a site may get up to twice its
    ``per_host`` at once, or two requests closer than its delay, in that window only."""

    #: the turn of a claim made while alone: no place is held, the release does nothing
    _UNCOUNTED = -1

    def __init__(self, database: Database, owner: str, *, lease: float, threads: int = 4) -> None:
        self._db = database
        self.owner = owner
        #: no other instance was live at the last heartbeat (False until one says so)
        self.alone = False
        self._lease = lease
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="newsmonitor-hosts")
        self._pg = _Postgres(database.url) if database.shared else None
        #: host → how many places this process knows exist (their rows were made or found)
        self._known: dict[str, int] = {}

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn)

    def _in_transaction(self, fn: Callable[[Connection], T]) -> Callable[[], T]:
        def work() -> T:
            with self._db.write() as conn:
                return fn(conn)

        return work

    async def claim(self, host: str, *, slots: int, delay: float, now: float) -> HostTurn | None:
        """A turn at ``host`` (see :func:`claim_turn`), or None when its places are all taken."""
        if self.alone:
            return HostTurn(self._UNCOUNTED, now)
        ensure = self._known.get(host, 0) < slots
        if self._pg is not None:
            turn = await self._run(
                partial(
                    self._pg.claim, host, owner=self.owner, slots=slots, delay=delay, now=now, lease=self._lease,
                    ensure=ensure,
                )
            )
        else:
            turn = await self._run(
                self._in_transaction(
                    partial(
                        claim_turn, host=host, owner=self.owner, slots=slots, delay=delay, now=now,
                        lease=self._lease, ensure=ensure,
                    )
                )
            )
        if ensure:
            if len(self._known) > 100_000:
                self._known.clear()
            self._known[host] = slots
        elif turn is None and await self._places(host, slots) < slots:
            # the host's rows were pruned meanwhile: make them again at the next claim
            self._known.pop(host, None)
        return turn

    async def _places(self, host: str, slots: int) -> int:
        if self._pg is not None:
            return await self._run(partial(self._pg.places, host, slots))
        return await self._run(self._in_transaction(partial(places_known, host=host, slots=slots)))

    async def release(self, host: str, turn: HostTurn, *, now: float) -> None:
        """Free the place of ``turn`` (its request ended at ``now``)."""
        if turn.slot == self._UNCOUNTED:
            return
        if self._pg is not None:
            await self._run(partial(self._pg.release, host, turn.slot, self.owner, now))
        else:
            await self._run(
                self._in_transaction(partial(release_turn, host=host, slot=turn.slot, owner=self.owner, now=now))
            )

    async def forget_idle(self, before: float) -> int:
        """Remove the rows of hosts idle since ``before`` (see :func:`forget_idle`)."""
        self._known.clear()
        return await self._run(self._in_transaction(partial(forget_idle, before=before)))

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        if self._pg is not None:
            self._pg.close()
