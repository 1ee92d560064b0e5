"""The daemon's store: one async method per named operation, all run on one database thread.

The daemon never opens a transaction itself. It awaits an operation of :class:`Store`
(``due_destinations(now)``, ``mark_sent(...)``, ``overview()`` ...), and the operation runs
on the store's single thread, so SQLite writes never contend with each other and the event
loop never waits for the disk. Each operation is exactly one transaction; where a
transaction must decide something between its reads and its writes (how far a failing
destination backs off, which health notices are not throttled), the caller passes a pure
policy function that the operation calls inside the transaction, so the policy stays with
the daemon and the transaction stays here.

Values cross this edge typed: the rows and states of :mod:`monitor.store.repo`, the enums of
:mod:`monitor.models` and the small dataclasses below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import ParamSpec, Protocol, TypeVar

from sqlalchemy import Connection

from monitor.models import OutboxStatus
from monitor.store import events, history, repo
from monitor.store.db import Database
from monitor.store.leases import Leases

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Overview:
    """What the status page and the health check read, from one transaction.

    ``sources`` holds the stored health of every source ever polled, by name (in name
    order; :class:`~monitor.store.repo.SourceSummary`, not the whole poll state); ``outbox``
    how many rows have each status (statuses with no rows are absent);
    ``oldest_pending`` the earliest due time of a pending row (None: nothing pending; a row
    held for quiet hours, a digest or the throttle is due when its hold ends);
    ``dead_by_target`` how many dead rows each target has (targets with none are absent).
    """

    sources: Mapping[str, repo.SourceSummary]
    outbox: Mapping[OutboxStatus, int]
    oldest_pending: float | None
    dead_by_target: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class FailurePlan:
    """What a failed send writes, decided by the delivery policy from the destination's state.

    Either way the failed send counts as one more attempt of each row, and with ``unknown``
    (no answer came: the message may have arrived) one more unknown outcome. With
    ``dead_reason`` set the rows become dead with that error. Otherwise they are retried at
    ``retry_at`` with ``error`` as their last error, counting one more failure on their own
    (towards poison) when ``solo``. With ``destination`` set, that state is saved and, when it is
    blocked, every pending row of the destination waits until ``blocked_until`` (the whole
    destination backs off); ``None`` leaves the destination as it is.
    """

    error: str
    retry_at: float
    solo: bool
    dead_reason: str | None = None
    destination: repo.DestinationState | None = None
    unknown: bool = False


class HealthNotice(Protocol):
    """A health notice to record: the subject it is throttled by and its outbox rows."""

    @property
    def subject(self) -> str: ...

    @property
    def rows(self) -> Sequence[repo.OutboxRow]: ...


N = TypeVar("N", bound=HealthNotice)


def _meta_key(subject: str) -> str:
    # the meta row that remembers when a health notice about ``subject`` was last written
    return f"health:{subject}"


class Store:
    """Owns the :class:`~monitor.store.db.Database` and the one thread all its work runs on.

    Every ``async`` method runs on that thread, as one transaction unless it says otherwise
    (:meth:`prune` works in short batches); its SQLAlchemy errors propagate to the awaiting
    caller. :meth:`close` stops the thread (after the work already submitted) and closes the
    database. ``database`` is there for tests and read-only tools; the daemon uses the
    operations.
    """

    def __init__(self, database: Database, *, owner: str = "") -> None:
        self.database = database
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmonitor-db")
        #: leases and membership of instances sharing the database; ``owner`` is this instance's id
        self.leases = Leases(self._read, self._write, owner)

    @property
    def shared(self) -> bool:
        """Whether instances share this database (PostgreSQL): then sources and destinations are leased."""
        return self.database.shared

    async def _call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        # the one way onto the database thread: every operation below goes through here
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, partial(fn, *args, **kwargs))

    async def _read(self, fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self.database.read() as conn:
                return fn(conn)

        return await self._call(run)

    async def _write(self, fn: Callable[[Connection], T]) -> T:
        def run() -> T:
            with self.database.write() as conn:
                return fn(conn)

        return await self._call(run)

    def close(self) -> None:
        """Finish the work already submitted, stop the thread and close the database."""
        self._thread.shutdown(wait=True)
        self.database.close()

    async def open(self) -> int:
        """Take the single-instance lock, then bring the schema to the newest version (returned).

        Raises :class:`~monitor.errors.StoreError` when another daemon holds the lock or the
        migration fails.
        """

        def run() -> int:
            self.database.lock.acquire()
            return self.database.migrate()

        return await self._call(run)

    async def migrate(self) -> int:
        """Bring the schema to the newest version (returned), without the lock (a scratch database)."""
        return await self._call(self.database.migrate)

    # ------------------------------------------------------------------ sources and stories

    async def source_state(self, name: str) -> repo.SourceState | None:
        """The stored state of source ``name``; None before its first recorded poll."""
        return await self._read(partial(repo.get_source, name=name))

    async def source_states(self) -> dict[str, repo.SourceState]:
        """The stored state of every source ever recorded, by name (in name order)."""
        return await self._read(lambda conn: {s.name: s for s in repo.all_sources(conn)})

    async def save_source(self, state: repo.SourceState) -> None:
        """Save ``state`` (insert or update)."""
        await self._write(partial(repo.save_source, state=state))

    async def record_unchanged(self, state: repo.SourceState, now: float) -> None:
        """Record a poll at ``now`` that found nothing new to read (304, or the same body).

        One transaction: the poll counts as a success in ``state``
        (:meth:`~repo.SourceState.record_ok`), the stories the source listed last time
        (``state.listed_ids``) are still listed at ``now``, so retention keeps them, and
        ``state`` is saved.
        """

        def write(conn: Connection) -> None:
            state.record_ok(now)
            repo.touch_listed(conn, state.listed_ids, now)
            repo.save_source(conn, state)

        await self._write(write)

    async def find_seen(
        self, keys: Sequence[str], *, windowed: Sequence[str] = (), since: float = 0.0
    ) -> dict[str, int]:
        """Each already-seen key among ``keys``, mapped to its story id; a key among
        ``windowed`` only while its story was listed at or after ``since``."""
        return await self._read(partial(repo.find_seen, keys=keys, windowed=windowed, since=since))

    async def listed_stories(self, ids: Collection[int]) -> list[repo.ListedStory]:
        """The id, link and title of each of the recorded stories ``ids`` that still exists."""
        if not ids:
            return []
        return await self._read(partial(repo.listed_stories, ids=ids))

    async def first_listings(self, source: str, ids: Collection[int]) -> dict[int, repo.Listers]:
        """The stories among ``ids`` that ``source`` lists for the first time, each with the
        sources that listed it before (the one that recorded it first)."""
        if not ids:
            return {}
        return await self._read(partial(repo.first_listings, source=source, ids=ids))

    async def record_poll(
        self,
        state: repo.SourceState,
        stories: Sequence[repo.NewStory],
        *,
        listed: Collection[int],
        extra_keys: Mapping[int, Sequence[str]],
        rows: Sequence[repo.OutboxRow],
        now: float,
        seen_keys: Collection[str] = (),
        max_aliases: int | None = None,
        first_listed: Collection[int] = (),
        relisted: Sequence[int] = (),
        matches: Sequence[tuple[int, str]] = (),
        choose_event: events.Choose | None = None,
    ) -> list[int]:
        """Record one poll of a source in ONE transaction, so that a crash loses all of it or none.

        In this order: the new ``stories`` are seen at ``now``; the known stories the source
        still lists (``listed``: their ids) are touched at ``now``, and so are the keys it
        lists them by (``seen_keys``); ``state.listed_ids`` becomes those and the new ones
        (so that a 304 or an unchanged body keeps them listed and retention never prunes
        them into a re-alert); ``extra_keys`` (story id → keys) join their stories as
        aliases, at most ``max_aliases`` a story (None: no limit); the source becomes a
        lister of the known stories it lists for the first time (``first_listed``); the
        outbox ``rows`` are added (``story_index`` counts into ``stories``, then on into
        ``relisted``, the ids of known stories the poll alerts; a row whose key exists is
        ignored); the poll counts as a success with that many new stories in ``state``
        (:meth:`~repo.SourceState.record_ok`), which is saved. The history keeps each new
        story's language and text (compressed before the transaction starts) and the
        ``matches`` (story index, counted as ``story_index`` is, and rule name), found by
        this poll at ``now``. Rows carrying an event candidate (rules grouped by event) are
        put in their events first, with ``choose_event`` deciding which
        (:func:`monitor.store.events.plan_rows`). Returns the new stories' ids, in order.
        """

        def write(conn: Connection, texts: Sequence[tuple[str | None, bytes]]) -> list[int]:
            ids = repo.add_stories(conn, stories, now)
            history.add_texts(conn, ids, texts)
            repo.touch_listed(conn, listed, now)
            repo.touch_keys(conn, seen_keys, now)
            state.listed_ids = sorted(set(listed).union(ids))
            for story_id, keys in extra_keys.items():
                repo.add_keys(conn, story_id, keys, now=now, max_aliases=max_aliases)
            repo.add_listers(conn, state.name, first_listed)
            story_ids = [*ids, *relisted]
            planned = events.plan_rows(conn, rows, now, choose_event) if choose_event is not None else rows
            repo.add_outbox(conn, planned, story_ids, now)
            history.add_matches(conn, [(story_ids[i], rule) for i, rule in matches], source=state.name, now=now)
            state.record_ok(now, new_stories=len(stories))
            repo.save_source(conn, state)
            return ids

        def run() -> list[int]:
            # compressing takes ~0.2 ms a story: done before the write lock is taken
            texts = [(story.lang, history.encode_text(story.text)) for story in stories]
            with self.database.write() as conn:
                return write(conn, texts)

        return await self._call(run)

    async def recent_signatures(self, since: float) -> list[tuple[str, bytes | None, str | None, float]]:
        """(cluster, signature, title key, first seen) of the stories first seen since ``since``, oldest first."""
        return await self._read(partial(repo.recent_signatures, since=since))

    async def prune(self, older_than: float, *, batch: int = 1000) -> int:
        """Delete the stories not listed since ``older_than`` (their texts too), the sent or
        cancelled alerts created before it, and the history's matches and alert outcomes
        from before it; returns how many rows went.

        In batches of at most ``batch`` rows of each table, each batch its own short
        transaction and its own turn on the database thread, so that the operations of
        polls and deliveries queued meanwhile run between two batches, never after all of
        them.
        """

        def one_batch(conn: Connection) -> int:
            return (
                repo.prune(conn, older_than=older_than, batch=batch)
                + repo.prune_outbox(conn, older_than=older_than, batch=batch)
                + history.prune_history(conn, older_than=older_than, batch=batch)
                + events.prune(conn, older_than=older_than, batch=batch)
            )

        total = 0
        while n := await self._write(one_batch):
            total += n
        return total

    # ------------------------------------------------------------------ status and health

    async def overview(self) -> Overview:
        """Every stored source's health and the outbox's counts, read in one transaction."""

        def read(conn: Connection) -> Overview:
            return Overview(
                sources={s.name: s for s in repo.source_summaries(conn)},
                outbox=repo.outbox_counts(conn),
                oldest_pending=repo.oldest_pending(conn),
                dead_by_target=repo.dead_targets(conn),
            )

        return await self._read(read)

    async def ping(self) -> None:
        """Read one row's worth from the database; raises StoreError when it cannot."""
        await self._read(repo.ping)

    async def outbox_listing(
        self, statuses: Sequence[OutboxStatus], limit: int
    ) -> tuple[list[repo.OutboxEntry], dict[str, repo.DestinationState]]:
        """The first ``limit`` rows (by id) with one of ``statuses``, and every destination's
        state, read in one transaction (what the dashboard's outbox shows)."""

        def read(conn: Connection) -> tuple[list[repo.OutboxEntry], dict[str, repo.DestinationState]]:
            return repo.list_outbox(conn, statuses, limit), repo.all_destinations(conn)

        return await self._read(read)

    async def retry_row(self, row_id: int, now: float) -> bool:
        """Put dead or pending row ``row_id`` back as pending, due at ``now`` (the dashboard's
        retry button); False when there is no such dead or pending row."""
        return await self._write(lambda conn: repo.retry_rows(conn, row_id=row_id, all_dead=False, now=now)) > 0

    async def recent_alerts(self, limit: int, rule: str | None = None) -> list[repo.OutboxEntry]:
        """The newest ``limit`` alert rows (of ``rule`` only when given), newest first."""
        return await self._read(lambda conn: repo.recent_alerts(conn, limit, rule))

    async def alert_counts(self) -> dict[str, tuple[int, float]]:
        """Each rule's number of stories alerted for and the time of its latest alert."""
        return await self._read(repo.alert_counts)

    async def outbox_counts(self) -> dict[OutboxStatus, int]:
        """How many outbox rows have each status (statuses with no rows are absent)."""
        return await self._read(repo.outbox_counts)

    async def add_health_notices(
        self, subjects: Sequence[str], now: float, plan: Callable[[Mapping[str, float]], list[N]]
    ) -> list[N]:
        """Record the health notices ``plan`` chooses, in one write transaction.

        ``plan`` gets, for each of ``subjects`` that had a notice before, when the last one
        was written (epoch seconds), and returns the notices to write now. For each, in
        order, ``now`` becomes the time of its subject's last notice; then all their rows are
        added to the outbox (a row whose key exists is ignored). Returns what ``plan``
        returned.
        """

        def write(conn: Connection) -> list[N]:
            last: dict[str, float] = {}
            for subject in subjects:
                value = repo.get_meta(conn, _meta_key(subject))
                if value is not None:
                    last[subject] = float(value)
            notices = plan(last)
            for notice in notices:
                repo.set_meta(conn, _meta_key(notice.subject), str(now))
            repo.add_outbox(conn, [row for notice in notices for row in notice.rows], [], now)
            return notices

        return await self._write(write)

    async def spike_turn(
        self,
        name: str,
        rule: str,
        *,
        now: float,
        window: float,
        baseline: float,
        top: int,
        judge: Callable[[history.SpikeCounts, float | None], bool],
        plan: Callable[[history.SpikeCounts, Sequence[history.SpikeStory]], Sequence[repo.OutboxRow]],
    ) -> tuple[history.SpikeCounts, float | None, int]:
        """One check of spike rule ``name`` (counting the matches of ``rule``), in one write transaction.

        ``judge`` gets the counts and when the spike under way began (None: none is) and says
        whether the rule spikes now. A spike that begins stores its start and adds the rows
        ``plan`` makes from the counts and the window's top ``top`` stories (a row whose key
        exists is ignored, so two instances checking at once write one); one that ends is
        forgotten. Returns the counts, the start of the spike under way after this check
        (None: none) and how many rows were written.
        """
        key = f"spike:{name}"

        def write(conn: Connection) -> tuple[history.SpikeCounts, float | None, int]:
            counts = history.spike_counts(conn, rule, now=now, window=window, baseline=baseline)
            stored = repo.get_meta(conn, key)
            since = float(stored) if stored else None
            if not judge(counts, since):
                if since is not None:
                    repo.set_meta(conn, key, "")
                return counts, None, 0
            if since is not None:
                return counts, since, 0
            found = history.spike_stories(conn, rule, since=now - window, until=now, limit=top)
            rows = plan(counts, found)
            repo.set_meta(conn, key, repr(now))
            added = repo.add_outbox(conn, rows, [], now)
            return counts, now, added

        return await self._write(write)

    # ------------------------------------------------------------------ delivery

    async def due_destinations(self, now: float) -> list[str]:
        """The destinations with at least one pending row due at ``now``."""
        return await self._read(partial(repo.due_destinations, now=now, shared=self.shared))

    async def next_due(self) -> float | None:
        """When the next pending row becomes due (epoch seconds); None when nothing is pending."""
        return await self._read(repo.next_due)

    async def pending_for(self, dest: str, now: float) -> list[repo.OutboxEntry]:
        """Up to 200 pending rows of destination ``dest`` due at ``now``, oldest first."""
        return await self._read(partial(repo.pending_for, dest=dest, now=now))

    async def destination(self, dest: str, target: str) -> repo.DestinationState:
        """The delivery state of destination ``dest`` of ``target``; a fresh one before its first send."""
        return await self._read(partial(_destination, dest=dest, target=target))

    async def cluster_sources(self, clusters: Sequence[str]) -> dict[str, list[str]]:
        """For each of ``clusters``, the source of every story in it, in the order they were seen.

        A cluster with no stored story maps to an empty list.
        """

        def read(conn: Connection) -> dict[str, list[str]]:
            return {c: [source for source, _url in repo.cluster_outlets(conn, c)] for c in clusters}

        return await self._read(read)

    async def claim(self, ids: Sequence[int], lease_until: float) -> list[int]:
        """Claim rows ``ids`` for one send before it starts: those still pending become
        ``sending`` until ``lease_until``. Returns the ids claimed; a send goes out only for a
        claim that was written (:func:`repo.claim`)."""
        return await self._write(partial(repo.claim, ids=ids, lease_until=lease_until))

    async def release(self, ids: Sequence[int]) -> None:
        """Rows ``ids`` were claimed and not sent: pending again, as they were; no transaction when empty."""
        if ids:
            await self._write(partial(repo.release, ids=ids))

    async def recover_interrupted(self, now: float, error: str) -> list[repo.OutboxEntry]:
        """Make the rows a gone process left ``sending`` pending again, due when their lease ends
        (see :func:`repo.recover_interrupted`); returns them as they were found."""
        return await self._write(partial(repo.recover_interrupted, now=now, error=error))

    async def mark_sent(
        self, ids: Sequence[int], *, dest: str, target: str, now: float, keep_sends_after: float
    ) -> None:
        """Record a successful send of rows ``ids`` to destination ``dest`` of ``target``.

        One transaction: the rows still pending or claimed become sent at ``now`` (one more
        attempt each); the destination's
        failures, backoff and last error are cleared, its last success is ``now``, and
        ``now`` joins its send log, which forgets the sends at or before ``keep_sends_after``.
        """

        def write(conn: Connection) -> None:
            history.record_outcomes(conn, ids, OutboxStatus.SENT, now)
            repo.mark_sent(conn, ids, now)
            state = _destination(conn, dest, target)
            sent_log = (*(t for t in state.sent_log if t > keep_sends_after), now)
            repo.save_destination(
                conn,
                replace(
                    state,
                    target=target,
                    failures=0,
                    blocked_until=None,
                    last_success_at=now,
                    last_error=None,
                    sent_log=sent_log,
                ),
            )

        await self._write(write)

    async def record_failure(
        self,
        ids: Sequence[int],
        *,
        dest: str,
        target: str,
        now: float,
        decide: Callable[[repo.DestinationState], FailurePlan],
    ) -> FailurePlan:
        """Record a failed send of rows ``ids`` to destination ``dest`` of ``target``.

        One transaction: ``decide`` gets the destination's state (a fresh one before its
        first send) and returns a :class:`FailurePlan`, which is written in this order: the
        rows dead or retried, one more attempt each (an attempt at ``now`` is their first
        failure unless they failed before), then the destination's new state, then the hold
        on its pending rows.
        Returns the plan.
        """

        def write(conn: Connection) -> FailurePlan:
            plan = decide(_destination(conn, dest, target))
            if plan.dead_reason is not None:
                history.record_outcomes(conn, ids, OutboxStatus.DEAD, now, error=plan.dead_reason)
                repo.mark_dead(conn, ids, plan.dead_reason, tried=True, unknown=plan.unknown)
            else:
                repo.mark_failed(
                    conn,
                    ids,
                    error=plan.error,
                    next_attempt_at=plan.retry_at,
                    now=now,
                    solo=plan.solo,
                    unknown=plan.unknown,
                )
            if plan.destination is not None:
                repo.save_destination(conn, plan.destination)
                if plan.destination.blocked_until is not None:
                    # nothing to this destination before the backoff ends (and no busy wake-ups meanwhile)
                    repo.postpone_destination(conn, dest, plan.destination.blocked_until)
            return plan

        return await self._write(write)

    async def mark_dead(self, ids: Sequence[int], reason: str, *, tried: bool, now: float) -> None:
        """Give up on rows ``ids`` at ``now``: they become dead with ``reason`` as their last
        error (a claim ends; the history records it).

        ``tried``: a send of them just failed for good (it counts as one more attempt);
        False when they are given up before any send (their message could not be rendered).
        """

        def write(conn: Connection) -> None:
            history.record_outcomes(conn, ids, OutboxStatus.DEAD, now, error=reason)
            repo.mark_dead(conn, ids, reason, tried=tried)

        await self._write(write)

    async def cancel(self, ids: Sequence[int], reason: str, *, now: float) -> None:
        """Cancel rows ``ids`` at ``now`` with ``reason`` as their last error (the history
        records it); no transaction when empty."""
        if not ids:
            return

        def write(conn: Connection) -> None:
            history.record_outcomes(conn, ids, OutboxStatus.CANCELLED, now, error=reason)
            repo.mark_cancelled(conn, ids, reason)

        await self._write(write)

    async def hold_for_throttle(self, ids: Sequence[int], until: float) -> None:
        """Hold rows ``ids`` until ``until`` as one ``throttle`` digest (see :func:`repo.hold_for_throttle`)."""
        await self._write(partial(repo.hold_for_throttle, ids=ids, until=until))

    # ------------------------------------------------------------------ history

    async def story_history(
        self,
        *,
        since: float,
        until: float,
        sources: Collection[str] | None = None,
        after: int = 0,
        limit: int = 500,
    ) -> list[history.StoredStory]:
        """One page of the stories first seen in [``since``, ``until``), in the order they
        were first seen, texts decompressed: up to ``limit`` of them, only those of
        ``sources`` (names) unless None; of those first seen at ``since`` exactly, only the
        ones with an id above ``after``. The next page starts at the last story of this one:
        ``since=last.first_seen, after=last.id``; an empty page ends the window."""
        return await self._read(
            partial(history.stories_between, since=since, until=until, sources=sources, after=after, limit=limit)
        )

    async def match_activity(self, *, since: float, until: float) -> history.MatchActivity:
        """Every rule's matches in [``since``, ``until``), its latest match and its alerts
        sent in the window (see :class:`~monitor.store.history.MatchActivity`)."""
        return await self._read(partial(history.match_activity, since=since, until=until))

    async def alert_history(
        self,
        *,
        since: float,
        until: float,
        rule: str | None = None,
        outcomes: Collection[OutboxStatus] | None = None,
        limit: int = 500,
    ) -> list[history.AlertRecord]:
        """The newest ``limit`` alert outcomes (sent, dead, cancelled) in [``since``,
        ``until``), oldest first; only those of ``rule`` and of ``outcomes`` unless None."""
        return await self._read(
            partial(history.alerts_between, since=since, until=until, rule=rule, outcomes=outcomes, limit=limit)
        )

    async def database_bytes(self) -> int | None:
        """How big the database is (see :meth:`~monitor.store.db.Database.size_bytes`)."""
        return await self._call(self.database.size_bytes)


def _destination(conn: Connection, dest: str, target: str) -> repo.DestinationState:
    return repo.get_destination(conn, dest) or repo.DestinationState(dest=dest, target=target)
