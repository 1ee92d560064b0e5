"""Several instances sharing one database: leases on sources and destinations, and membership.

No coordinator: every decision is one conditional ``UPDATE`` in the shared database. A
*lease* is an owner (the instance's id) and an expiry (epoch seconds) on a row; an
instance may take a row whose lease is free or expired, and keeps it until it writes the
outcome (which frees it in the same transaction) or dies (the lease then expires and
another instance takes the row). On PostgreSQL the ``UPDATE ... WHERE lease is free``
re-checks its condition after waiting for a concurrent writer's row lock, so of two
instances claiming at once exactly one gets the row; on SQLite ``BEGIN IMMEDIATE``
serialises the writers (and only one daemon opens a file).

* A **source** is claimed for one poll (:func:`claim_source`) only when it is due
  (``next_poll_at`` reached) and not leased: no source is polled by two instances at once,
  nor twice within its interval. The poll's outcome (:func:`monitor.store.repo.save_source`)
  frees the lease and records ``polled_by``.
* A **destination** is claimed for one delivery round (:func:`claim_destination`): one
  instance at a time sends to it, in the rows' order. Its lease is extended by every row
  claim of the round (:func:`extend_destination`), so it never ends before the leases of
  the rows it sends; whoever takes it next first makes the rows left ``sending`` by a dead
  owner due again (``repo.recover_interrupted``), before the later rows.
* **Membership** (:func:`heartbeat`, :func:`members`): each instance's row says when it
  last beat, the hash of the configuration it runs, the leases it held and how late its
  polls ran.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, ColumnElement, Connection, and_, delete, func, or_, select, update

from monitor.store.repo import _insert
from monitor.store.schema import destinations, instances, sources


@dataclass(frozen=True, slots=True)
class SourceClaim:
    """The answer to a claim of a source: ``claimed``, or why not.

    Not claimed: another instance holds it until ``lease_until`` (``owner``), or it is not
    due before ``next_poll_at`` (another instance polled it within its interval).
    """

    claimed: bool
    next_poll_at: float | None = None
    lease_until: float | None = None
    owner: str | None = None


def _free(lease_until: Column[float], lease_owner: Column[str], owner: str, now: float) -> ColumnElement[bool]:
    # a lease anyone may take: none, ended, or the taker's own
    return or_(lease_until.is_(None), lease_until <= now, lease_owner == owner)


def claim_source(
    conn: Connection, name: str, *, kind: str, url_hash: str, owner: str, now: float, until: float, force: bool = False
) -> SourceClaim:
    """Lease source ``name`` to ``owner`` until ``until`` when its lease is free (or already
    ``owner``'s) and it is due at ``now`` (``force``: due or not, as ``once`` polls). A source
    never polled gets its row here (``kind``, ``url_hash``)."""
    conn.execute(
        _insert(conn, sources)
        .values(name=name, kind=kind, url_hash=url_hash, failures=0, polls=0, stories_total=0, empty_polls=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    conditions = [_free(sources.c.lease_until, sources.c.lease_owner, owner, now)]
    if not force:
        conditions.append(or_(sources.c.next_poll_at.is_(None), sources.c.next_poll_at <= now))
    got = conn.execute(
        update(sources)
        .where(and_(sources.c.name == name, *conditions))
        .values(lease_owner=owner, lease_until=until)
        .returning(sources.c.name)
    ).first()
    if got is not None:
        return SourceClaim(True)
    row = conn.execute(
        select(sources.c.next_poll_at, sources.c.lease_until, sources.c.lease_owner).where(sources.c.name == name)
    ).one()
    leased = row.lease_until is not None and row.lease_until > now and row.lease_owner != owner
    return SourceClaim(
        False,
        next_poll_at=row.next_poll_at,
        lease_until=row.lease_until if leased else None,
        owner=row.lease_owner if leased else None,
    )


def release_source(conn: Connection, name: str, owner: str) -> None:
    """Free ``owner``'s lease on source ``name`` without recording a poll (nothing was polled)."""
    conn.execute(
        update(sources)
        .where(and_(sources.c.name == name, sources.c.lease_owner == owner))
        .values(lease_owner=None, lease_until=None)
    )


def claim_destination(conn: Connection, dest: str, target: str, *, owner: str, now: float, until: float) -> bool:
    """Lease destination ``dest`` (of notifier ``target``) to ``owner`` until ``until`` when its
    lease is free, expired or ``owner``'s own; whether it is ``owner``'s now. The lease is
    never shortened (a longer one of ``owner``'s rows' claims stays)."""
    conn.execute(
        _insert(conn, destinations)
        .values(dest=dest, target=target, failures=0)
        .on_conflict_do_nothing(index_elements=["dest"])
    )
    got = conn.execute(
        update(destinations)
        .where(
            and_(destinations.c.dest == dest, _free(destinations.c.lease_until, destinations.c.lease_owner, owner, now))
        )
        .values(
            lease_owner=owner,
            lease_until=func.coalesce(
                func.greatest(destinations.c.lease_until, until)
                if conn.dialect.name == "postgresql"
                else func.max(destinations.c.lease_until, until),
                until,
            ),
        )
        .returning(destinations.c.dest)
    ).first()
    return got is not None


def extend_destination(conn: Connection, dest: str, *, owner: str, until: float) -> bool:
    """Make ``owner``'s lease on ``dest`` last at least until ``until`` (the lease of rows it
    claims for a send); False when ``owner`` no longer holds it (then nothing may be sent)."""
    longest = (
        func.greatest(func.coalesce(destinations.c.lease_until, until), until)
        if conn.dialect.name == "postgresql"
        else func.max(func.coalesce(destinations.c.lease_until, until), until)
    )
    got = conn.execute(
        update(destinations)
        .where(and_(destinations.c.dest == dest, destinations.c.lease_owner == owner))
        .values(lease_until=longest)
        .returning(destinations.c.dest)
    ).first()
    return got is not None


def release_destination(conn: Connection, dest: str, owner: str) -> None:
    """Free ``owner``'s lease on ``dest`` at the end of a round whose outcomes are all written."""
    conn.execute(
        update(destinations)
        .where(and_(destinations.c.dest == dest, destinations.c.lease_owner == owner))
        .values(lease_owner=None, lease_until=None)
    )


def release_all(conn: Connection, owner: str) -> tuple[int, int]:
    """Free every source and destination lease ``owner`` holds: it stops, its polls cancelled or
    recorded and its sends' outcomes written, so the others need not wait for the leases to
    end. Rows it left ``sending`` keep their own lease (an unknown outcome goes again only
    after it). Returns (sources, destinations) freed."""
    freed = []
    for table in (sources, destinations):
        done = conn.execute(
            update(table).where(table.c.lease_owner == owner).values(lease_owner=None, lease_until=None)
        )
        freed.append(done.rowcount or 0)
    return freed[0], freed[1]


# ---------------------------------------------------------------------------- membership


@dataclass(frozen=True, slots=True)
class Member:
    """One instance as its last heartbeat wrote it."""

    id: str
    host: str
    pid: int
    started_at: float
    heartbeat_at: float
    config_hash: str
    version: str = ""
    #: source leases held at the heartbeat
    leases: int = 0
    #: how late its polls started after they were due, at most, over the last heartbeat interval (s)
    lag: float = 0.0
    #: the latest ``reload --all`` request it handled (:mod:`monitor.store.reloads`), and whether
    #: that reload worked (False: it runs its previous configuration; its log says why)
    reload_gen: int = 0
    reload_ok: bool = True


def heartbeat(conn: Connection, member: Member) -> None:
    """Write ``member``'s row (inserted at its first beat)."""
    values = {
        "host": member.host,
        "pid": member.pid,
        "started_at": member.started_at,
        "heartbeat_at": member.heartbeat_at,
        "config_hash": member.config_hash,
        "version": member.version,
        "leases": member.leases,
        "lag": member.lag,
        "reload_gen": member.reload_gen,
        "reload_ok": int(member.reload_ok),
    }
    stmt = _insert(conn, instances).values(id=member.id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))


def leave(conn: Connection, member_id: str) -> None:
    """Remove an instance's row (it stops); its leases go as it frees them or they expire."""
    conn.execute(delete(instances).where(instances.c.id == member_id))


def members(conn: Connection, *, since: float | None = None) -> list[Member]:
    """The instances whose last heartbeat is at or after ``since`` (None: all), oldest first."""
    query = select(instances).order_by(instances.c.started_at, instances.c.id)
    if since is not None:
        query = query.where(instances.c.heartbeat_at >= since)
    found = []
    for row in conn.execute(query).mappings():
        values = dict(row)
        values["reload_ok"] = bool(values["reload_ok"])
        found.append(Member(**values))
    return found


def forget_silent(conn: Connection, before: float) -> int:
    """Remove the rows of instances silent since before ``before`` (they died); returns how many."""
    return len(conn.execute(delete(instances).where(instances.c.heartbeat_at < before).returning(instances.c.id)).all())


def leases_held(conn: Connection, owner: str, now: float) -> int:
    """Source leases ``owner`` holds at ``now``."""
    value = conn.execute(
        select(func.count()).select_from(sources).where(and_(sources.c.lease_owner == owner, sources.c.lease_until > now))
    ).scalar()
    return int(value or 0)


def last_pollers(conn: Connection) -> dict[str, str]:
    """Source name → the instance that recorded its last poll (sources polled by a known one)."""
    rows = conn.execute(select(sources.c.name, sources.c.polled_by).where(sources.c.polled_by.is_not(None)))
    return {name: by for name, by in rows}
