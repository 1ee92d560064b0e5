"""The near-duplicate index in the database, shared by the instances of a PostgreSQL store.

Each recorded story leaves its band keys in ``lsh_bands`` (one per MinHash LSH band of its
text and one for its title key; the keys are computed by
:func:`monitor.identity.clusters.story_bands`, this module only stores and finds them). A
poll that records new stories, in the transaction that records them:

1. :func:`lock` takes a transaction-level advisory lock on every band key of its stories,
   in ascending order;
2. :func:`copies` finds the stories recorded within the clustering window that share a band
   key with any of them (the exact similarity check is the caller's);
3. the stories are recorded with the clusters decided, and :func:`add` writes their keys.

Why this is race-free: two copies of one story that the index would match share a band key.
Whichever transaction locks it second waits there until the first commits (the lock is
held to the end of the transaction), and its lookup, a new statement under READ COMMITTED,
then sees the first one's story and bands: one cluster, one alert key. (The lookup must be
a statement of its own, after the one that locks: a statement reads the snapshot taken
when it started, before any wait inside it.) Locks are always
taken in ascending key order and before any row is written, so two recording transactions
never wait for each other in a circle.

A transaction with more than :data:`LOCK_LIMIT` keys (a poll that found many stories at
once) takes the :data:`ALL_BANDS` lock exclusively instead, and every other recording
transaction takes it shared first: the big one waits for the others and they for it, and
no transaction ever holds more than ``LOCK_LIMIT + 1`` advisory locks (PostgreSQL's lock
table is shared by all sessions; ``max_locks_per_transaction`` x ``max_connections`` entries).

On SQLite (one daemon a file, whose write transactions ``BEGIN IMMEDIATE`` serialises) the
locks are not needed and are not taken; the daemon keeps its index in memory there.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, any_, bindparam, delete, insert, literal, select, text
from sqlalchemy.dialects import postgresql

from monitor.store.schema import lsh_bands, stories

#: the most band keys one transaction locks one by one (about 6 stories with texts)
LOCK_LIMIT = 256
#: the advisory lock taken shared by every recording transaction, and exclusively by one
#: with more than LOCK_LIMIT keys ("nm" "lh"; migrations use "nm" "mg")
ALL_BANDS = 0x6E6D6C68

# one statement, one round trip: the function scan of unnest yields the keys in the array's
# order, the first (ALL_BANDS) shared, then the band keys in ascending order
_LOCK = text(
    "SELECT count(CASE WHEN u.n = 1 THEN pg_advisory_xact_lock_shared(u.k) ELSE pg_advisory_xact_lock(u.k) END) "
    "FROM unnest(:keys) WITH ORDINALITY AS u(k, n)"
).bindparams(bindparam("keys", type_=postgresql.ARRAY(postgresql.BIGINT)))

_ADD = text(
    "INSERT INTO lsh_bands (band, story_id, at) "
    "SELECT u.band, u.story_id, :at FROM unnest(:bands, :ids) AS u(band, story_id)"
).bindparams(
    bindparam("bands", type_=postgresql.ARRAY(postgresql.BIGINT)),
    bindparam("ids", type_=postgresql.ARRAY(postgresql.INTEGER)),
)


@dataclass(frozen=True, slots=True)
class StoredCopy:
    """A story in the index: its cluster, text signature and title key as recorded, and when."""

    story_id: int
    cluster: str
    signature: bytes | None
    title_key: str | None
    at: float


def lock(conn: Connection, keys: Collection[int]) -> None:
    """Take the advisory locks of band ``keys`` for the rest of the transaction (PostgreSQL;
    nothing on SQLite). Call before the transaction writes anything."""
    if conn.dialect.name != "postgresql" or not keys:
        return
    ordered = sorted(set(keys))
    if len(ordered) > LOCK_LIMIT:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ALL_BANDS})
        return
    conn.execute(_LOCK, {"keys": [ALL_BANDS, *ordered]})


def copies(conn: Connection, keys: Collection[int], since: float) -> list[StoredCopy]:
    """The stories recorded at or after ``since`` that have any of band ``keys``, oldest first."""
    wanted = sorted(set(keys))
    if conn.dialect.name == "postgresql":
        # one array parameter, one cached statement (an IN list is a new statement for each length)
        chunks = [lsh_bands.c.band == any_(literal(wanted, type_=postgresql.ARRAY(postgresql.BIGINT)))]
    else:
        chunks = [lsh_bands.c.band.in_(wanted[i : i + 500]) for i in range(0, len(wanted), 500)]
    found: dict[int, StoredCopy] = {}
    for chunk in chunks:
        sharing = select(lsh_bands.c.story_id).where(chunk, lsh_bands.c.at >= since)
        rows = conn.execute(
            select(stories.c.id, stories.c.cluster, stories.c.signature, stories.c.title_key, stories.c.first_seen)
            .where(stories.c.id.in_(sharing), stories.c.cluster.is_not(None))
        )
        found.update({int(sid): StoredCopy(int(sid), cluster, sig, tkey, float(at)) for sid, cluster, sig, tkey, at in rows})
    return sorted(found.values(), key=lambda c: (c.at, c.story_id))


def add(conn: Connection, story_bands: Sequence[tuple[int, Sequence[int]]], at: float) -> None:
    """Index each (story id, its band keys) of ``story_bands``, recorded at ``at``."""
    pairs = [(band, sid) for sid, keys in story_bands for band in keys]
    if not pairs:
        return
    if conn.dialect.name == "postgresql":
        # one statement of two arrays: 43 rows a story, a round trip each otherwise
        conn.execute(_ADD, {"bands": [b for b, _ in pairs], "ids": [sid for _, sid in pairs], "at": at})
    else:
        conn.execute(insert(lsh_bands), [{"band": band, "story_id": sid, "at": at} for band, sid in pairs])


def prune(conn: Connection, *, older_than: float, batch: int = 1000) -> int:
    """Delete about ``batch`` band rows recorded before ``older_than`` (the clustering window
    ended for them), the oldest first; returns how many went (0: none is left)."""
    edge = conn.execute(
        select(lsh_bands.c.at)
        .where(lsh_bands.c.at < older_than)
        .order_by(lsh_bands.c.at)
        .offset(batch - 1)
        .limit(1)
    ).scalar()
    # the rows of one poll share their time: all of them go together, a little over ``batch``
    cond = lsh_bands.c.at < older_than if edge is None else lsh_bands.c.at <= edge
    return int(conn.execute(delete(lsh_bands).where(cond)).rowcount or 0)
