"""Every query the daemon makes. Functions take a :class:`~sqlalchemy.Connection` inside a transaction.

The pipeline opens one write transaction per poll and calls :func:`record_poll`, so the
seen-marks and the outbox rows of one poll commit together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor.store.schema import destinations, meta, outbox, sources, stories, story_keys


@dataclass(slots=True)
class SourceState:
    """What the database remembers about one source between polls."""

    name: str
    kind: str = "feed"
    url_hash: str = ""
    primed_at: float | None = None
    last_poll_at: float | None = None
    last_ok_at: float | None = None
    failing_since: float | None = None
    failures: int = 0
    last_error: str | None = None
    next_poll_at: float | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    new_story_times: list[float] = field(default_factory=list)
    listed_ids: list[int] = field(default_factory=list)
    polls: int = 0
    stories_total: int = 0

    def record_ok(self, now: float, *, new_stories: int = 0) -> None:
        """A poll at ``now`` worked and found ``new_stories``: the failure streak ends."""
        self.last_poll_at = self.last_ok_at = now
        self.failures, self.failing_since, self.last_error = 0, None, None
        self.polls += 1
        self.stories_total += new_stories

    def record_failure(self, now: float, error: str) -> None:
        """A poll at ``now`` failed with ``error`` (kept to 500 characters): one more failure in
        the streak, which started at the first of them."""
        self.failures += 1
        self.failing_since = self.failing_since or now
        self.last_error = error[:500]
        self.last_poll_at = now
        self.polls += 1


@dataclass(slots=True)
class NewStory:
    """A story to record as seen."""

    source: str
    title: str
    url: str
    published: float | None
    keys: list[str]
    cluster: str | None = None
    signature: bytes | None = None
    title_key: str | None = None


@dataclass(slots=True)
class OutboxRow:
    """One pending delivery: (rule, story or cluster, destination)."""

    key: str
    kind: str
    rule: str
    target: str
    dest: str
    payload: dict[str, Any]
    due_at: float
    urgent: bool = False
    digest: str | None = None
    cluster: str | None = None
    story_index: int | None = None  # index into the poll's new stories, resolved to story_id on insert


def _insert(conn: Connection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# ---------------------------------------------------------------------------- sources


def get_source(conn: Connection, name: str) -> SourceState | None:
    """The stored state of source ``name``, or None for a new source."""
    row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
    if row is None:
        return None
    data = dict(row)
    data["new_story_times"] = json.loads(data["new_story_times"] or "[]")
    data["listed_ids"] = json.loads(data["listed_ids"] or "[]")
    data["failures"] = data["failures"] or 0
    data["polls"] = data["polls"] or 0
    data["stories_total"] = data["stories_total"] or 0
    return SourceState(**data)


def all_sources(conn: Connection) -> list[SourceState]:
    names = conn.execute(select(sources.c.name).order_by(sources.c.name)).scalars().all()
    return [s for s in (get_source(conn, n) for n in names) if s is not None]


def save_source(conn: Connection, state: SourceState) -> None:
    """Insert or update the state of one source."""
    values = {
        "kind": state.kind,
        "url_hash": state.url_hash,
        "primed_at": state.primed_at,
        "last_poll_at": state.last_poll_at,
        "last_ok_at": state.last_ok_at,
        "failing_since": state.failing_since,
        "failures": state.failures,
        "last_error": state.last_error,
        "next_poll_at": state.next_poll_at,
        "etag": state.etag,
        "last_modified": state.last_modified,
        "content_hash": state.content_hash,
        "new_story_times": json.dumps(state.new_story_times[-50:]),
        "listed_ids": json.dumps(state.listed_ids[-5000:]),
        "polls": state.polls,
        "stories_total": state.stories_total,
    }
    stmt = _insert(conn, sources).values(name=state.name, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=values))


# ---------------------------------------------------------------------------- stories


def find_seen(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    """Map each already-seen key among ``keys`` to its story id."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, int] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        rows = conn.execute(
            select(story_keys.c.key, story_keys.c.story_id).where(story_keys.c.key.in_(chunk))
        )
        found.update({k: sid for k, sid in rows})
    return found


def touch_listed(conn: Connection, story_ids: Iterable[int], now: float) -> None:
    """Mark stories as still listed by their source, so retention never prunes them."""
    ids = sorted(set(story_ids))
    for i in range(0, len(ids), 500):
        conn.execute(update(stories).where(stories.c.id.in_(ids[i : i + 500])).values(last_listed=now))


def add_story(conn: Connection, story: NewStory, now: float) -> int:
    """Record one story and its keys; returns its id (see :func:`add_stories`)."""
    return add_stories(conn, [story], now)[0]


def add_stories(conn: Connection, new: Sequence[NewStory], now: float) -> list[int]:
    """Record many stories and their keys in bulk; returns their ids in the same order."""
    if not new:
        return []
    rows = [
        {
            "source": st.source,
            "title": st.title[:2000],
            "url": st.url[:4000],
            "published": st.published,
            "first_seen": now,
            "last_listed": now,
            "cluster": st.cluster,
            "signature": st.signature,
            "title_key": st.title_key,
        }
        for st in new
    ]
    result = conn.execute(stories.insert().returning(stories.c.id, sort_by_parameter_order=True), rows)
    ids = [int(i) for i in result.scalars().all()]
    key_rows = [
        {"key": k[:300], "story_id": sid}
        for st, sid in zip(new, ids, strict=True)
        for k in dict.fromkeys(st.keys)
    ]
    if key_rows:
        conn.execute(_insert(conn, story_keys).on_conflict_do_nothing(index_elements=["key"]), key_rows)
    return ids


def add_keys(conn: Connection, story_id: int, keys: Iterable[str]) -> None:
    rows = [{"key": k[:300], "story_id": story_id} for k in dict.fromkeys(keys)]
    if rows:
        conn.execute(_insert(conn, story_keys).values(rows).on_conflict_do_nothing(index_elements=["key"]))


def recent_signatures(conn: Connection, since: float) -> list[tuple[str, bytes | None, str | None, float]]:
    """(cluster, signature, title_key, first_seen) of stories seen since ``since``, oldest first."""
    rows = conn.execute(
        select(stories.c.cluster, stories.c.signature, stories.c.title_key, stories.c.first_seen)
        .where(and_(stories.c.first_seen >= since, stories.c.cluster.is_not(None)))
        .order_by(stories.c.first_seen)
    )
    return [(c, s, t, f) for c, s, t, f in rows]


def cluster_outlets(conn: Connection, cluster: str) -> list[tuple[str, str]]:
    """(source, url) of every story in ``cluster``, in the order they were seen."""
    rows = conn.execute(
        select(stories.c.source, stories.c.url).where(stories.c.cluster == cluster).order_by(stories.c.id)
    )
    return [(s, u) for s, u in rows]


def prune(conn: Connection, *, older_than: float, batch: int = 1000) -> int:
    """Delete up to ``batch`` stories not listed by their source since ``older_than``.

    A story still listed has a fresh ``last_listed`` and is never pruned, so pruning can
    never cause a re-alert. Returns how many were deleted; call again until 0.
    """
    ids = (
        conn.execute(
            select(stories.c.id).where(stories.c.last_listed < older_than).order_by(stories.c.id).limit(batch)
        )
        .scalars()
        .all()
    )
    if not ids:
        return 0
    conn.execute(delete(story_keys).where(story_keys.c.story_id.in_(ids)))
    conn.execute(delete(stories).where(stories.c.id.in_(ids)))
    return len(ids)


def prune_outbox(conn: Connection, *, older_than: float, batch: int = 1000) -> int:
    """Delete up to ``batch`` sent or cancelled outbox rows created before ``older_than``.

    Pending and dead rows are never deleted. Returns how many were deleted.
    """
    ids = (
        conn.execute(
            select(outbox.c.id)
            .where(and_(outbox.c.status.in_(["sent", "cancelled"]), outbox.c.created_at < older_than))
            .order_by(outbox.c.id)
            .limit(batch)
        )
        .scalars()
        .all()
    )
    if ids:
        conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))
    return len(ids)


def count_stories(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(stories)).scalar() or 0)


# ---------------------------------------------------------------------------- outbox


def add_outbox(conn: Connection, rows: Sequence[OutboxRow], story_ids: Sequence[int], now: float) -> int:
    """Insert outbox rows; a row whose key exists already is ignored. Returns rows inserted."""
    inserted = 0
    for row in rows:
        story_id = story_ids[row.story_index] if row.story_index is not None else None
        stmt = (
            _insert(conn, outbox)
            .values(
                key=row.key,
                kind=row.kind,
                rule=row.rule,
                target=row.target,
                dest=row.dest,
                story_id=story_id,
                cluster=row.cluster,
                status="pending",
                urgent=1 if row.urgent else 0,
                digest=row.digest,
                payload=json.dumps(row.payload, ensure_ascii=False),
                created_at=now,
                due_at=row.due_at,
                next_attempt_at=row.due_at,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        inserted += conn.execute(stmt).rowcount or 0
    return inserted


def due_destinations(conn: Connection, now: float) -> list[str]:
    """Destinations with at least one pending row due now."""
    rows = conn.execute(
        select(outbox.c.dest)
        .where(and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now))
        .group_by(outbox.c.dest)
    )
    return [r for (r,) in rows]


def pending_for(conn: Connection, dest: str, now: float, limit: int = 200) -> list[dict[str, Any]]:
    """Due pending rows of one destination, oldest first."""
    rows = conn.execute(
        select(outbox)
        .where(and_(outbox.c.dest == dest, outbox.c.status == "pending", outbox.c.next_attempt_at <= now))
        .order_by(outbox.c.id)
        .limit(limit)
    ).mappings()
    out = []
    for row in rows:
        item = dict(row)
        item["payload"] = json.loads(item["payload"])
        out.append(item)
    return out


def next_due(conn: Connection) -> float | None:
    """When the next pending row becomes due."""
    value = conn.execute(
        select(func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "pending")
    ).scalar()
    return float(value) if value is not None else None


def mark_sent(conn: Connection, ids: Sequence[int], now: float) -> None:
    conn.execute(
        update(outbox)
        .where(and_(outbox.c.id.in_(list(ids)), outbox.c.status == "pending"))
        .values(status="sent", sent_at=now, last_error=None)
    )


def mark_failed(
    conn: Connection,
    ids: Sequence[int],
    *,
    error: str,
    next_attempt_at: float,
    now: float,
    count_attempt: bool = True,
) -> None:
    values: dict[str, Any] = {"last_error": error[:500], "next_attempt_at": next_attempt_at}
    if count_attempt:
        values["attempts"] = outbox.c.attempts + 1
    conn.execute(update(outbox).where(outbox.c.id.in_(list(ids))).values(**values))
    conn.execute(
        update(outbox)
        .where(and_(outbox.c.id.in_(list(ids)), outbox.c.first_failed_at.is_(None)))
        .values(first_failed_at=now)
    )


def mark_dead(conn: Connection, ids: Sequence[int], error: str) -> None:
    conn.execute(
        update(outbox).where(outbox.c.id.in_(list(ids))).values(status="dead", last_error=error[:500])
    )


def mark_cancelled(conn: Connection, ids: Sequence[int], reason: str) -> None:
    conn.execute(
        update(outbox).where(outbox.c.id.in_(list(ids))).values(status="cancelled", last_error=reason[:500])
    )


def postpone(conn: Connection, ids: Sequence[int], until: float) -> None:
    conn.execute(update(outbox).where(outbox.c.id.in_(list(ids))).values(next_attempt_at=until))


def postpone_destination(conn: Connection, dest: str, until: float) -> None:
    """Hold every pending row of ``dest`` until ``until`` (the destination is backing off)."""
    conn.execute(
        update(outbox)
        .where(and_(outbox.c.dest == dest, outbox.c.status == "pending", outbox.c.next_attempt_at < until))
        .values(next_attempt_at=until)
    )


def list_outbox(conn: Connection, statuses: Sequence[str], limit: int = 500) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(outbox).where(outbox.c.status.in_(list(statuses))).order_by(outbox.c.id).limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def retry_rows(conn: Connection, *, row_id: int | None, all_dead: bool, now: float) -> int:
    """Requeue one row (pending or dead) or every dead row; returns how many."""
    cond = outbox.c.id == row_id if row_id is not None else outbox.c.status == "dead"
    if row_id is None and not all_dead:
        return 0
    result = conn.execute(
        update(outbox)
        .where(and_(cond, or_(outbox.c.status == "dead", outbox.c.status == "pending")))
        .values(status="pending", next_attempt_at=now, attempts=0, first_failed_at=None)
    )
    return int(result.rowcount or 0)


def outbox_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
    return {s: int(n) for s, n in rows}


def oldest_pending(conn: Connection) -> float | None:
    value = conn.execute(select(func.min(outbox.c.created_at)).where(outbox.c.status == "pending")).scalar()
    return float(value) if value is not None else None


def dead_targets(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(outbox.c.target, func.count()).where(outbox.c.status == "dead").group_by(outbox.c.target)
    )
    return {t: int(n) for t, n in rows}


# ---------------------------------------------------------------------------- destinations and meta


def get_destination(conn: Connection, dest: str) -> dict[str, Any] | None:
    row = conn.execute(select(destinations).where(destinations.c.dest == dest)).mappings().first()
    if row is None:
        return None
    item = dict(row)
    item["sent_log"] = json.loads(item["sent_log"] or "[]")
    return item


def save_destination(conn: Connection, dest: str, target: str, **values: Any) -> None:
    if "sent_log" in values:
        values["sent_log"] = json.dumps(values["sent_log"][-500:])
    stmt = _insert(conn, destinations).values(dest=dest, target=target, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["dest"], set_={"target": target, **values}))


def get_meta(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
    return str(value) if value is not None else None


def set_meta(conn: Connection, key: str, value: str) -> None:
    stmt = _insert(conn, meta).values(key=key, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))
