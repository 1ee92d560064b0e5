"""Every query the daemon makes. Functions take a :class:`~sqlalchemy.Connection` inside a transaction.

The pipeline commits one poll in one write transaction (:func:`add_stories`, :func:`add_keys`,
:func:`add_outbox`, :func:`save_source` together), so the seen-marks and the outbox rows of
one poll commit together or not at all.

Rows cross this edge typed both ways: :class:`OutboxRow` goes in, :class:`OutboxEntry`
comes back; :class:`SourceState` and :class:`DestinationState` go both ways (:class:`SourceSummary` is the
part of a source's state the status views read). Statuses and
kinds are the enums of :mod:`monitor.models`, stored as their string values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, delete, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor.models import MessageKind, OutboxStatus
from monitor.store import history
from monitor.store.events import EventCandidate
from monitor.store.payload import AlertPayload, NoticePayload
from monitor.store.schema import destinations, meta, outbox, sources, stories, story_keys, story_listers


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
    #: the HTTP status of the last failed poll when the server answered (4xx/5xx); None otherwise
    last_http_status: int | None = None
    next_poll_at: float | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    new_story_times: list[float] = field(default_factory=list)
    listed_ids: list[int] = field(default_factory=list)
    polls: int = 0
    stories_total: int = 0
    #: the kind of error of the last failed poll (``FetchError.kind``, ``parse_error`` ...); None otherwise
    last_error_kind: str | None = None
    #: successful polls in a row that listed no story
    empty_polls: int = 0
    #: when a poll last recorded a new story (the first poll's stories count)
    last_new_story_at: float | None = None
    #: the query parameters of its links learned to change on every poll, left out of identity
    volatile_params: list[str] = field(default_factory=list)
    #: what the user should know about the listing last read (a feed cut at the entry limit);
    #: kept in ``meta`` (``source_note:NAME``), not in the ``sources`` table
    listing_note: str | None = None
    #: the instance that recorded the last poll (None: before there were several)
    polled_by: str | None = None

    def record_ok(self, now: float, *, new_stories: int = 0) -> None:
        """A poll at ``now`` worked and found ``new_stories``: the failure streak ends.

        ``listed_ids`` must already hold what the poll listed (for a 304 or an unchanged body,
        what the listing before it held): when it is empty the poll counts as one more empty
        poll in a row, else the empty streak ends.
        """
        self.last_poll_at = self.last_ok_at = now
        self.failures, self.failing_since, self.last_error, self.last_http_status = 0, None, None, None
        self.last_error_kind = None
        self.polls += 1
        self.stories_total += new_stories
        self.empty_polls = 0 if self.listed_ids else self.empty_polls + 1
        if new_stories:
            self.last_new_story_at = now

    def record_failure(
        self, now: float, error: str, *, http_status: int | None = None, kind: str | None = None
    ) -> None:
        """A poll at ``now`` failed with ``error`` (kept to 500 characters) of ``kind`` (a
        ``FetchError.kind`` or ``parse_error``; 40 characters) and, for an HTTP error answer,
        its ``http_status``: one more failure in the streak, which started at the first of
        them. The empty streak is left as it was: a failed poll says nothing about the listing."""
        self.failures += 1
        self.failing_since = self.failing_since or now
        self.last_error = error[:500]
        self.last_http_status = http_status
        self.last_error_kind = kind[:40] if kind else None
        self.last_poll_at = now
        self.polls += 1


@dataclass(slots=True)
class NewStory:
    """A story to record as seen; ``lang`` and ``text`` (what rules searched besides the
    title) go to the history (:mod:`monitor.store.history`)."""

    source: str
    title: str
    url: str
    published: float | None
    keys: list[str]
    cluster: str | None = None
    signature: bytes | None = None
    title_key: str | None = None
    lang: str | None = None
    text: str = ""


@dataclass(slots=True)
class OutboxRow:
    """One pending delivery to write: (rule, story or cluster, destination).

    ``payload`` is a :class:`NoticePayload` for ``summary`` and ``health`` rows and an
    :class:`AlertPayload` otherwise.
    """

    key: str
    kind: MessageKind
    rule: str
    target: str
    dest: str
    payload: AlertPayload | NoticePayload
    due_at: float
    urgent: bool = False
    digest: str | None = None
    cluster: str | None = None
    story_index: int | None = None  # index into the poll's new stories, resolved to story_id on insert
    #: a write-up of a rule grouped by event: the transaction decides its event (store/events.py)
    event_candidate: EventCandidate | None = None
    #: a follow-up of this event (set by that decision)
    event: int | None = None


#: the kinds whose payload is a note (:class:`NoticePayload`) rather than one story
NOTICE_KINDS = frozenset({MessageKind.SUMMARY, MessageKind.HEALTH})


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One outbox row as stored: what to deliver, to whom, and how delivery went so far.

    ``payload`` is a :class:`NoticePayload` when ``kind`` is in :data:`NOTICE_KINDS`, an
    :class:`AlertPayload` otherwise. ``digest`` names what the row waits for (a digest
    schedule spec, ``quiet`` or ``throttle``; ``due_at`` says until when), None when it goes
    out on its own. ``attempts`` counts every send of the row; ``solo_failures`` only the
    failed ones while its destination worked (the poison count); ``unknowns`` those whose
    outcome was unknown (no answer in time, or cut off by a crash: they may have arrived);
    ``next_attempt_at`` later than ``due_at`` means a failure put the row back. A ``sending``
    row is claimed for one send until ``lease_until``.
    """

    id: int
    key: str
    kind: MessageKind
    rule: str
    target: str
    dest: str
    story_id: int | None
    cluster: str | None
    status: OutboxStatus
    urgent: bool
    digest: str | None
    payload: AlertPayload | NoticePayload
    created_at: float
    due_at: float
    next_attempt_at: float
    attempts: int
    first_failed_at: float | None
    last_error: str | None
    sent_at: float | None
    solo_failures: int = 0
    lease_until: float | None = None
    unknowns: int = 0
    #: a follow-up: the event whose next follow-up message it goes out with
    event: int | None = None

    @property
    def subject(self) -> str:
        """The syndication cluster the row is about, else its story id (as text)."""
        return self.cluster or str(self.story_id)


def _outbox_entry(row: RowMapping) -> OutboxEntry:
    kind = MessageKind(row["kind"])
    payload_type = NoticePayload if kind in NOTICE_KINDS else AlertPayload
    return OutboxEntry(
        id=row["id"],
        key=row["key"],
        kind=kind,
        rule=row["rule"],
        target=row["target"],
        dest=row["dest"],
        story_id=row["story_id"],
        cluster=row["cluster"],
        status=OutboxStatus(row["status"]),
        urgent=bool(row["urgent"]),
        digest=row["digest"],
        payload=payload_type.from_json(row["payload"]),
        created_at=row["created_at"],
        due_at=row["due_at"],
        next_attempt_at=row["next_attempt_at"],
        attempts=row["attempts"],
        first_failed_at=row["first_failed_at"],
        last_error=row["last_error"],
        sent_at=row["sent_at"],
        solo_failures=row["solo_failures"],
        lease_until=row["lease_until"],
        unknowns=row["unknowns"] or 0,
        event=row["event"],
    )


@dataclass(frozen=True, slots=True)
class DestinationState:
    """Delivery state of one destination (an apprise URL, known only by its hash ``dest``).

    ``failures`` counts failed passes in a row and ``blocked_until`` ends the current
    backoff; ``sent_log`` holds the send times (epoch seconds) the hourly throttle counts.
    """

    dest: str
    target: str
    failures: int = 0
    blocked_until: float | None = None
    last_success_at: float | None = None
    last_error: str | None = None
    sent_log: tuple[float, ...] = ()
    last_digest_at: float | None = None


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
    return _source_state(row, get_meta(conn, _note_key(name)))


def _source_state(row: RowMapping, note: str | None) -> SourceState:
    data = dict(row)
    # the lease is the poll's in flight, not the state between polls (see monitor.store.cluster)
    data.pop("lease_owner", None)
    data.pop("lease_until", None)
    data["new_story_times"] = json.loads(data["new_story_times"] or "[]")
    data["listed_ids"] = json.loads(data["listed_ids"] or "[]")
    data["volatile_params"] = json.loads(data["volatile_params"] or "[]")
    data["failures"] = data["failures"] or 0
    data["polls"] = data["polls"] or 0
    data["stories_total"] = data["stories_total"] or 0
    data["empty_polls"] = data["empty_polls"] or 0
    return SourceState(**data, listing_note=note)


def _note_key(name: str) -> str:
    # the meta row of a source's listing note: a note is rare, and a column would need a migration
    return f"source_note:{name}"


def all_sources(conn: Connection) -> list[SourceState]:
    """Every stored source state, in name order: two queries however many there are (the
    status page reads them all on every view)."""
    prefix = _note_key("")
    notes = {
        str(key)[len(prefix):]: value
        for key, value in conn.execute(select(meta.c.key, meta.c.value).where(meta.c.key.startswith(prefix)))
    }
    rows = conn.execute(select(sources).order_by(sources.c.name)).mappings()
    return [_source_state(row, notes.get(row["name"])) for row in rows]


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """What the status views read of a stored source: its health, not its poll bookkeeping
    (validators, listing ids, story times), so reading 10 000 of them stays cheap."""

    name: str
    failures: int = 0
    failing_since: float | None = None
    last_error: str | None = None
    last_http_status: int | None = None
    last_error_kind: str | None = None
    last_poll_at: float | None = None
    next_poll_at: float | None = None
    polls: int = 0
    stories_total: int = 0
    empty_polls: int = 0
    last_new_story_at: float | None = None
    primed_at: float | None = None
    listing_note: str | None = None
    #: the instance that polled it last, when instances share the database
    polled_by: str | None = None


_SUMMARY_COLUMNS = (
    sources.c.name,
    sources.c.failures,
    sources.c.failing_since,
    sources.c.last_error,
    sources.c.last_http_status,
    sources.c.last_error_kind,
    sources.c.last_poll_at,
    sources.c.next_poll_at,
    sources.c.polls,
    sources.c.stories_total,
    sources.c.empty_polls,
    sources.c.last_new_story_at,
    sources.c.primed_at,
    sources.c.polled_by,
)


def source_summaries(conn: Connection) -> list[SourceSummary]:
    """Every stored source's :class:`SourceSummary`, in name order: one query (the listing
    notes joined from ``meta``) of the columns the status views show, however many sources."""
    note = meta.alias("note")
    query = (
        select(*_SUMMARY_COLUMNS, note.c.value)
        .outerjoin(note, note.c.key == literal(_note_key("")) + sources.c.name)
        .order_by(sources.c.name)
    )
    return [
        SourceSummary(
            name, failures or 0, failing, error, http, kind, last, nxt, polls or 0, total or 0, empty or 0, new,
            primed, text, poller,
        )
        for name, failures, failing, error, http, kind, last, nxt, polls, total, empty, new, primed, poller, text
        in conn.execute(query)
    ]


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
        "last_http_status": state.last_http_status,
        "next_poll_at": state.next_poll_at,
        "etag": state.etag,
        "last_modified": state.last_modified,
        "content_hash": state.content_hash,
        "new_story_times": json.dumps(state.new_story_times[-50:]),
        "listed_ids": json.dumps(state.listed_ids[-5000:]),
        "polls": state.polls,
        "stories_total": state.stories_total,
        "last_error_kind": state.last_error_kind,
        "empty_polls": state.empty_polls,
        "last_new_story_at": state.last_new_story_at,
        "volatile_params": json.dumps(state.volatile_params) if state.volatile_params else None,
        "polled_by": state.polled_by,
        # saving a poll's outcome ends its lease, in the same transaction
        "lease_owner": None,
        "lease_until": None,
    }
    stmt = _insert(conn, sources).values(name=state.name, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=values))
    if state.listing_note:
        set_meta(conn, _note_key(state.name), state.listing_note[:500])
    else:
        conn.execute(meta.delete().where(meta.c.key == _note_key(state.name)))


# ---------------------------------------------------------------------------- stories


@dataclass(frozen=True, slots=True)
class ListedStory:
    """A recorded story as a listing showed it: its id, link and title."""

    id: int
    url: str
    title: str


@dataclass(frozen=True, slots=True)
class Listers:
    """Who listed a recorded story: the source that recorded it, then the others, by name."""

    story_id: int
    #: the story's syndication cluster as recorded (None for stories recorded without one)
    cluster: str | None
    sources: tuple[str, ...]


def find_seen(
    conn: Connection, keys: Iterable[str], *, windowed: Iterable[str] = (), since: float = 0.0
) -> dict[str, int]:
    """Map each already-seen key among ``keys`` to its story id.

    A key among ``windowed`` counts only while its story was listed at or after ``since``
    (epoch seconds): such a key names a story for a while, not for good.
    """
    wanted = list(dict.fromkeys(keys))
    found: dict[str, int] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        rows = conn.execute(
            select(story_keys.c.key, story_keys.c.story_id).where(story_keys.c.key.in_(chunk))
        )
        found.update({k: sid for k, sid in rows})
    recent = [k for k in dict.fromkeys(windowed) if k in found]
    for i in range(0, len(recent), 500):
        chunk = recent[i : i + 500]
        stale = conn.execute(
            select(story_keys.c.key)
            .join(stories, stories.c.id == story_keys.c.story_id)
            .where(story_keys.c.key.in_(chunk), stories.c.last_listed < since)
        ).scalars()
        for key in stale:
            del found[key]
    return found


def touch_keys(conn: Connection, keys: Iterable[str], now: float) -> None:
    """The aliases among ``keys`` were listed at ``now``: they are the last to go when their
    story has too many (see :func:`add_keys`)."""
    wanted = sorted(set(keys))
    for i in range(0, len(wanted), 500):
        conn.execute(
            update(story_keys)
            .where(story_keys.c.key.in_(wanted[i : i + 500]), story_keys.c.alias == 1)
            .values(listed_at=now)
        )


def listed_stories(conn: Connection, ids: Iterable[int]) -> list[ListedStory]:
    """The recorded stories ``ids`` (those that still exist), by id."""
    wanted = sorted(set(ids))
    out: list[ListedStory] = []
    for i in range(0, len(wanted), 500):
        rows = conn.execute(
            select(stories.c.id, stories.c.url, stories.c.title).where(stories.c.id.in_(wanted[i : i + 500]))
        )
        out.extend(ListedStory(int(sid), url, title) for sid, url, title in rows)
    return out


def first_listings(conn: Connection, source: str, ids: Iterable[int]) -> dict[int, Listers]:
    """The stories among ``ids`` that ``source`` never listed before (it did not record them
    and is not among their listers), each with who listed it."""
    wanted = sorted(set(ids))
    out: dict[int, Listers] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        listed_before = select(story_listers.c.story_id).where(
            story_listers.c.source == source, story_listers.c.story_id.in_(chunk)
        )
        recorded = conn.execute(
            select(stories.c.id, stories.c.source, stories.c.cluster).where(
                stories.c.id.in_(chunk), stories.c.source != source, stories.c.id.not_in(listed_before)
            )
        )
        out.update({int(sid): Listers(int(sid), cluster, (recorder,)) for sid, recorder, cluster in recorded})
    found = sorted(out)
    for i in range(0, len(found), 500):
        others = conn.execute(
            select(story_listers.c.story_id, story_listers.c.source)
            .where(story_listers.c.story_id.in_(found[i : i + 500]))
            .order_by(story_listers.c.story_id, story_listers.c.source)
        )
        for sid, name in others:
            entry = out[sid]
            out[sid] = Listers(sid, entry.cluster, (*entry.sources, name))
    return out


def add_listers(conn: Connection, source: str, ids: Iterable[int]) -> None:
    """``source`` lists the recorded stories ``ids`` (which it did not record)."""
    rows = [{"story_id": sid, "source": source} for sid in sorted(set(ids))]
    if rows:
        conn.execute(
            _insert(conn, story_listers).values(rows).on_conflict_do_nothing(index_elements=["story_id", "source"])
        )


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
        {"key": k[:300], "story_id": sid, "alias": 0, "listed_at": now}
        for st, sid in zip(new, ids, strict=True)
        for k in dict.fromkeys(st.keys)
    ]
    if key_rows:
        conn.execute(_insert(conn, story_keys).on_conflict_do_nothing(index_elements=["key"]), key_rows)
    return ids


def add_keys(
    conn: Connection, story_id: int, keys: Iterable[str], *, now: float | None = None, max_aliases: int | None = None
) -> None:
    """Record ``keys`` (found after the story was recorded) as aliases of story ``story_id``,
    listed at ``now``; a key that names a story already is left as it is.

    With ``max_aliases`` the story keeps at most that many aliases: the least recently
    listed go (keys recorded with the story always stay), so a feed that makes up a new
    GUID on every poll cannot add key rows for ever.
    """
    rows = [{"key": k[:300], "story_id": story_id, "alias": 1, "listed_at": now} for k in dict.fromkeys(keys)]
    if not rows:
        return
    conn.execute(_insert(conn, story_keys).values(rows).on_conflict_do_nothing(index_elements=["key"]))
    if max_aliases is None:
        return
    aliases = and_(story_keys.c.story_id == story_id, story_keys.c.alias == 1)
    count = int(conn.execute(select(func.count()).select_from(story_keys).where(aliases)).scalar() or 0)
    if count > max_aliases:
        oldest = (
            select(story_keys.c.key)
            .where(aliases)
            .order_by(story_keys.c.listed_at.asc().nulls_first(), story_keys.c.key)
            .limit(count - max_aliases)
        )
        conn.execute(delete(story_keys).where(story_keys.c.key.in_(oldest)))


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
    """Delete up to ``batch`` stories not listed by their source since ``older_than``, with
    their keys, listers and history texts.

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
    conn.execute(delete(story_listers).where(story_listers.c.story_id.in_(ids)))
    history.delete_texts(conn, ids)
    conn.execute(delete(stories).where(stories.c.id.in_(ids)))
    return len(ids)


def prune_outbox(conn: Connection, *, older_than: float, batch: int = 1000) -> int:
    """Delete up to ``batch`` sent or cancelled outbox rows created before ``older_than``.

    Pending and dead rows are never deleted. Returns how many were deleted.
    """
    ids = (
        conn.execute(
            select(outbox.c.id)
            .where(
                and_(
                    outbox.c.status.in_([OutboxStatus.SENT, OutboxStatus.CANCELLED]),
                    outbox.c.created_at < older_than,
                )
            )
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
                event=row.event,
                status=OutboxStatus.PENDING,
                urgent=1 if row.urgent else 0,
                digest=row.digest,
                payload=row.payload.to_json(),
                created_at=now,
                due_at=row.due_at,
                next_attempt_at=row.due_at,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["key"])
            # counted by what comes back: PostgreSQL's driver reports no rowcount for an insert
            # that returns its key (SQLAlchemy adds that RETURNING itself)
            .returning(outbox.c.id)
        )
        inserted += len(conn.execute(stmt).all())
    return inserted


def due_destinations(conn: Connection, now: float, *, shared: bool = False) -> list[str]:
    """Destinations with at least one pending row due now; ``shared`` (instances sharing the
    database): also those with a row left ``sending`` whose lease has ended (its owner died)."""
    due = and_(outbox.c.status == OutboxStatus.PENDING, outbox.c.next_attempt_at <= now)
    if shared:
        due = or_(due, and_(outbox.c.status == OutboxStatus.SENDING, outbox.c.lease_until <= now))
    rows = conn.execute(select(outbox.c.dest).where(due).group_by(outbox.c.dest))
    return [r for (r,) in rows]


def pending_for(conn: Connection, dest: str, now: float, limit: int = 200) -> list[OutboxEntry]:
    """Up to ``limit`` pending rows of destination ``dest`` due at ``now``, oldest first."""
    rows = conn.execute(
        select(outbox)
        .where(
            and_(
                outbox.c.dest == dest,
                outbox.c.status == OutboxStatus.PENDING,
                outbox.c.next_attempt_at <= now,
            )
        )
        .order_by(outbox.c.id)
        .limit(limit)
    ).mappings()
    return [_outbox_entry(row) for row in rows]


def next_due(conn: Connection) -> float | None:
    """When the next pending row becomes due."""
    value = conn.execute(
        select(func.min(outbox.c.next_attempt_at)).where(outbox.c.status == OutboxStatus.PENDING)
    ).scalar()
    return float(value) if value is not None else None


#: the statuses a send's outcome may be written over: claimed, or (a caller that sends without a claim) pending
_OPEN = (OutboxStatus.PENDING, OutboxStatus.SENDING)


def claim(conn: Connection, ids: Sequence[int], lease_until: float) -> list[int]:
    """Claim rows ``ids`` for one send: those still pending become ``sending`` until
    ``lease_until``. Returns the ids claimed (those no longer pending are left alone)."""
    result = conn.execute(
        update(outbox)
        .where(and_(outbox.c.id.in_(list(ids)), outbox.c.status == OutboxStatus.PENDING))
        .values(status=OutboxStatus.SENDING, lease_until=lease_until)
        .returning(outbox.c.id)
    )
    return sorted(int(i) for i in result.scalars().all())


def release(conn: Connection, ids: Sequence[int]) -> None:
    """Rows ``ids`` claimed but not sent go back to pending as they were (no attempt counted)."""
    conn.execute(
        update(outbox)
        .where(and_(outbox.c.id.in_(list(ids)), outbox.c.status == OutboxStatus.SENDING))
        .values(status=OutboxStatus.PENDING, lease_until=None)
    )


def recover_interrupted(conn: Connection, now: float, error: str, *, dest: str | None = None) -> list[OutboxEntry]:
    """Rows left ``sending`` by a process that is gone (a crash in a send): the send may have
    arrived. Each becomes pending again, due when its lease ends (at the earliest ``now``), with
    one more attempt and one more unknown outcome and ``error`` as its last error. Returns the
    rows as they were found. Call only while holding the single-instance lock, before claiming;
    or, with ``dest`` (instances sharing the database), while holding that destination's lease:
    then only its rows whose lease has ended are taken (a live instance's never are)."""
    query = select(outbox).where(outbox.c.status == OutboxStatus.SENDING)
    if dest is not None:
        query = query.where(outbox.c.dest == dest, outbox.c.lease_until <= now)
    found = [_outbox_entry(row) for row in conn.execute(query).mappings()]
    for row in found:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == row.id)
            .values(
                status=OutboxStatus.PENDING,
                lease_until=None,
                next_attempt_at=max(row.lease_until or now, now),
                attempts=outbox.c.attempts + 1,
                unknowns=outbox.c.unknowns + 1,
                first_failed_at=row.first_failed_at if row.first_failed_at is not None else now,
                last_error=error[:500],
            )
        )
    return found


def mark_sent(conn: Connection, ids: Sequence[int], now: float) -> None:
    """Rows ``ids`` still pending or claimed were sent at ``now`` (one more send attempt each)."""
    conn.execute(
        update(outbox)
        .where(and_(outbox.c.id.in_(list(ids)), outbox.c.status.in_(_OPEN)))
        .values(
            status=OutboxStatus.SENT,
            sent_at=now,
            last_error=None,
            lease_until=None,
            attempts=outbox.c.attempts + 1,
        )
    )


def mark_failed(
    conn: Connection,
    ids: Sequence[int],
    *,
    error: str,
    next_attempt_at: float,
    now: float,
    solo: bool = False,
    unknown: bool = False,
) -> None:
    """A send of rows ``ids`` failed at ``now`` with ``error``: they are pending again (a claim
    ends), one more attempt each, the next at ``next_attempt_at``; with ``solo`` (the message
    failed on its own while its destination worked) one more towards poison; with ``unknown``
    (no answer: it may have arrived) one more unknown outcome. ``now`` is their first failure
    unless they failed before.
    """
    values: dict[str, Any] = {
        "status": OutboxStatus.PENDING,
        "lease_until": None,
        "last_error": error[:500],
        "next_attempt_at": next_attempt_at,
        "attempts": outbox.c.attempts + 1,
    }
    if solo:
        values["solo_failures"] = outbox.c.solo_failures + 1
    if unknown:
        values["unknowns"] = outbox.c.unknowns + 1
    open_rows = and_(outbox.c.id.in_(list(ids)), outbox.c.status.in_(_OPEN))
    conn.execute(update(outbox).where(open_rows).values(**values))
    conn.execute(update(outbox).where(open_rows, outbox.c.first_failed_at.is_(None)).values(first_failed_at=now))


def mark_dead(
    conn: Connection, ids: Sequence[int], error: str, *, tried: bool = False, unknown: bool = False
) -> None:
    """Give up on rows ``ids`` with ``error`` (a claim ends); ``tried``: a send of them just
    failed (one more attempt); ``unknown``: and its outcome was unknown (one more unknown)."""
    values: dict[str, Any] = {"status": OutboxStatus.DEAD, "last_error": error[:500], "lease_until": None}
    if tried:
        values["attempts"] = outbox.c.attempts + 1
    if unknown:
        values["unknowns"] = outbox.c.unknowns + 1
    conn.execute(update(outbox).where(outbox.c.id.in_(list(ids))).values(**values))


def mark_cancelled(conn: Connection, ids: Sequence[int], reason: str) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(list(ids)))
        .values(status=OutboxStatus.CANCELLED, last_error=reason[:500])
    )


def postpone_destination(conn: Connection, dest: str, until: float) -> None:
    """Hold every pending row of ``dest`` until ``until`` (the destination is backing off)."""
    conn.execute(
        update(outbox)
        .where(
            and_(
                outbox.c.dest == dest,
                outbox.c.status == OutboxStatus.PENDING,
                outbox.c.next_attempt_at < until,
            )
        )
        .values(next_attempt_at=until)
    )


def hold_for_throttle(conn: Connection, ids: Sequence[int], until: float) -> None:
    """Hold rows ``ids`` until ``until`` (their destination is over its hourly limit).

    Every held row joins the ``throttle`` digest, whatever digest or quiet hours it waited
    for before (those are over: it was due), so everything held goes out as one message when
    the hour's window frees up, and ``outbox`` says why it waits. Its due time moves to
    ``until``, never earlier, so the health check counts its wait from there, not as stuck.
    """
    held = outbox.c.id.in_(list(ids))
    conn.execute(update(outbox).where(held).values(digest="throttle", next_attempt_at=until))
    conn.execute(update(outbox).where(held, outbox.c.due_at < until).values(due_at=until))


def list_outbox(conn: Connection, statuses: Sequence[OutboxStatus], limit: int = 500) -> list[OutboxEntry]:
    """The first ``limit`` rows (by id) whose status is one of ``statuses``."""
    rows = conn.execute(
        select(outbox).where(outbox.c.status.in_(list(statuses))).order_by(outbox.c.id).limit(limit)
    ).mappings()
    return [_outbox_entry(row) for row in rows]


def list_sent(conn: Connection, since: float, limit: int = 500) -> list[OutboxEntry]:
    """The newest ``limit`` rows sent at or after ``since``, in the order they were sent."""
    rows = conn.execute(
        select(outbox)
        .where(and_(outbox.c.status == OutboxStatus.SENT, outbox.c.sent_at >= since))
        .order_by(outbox.c.sent_at.desc(), outbox.c.id.desc())
        .limit(limit)
    ).mappings()
    return [_outbox_entry(row) for row in reversed(list(rows))]


def retry_rows(conn: Connection, *, row_id: int | None, all_dead: bool, now: float) -> int:
    """Requeue one row (pending or dead) or every dead row, due at ``now`` with a clean
    failure record (their count of send attempts stays); returns how many."""
    cond = outbox.c.id == row_id if row_id is not None else outbox.c.status == OutboxStatus.DEAD
    if row_id is None and not all_dead:
        return 0
    result = conn.execute(
        update(outbox)
        .where(and_(cond, or_(outbox.c.status == OutboxStatus.DEAD, outbox.c.status == OutboxStatus.PENDING)))
        .values(status=OutboxStatus.PENDING, next_attempt_at=now, solo_failures=0, first_failed_at=None)
    )
    return int(result.rowcount or 0)


def outbox_counts(conn: Connection) -> dict[OutboxStatus, int]:
    """How many outbox rows have each status (statuses with no rows are absent)."""
    rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
    return {OutboxStatus(s): int(n) for s, n in rows}


def oldest_pending(conn: Connection) -> float | None:
    """The earliest due time of a pending or sending row (None: nothing waits).

    Counted from when a row is due, not when it was written: an alert held for quiet hours,
    a digest or the hourly throttle is not waiting for delivery until its hold ends. A row
    whose send's outcome could not be written yet (``sending``) still waits.
    """
    value = conn.execute(
        select(func.min(outbox.c.due_at)).where(outbox.c.status.in_(_OPEN))
    ).scalar()
    return float(value) if value is not None else None


def dead_targets(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(outbox.c.target, func.count())
        .where(outbox.c.status == OutboxStatus.DEAD)
        .group_by(outbox.c.target)
    )
    return {t: int(n) for t, n in rows}


# ---------------------------------------------------------------------------- destinations and meta


def get_destination(conn: Connection, dest: str) -> DestinationState | None:
    """The stored delivery state of destination ``dest``, or None before its first send."""
    row = conn.execute(select(destinations).where(destinations.c.dest == dest)).mappings().first()
    if row is None:
        return None
    return DestinationState(
        dest=row["dest"],
        target=row["target"],
        failures=row["failures"] or 0,
        blocked_until=row["blocked_until"],
        last_success_at=row["last_success_at"],
        last_error=row["last_error"],
        sent_log=tuple(json.loads(row["sent_log"] or "[]")),
        last_digest_at=row["last_digest_at"],
    )


def all_destinations(conn: Connection) -> dict[str, DestinationState]:
    """The stored delivery state of every destination that was ever sent to, by ``dest``."""
    dests = conn.execute(select(destinations.c.dest)).scalars().all()
    return {d: s for d in dests if (s := get_destination(conn, d)) is not None}


def save_destination(conn: Connection, state: DestinationState) -> None:
    """Insert or replace the delivery state of ``state.dest`` (the newest 500 sends of its log)."""
    values = {
        "target": state.target,
        "failures": state.failures,
        "blocked_until": state.blocked_until,
        "last_success_at": state.last_success_at,
        "last_error": state.last_error,
        "sent_log": json.dumps(list(state.sent_log[-500:])),
        "last_digest_at": state.last_digest_at,
    }
    stmt = _insert(conn, destinations).values(dest=state.dest, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["dest"], set_=values))


def get_meta(conn: Connection, key: str) -> str | None:
    value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()
    return str(value) if value is not None else None


def set_meta(conn: Connection, key: str, value: str) -> None:
    stmt = _insert(conn, meta).values(key=key, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value}))


# ---------------------------------------------------------------------------- the dashboard's reads


def recent_alerts(conn: Connection, limit: int, rule: str | None = None) -> list[OutboxEntry]:
    """The newest ``limit`` alert rows (of ``rule`` only when given), newest first.

    By id, which follows the order rows were written, so the read walks the primary key
    backwards and stops after ``limit`` rows however many are stored.
    """
    cond = outbox.c.kind == MessageKind.ALERT
    if rule is not None:
        cond = and_(cond, outbox.c.rule == rule)
    rows = conn.execute(select(outbox).where(cond).order_by(outbox.c.id.desc()).limit(limit)).mappings()
    return [_outbox_entry(row) for row in rows]


def alert_counts(conn: Connection) -> dict[str, tuple[int, float]]:
    """Each rule's number of stories it alerted for, and when its latest alert was written."""
    rows = conn.execute(
        select(outbox.c.rule, func.count(func.distinct(outbox.c.story_id)), func.max(outbox.c.created_at))
        .where(outbox.c.kind == MessageKind.ALERT)
        .group_by(outbox.c.rule)
    )
    return {str(rule): (int(n), float(at)) for rule, n, at in rows}


def ping(conn: Connection) -> None:
    """A read of the database that touches a table (readiness)."""
    conn.execute(select(func.count()).select_from(meta)).scalar()
