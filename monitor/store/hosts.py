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

One claim is one transaction of one or two statements (two with a delay, a third when it
must wait to start: its place's lease is moved past its start); the release is one. The
rows of a host are created the first time this process meets it. Times are the
instances' clocks (epoch seconds), which must agree, as for the source leases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from sqlalchemy import ColumnElement, Connection, delete, func, or_, select, update

from monitor.models import HostTurn
from monitor.store.db import Database
from monitor.store.repo import _insert
from monitor.store.schema import host_slots, hosts

T = TypeVar("T")


def _greatest(conn: Connection, a: ColumnElement[float], b: float) -> ColumnElement[float]:
    return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)


def ensure_host(conn: Connection, host: str, slots: int) -> None:
    """Create the rows of ``host`` (its spacing row and places 0..``slots``-1) that are missing."""
    conn.execute(_insert(conn, hosts).values(host=host, next_at=0.0).on_conflict_do_nothing(index_elements=["host"]))
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


class ClusterHosts:
    """The cluster-wide politeness of one instance (``owner``), on a few threads of its own
    beside the store's database thread (a claim must not wait behind a poll's recording).

    Implements :class:`monitor.fetch.politeness.SharedHosts`. ``lease``: how long a place is
    held at most after its request's start (the fetch deadline, and a margin)."""

    def __init__(self, database: Database, owner: str, *, lease: float, threads: int = 2) -> None:
        self._db = database
        self.owner = owner
        self._lease = lease
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="newsmonitor-hosts")
        #: host → how many places this process knows exist (their rows were made or found)
        self._known: dict[str, int] = {}

    async def _run(self, fn: Callable[[Connection], T]) -> T:
        def work() -> T:
            with self._db.write() as conn:
                return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    async def claim(self, host: str, *, slots: int, delay: float, now: float) -> HostTurn | None:
        """A turn at ``host`` (see :func:`claim_turn`), or None when its places are all taken."""
        ensure = self._known.get(host, 0) < slots
        turn = await self._run(
            partial(
                claim_turn, host=host, owner=self.owner, slots=slots, delay=delay, now=now, lease=self._lease,
                ensure=ensure,
            )
        )
        if ensure:
            if len(self._known) > 100_000:
                self._known.clear()
            self._known[host] = slots
        if turn is None and not ensure and await self._run(partial(places_known, host=host, slots=slots)) < slots:
            # the host's rows were pruned meanwhile: make them again at the next claim
            self._known.pop(host, None)
        return turn

    async def release(self, host: str, turn: HostTurn, *, now: float) -> None:
        """Free the place of ``turn`` (its request ended at ``now``)."""
        await self._run(partial(release_turn, host=host, slot=turn.slot, owner=self.owner, now=now))

    async def forget_idle(self, before: float) -> int:
        """Remove the rows of hosts idle since ``before`` (see :func:`forget_idle`)."""
        self._known.clear()
        return await self._run(partial(forget_idle, before=before))

    def close(self) -> None:
        self._threads.shutdown(wait=True)
