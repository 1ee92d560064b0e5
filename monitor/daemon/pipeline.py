"""One poll of one source, from fetch to the transaction that records it.

fetch (conditional GET) → parse in the worker pool → identity → drop seen → prime on the
first poll → full text for new stories → match every rule (and the rules limited to this
source on seen stories it lists for the first time) → one transaction: stories seen,
outbox rows, source state. A crash before the commit loses nothing (the next poll sees the
same stories as new); after it, nothing is redone.

The steps, each returning what it found: :func:`fetch` (the listing, or why there is
none), :func:`~monitor.daemon.recognise.recognise` (fresh and seen entries, links that
change every poll recognised), :func:`build_stories` (stories with their text, seen ones
dropped again by the keys their articles revealed),
:func:`~monitor.daemon.relisted.first_listings` (seen stories the source lists for the
first time), :func:`plan` (clusters and outbox rows, on the CPU thread) and
:func:`commit` (the one transaction). :func:`poll_source` runs them and never raises for
a source's problems.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from urllib.parse import urlsplit

from monitor.config import Config, SourceSettings
from monitor.daemon.alerts import AlertPlan, Dedup, assign_clusters, plan_alerts
from monitor.daemon.articles import build_story
from monitor.daemon.backoff import adaptive_interval, retry_delay_for
from monitor.daemon.eventgroups import choose as choose_event
from monitor.daemon.faults import fault_point
from monitor.daemon.recognise import find_seen, recognise
from monitor.daemon.relisted import FirstListings, first_listings
from monitor.daemon.runtime import Runtime
from monitor.daemon.seen import SeenSplit, drop_repeats, split_seen
from monitor.daemon.syndication import shared_clusters, sign_stories
from monitor.errors import FetchError, HTTPStatusError, MonitorError, ParseError
from monitor.identity.keys import MAX_ALIASES, source_url_hash
from monitor.models import Match, Story
from monitor.redact import redact_text, redact_url
from monitor.sources import Candidate, kind_for
from monitor.store import repo

log = logging.getLogger("monitor.poll")


class PollStatus(StrEnum):
    """How one poll ended; the value is what the poll log line and the ``outcome`` label of
    ``newsmonitor_polls_total`` show."""

    #: a changed listing was read: its new stories recorded, their alerts planned
    OK = "ok"
    #: the server answered 304 Not Modified
    NOT_MODIFIED = "not_modified"
    #: the body is the one read last time
    UNCHANGED = "unchanged"
    #: the first poll of a source: its stories recorded as seen, none alerted
    PRIMED = "primed"
    #: fetching, parsing or recording failed (``PollResult.error`` says why)
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll did, for logs, tests and ``once --dry-run``."""

    source: str
    status: PollStatus = PollStatus.OK
    listed: int = 0
    new: int = 0
    alerts: list[tuple[Story, list[Match]]] = field(default_factory=list)
    #: outbox rows written (0 when nothing is recorded)
    rows: int = 0
    error: str | None = None
    rejected: list[tuple[str, str]] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Validators:
    """What identifies a body: the server's ETag and Last-Modified, and the body's hash.

    They are stored only with the listing read from that body (:func:`commit`) or when the
    server says the body is the one listed before (304, or the same hash), never after a
    failed parse or recording: the next poll then fetches the body afresh and reads it again,
    instead of a 304 that would pass for a healthy poll and hide the body's stories.
    """

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None

    def applied_to(self, state: repo.SourceState) -> repo.SourceState:
        """A copy of ``state`` holding these validators (``state`` itself is left as it was)."""
        return replace(state, etag=self.etag, last_modified=self.last_modified, content_hash=self.content_hash)


@dataclass(frozen=True, slots=True)
class Fetched:
    """What the conditional GET brought: a listing to read, or why there is none."""

    #: OK with a listing; NOT_MODIFIED or UNCHANGED without one
    status: PollStatus
    candidates: list[Candidate] = field(default_factory=list)
    #: links the listing offered that are not stories, with the reason
    rejected: list[tuple[str, str]] = field(default_factory=list)
    #: the validators of the body fetched (of the body listed before, for NOT_MODIFIED)
    validators: Validators = field(default_factory=Validators)
    #: what the user should know about the listing (``Listing.note``), recorded with it
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """A changed listing, read: its new stories, the seen ones it lists, what they make."""

    #: the source's first poll: record, never alert
    priming: bool
    #: the new stories, in listing order
    stories: list[Story]
    #: the ids of the seen stories listed now
    still_listed: set[int]
    #: seen story id → keys it is listed under now that are not recorded yet
    new_keys: dict[int, list[str]]
    #: one per story
    clusters: list[Dedup]
    alerts: AlertPlan
    #: the validators of the body read, recorded with the listing
    validators: Validators
    #: the keys of the listing that name seen stories
    seen_keys: frozenset[str]
    #: the source's volatile query parameters, with what this listing taught
    volatile: list[str]
    #: the seen stories the source lists for the first time, and those some rule runs on now
    first: FirstListings
    #: each new story's band keys where the clusters are settled in the database (instances
    #: sharing it: see monitor.daemon.syndication); None where the in-memory index settled them
    bands: list[list[int]] | None = None


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None


async def poll_source(rt: Runtime, src: SourceSettings, *, record: bool = True) -> PollResult:
    """Poll ``src`` once and log one line about it.

    Never raises for source problems: a failed fetch, parse or recording step is logged
    once, stored in the source's state (its failures counted, its next poll backed off, so
    that the health check tells about it), and the result says ``error`` (with what the
    steps before it found). That holds for any exception of any step, ours or not: one that
    is not a MonitorError is recorded as an ``internal_error`` with its type, logged with its
    traceback and counted in ``newsmonitor_poll_internal_errors_total``. Only a database that
    cannot load or save the state itself raises (StoreError). With ``record`` False (``once
    --dry-run``, ``test-source``) nothing is written: no stories, no outbox rows, no source
    state.
    """
    started = time.monotonic()
    now = rt.clock.timestamp()
    state = await _load_state(rt, src)
    fetched = Fetched(PollStatus.ERROR)  # until the fetch returns: nothing listed
    reading: Reading | None = None
    rows = 0
    error: str | None = None
    try:
        fetched = await fetch(rt, src, state)
        if fetched.status is not PollStatus.OK:
            await _record_ok(rt, src, fetched.validators.applied_to(state), now, record)
        else:
            reading = await _read_listing(rt, src, state, fetched, now)
            if record:
                rows = await commit(rt, src, replace(state, listing_note=fetched.note), reading, now)
    except (FetchError, ParseError) as exc:
        # a moved address that fails is given up: the next poll tries the configured one
        rt.moved.pop(src.name, None)
        error = f"{getattr(exc, 'kind', 'error')}: {exc}"
        rt.metrics.fetch_errors.labels(src.name, getattr(exc, "kind", "error")).inc()
        await _record_failure(rt, src, state, exc, now, record)
    except MonitorError as exc:
        error = str(exc)
        await _record_failure(rt, src, state, exc, now, record)
    except Exception as exc:  # the top of one source's poll: a bug or an exhausted resource in any
        # step (an error type of a library, MemoryError) is that source's failure, recorded and
        # told like the others, never the scheduler's or another source's
        error = _internal_error(exc)
        rt.metrics.poll_internal_errors.labels(src.name).inc()
        await _record_failure(rt, src, state, exc, now, record)
    result = _result(src.name, fetched, reading, rows, error)
    rt.metrics.polls.labels(src.name, result.status).inc()
    rt.metrics.poll_seconds.observe(time.monotonic() - started)
    log.info(
        "poll source=%s status=%s listed=%d new=%d alerts=%d ms=%d%s",
        src.name,
        result.status,
        result.listed,
        result.new,
        result.rows,
        (time.monotonic() - started) * 1000,
        f" error={result.error!r}" if result.error else "",
    )
    return result


def _result(
    source: str, fetched: Fetched, reading: Reading | None, rows: int, error: str | None
) -> PollResult:
    """The poll's result from what its steps returned before it ended (or failed)."""
    if error is not None:
        status = PollStatus.ERROR
    elif reading is None:
        status = fetched.status
    else:
        status = PollStatus.PRIMED if reading.priming else PollStatus.OK
    stories = reading.stories if reading else []
    return PollResult(
        source=source,
        status=status,
        listed=len(fetched.candidates),
        new=len(stories),
        alerts=reading.alerts.matched if reading else [],
        rows=rows,
        error=error,
        rejected=fetched.rejected,
        stories=stories,
    )


def _note_move(rt: Runtime, src: SourceSettings, new_url: str) -> None:
    """Poll ``new_url`` instead of the configured URL from now on (every redirect to it was
    permanent), and say so once: the configuration should be updated, as a restart goes back
    to the configured URL (and is moved again, one request later)."""
    if rt.moved.get(src.name) != (src.url, new_url):
        log.warning(
            "source=%s moved permanently: %s -> %s; polling the new address from now on "
            "(update the configuration to keep it after a restart)",
            src.name,
            redact_url(src.url),
            redact_url(new_url),
        )
    rt.moved[src.name] = (src.url, new_url)


async def _load_state(rt: Runtime, src: SourceSettings) -> repo.SourceState:
    """The stored state of ``src`` (a fresh one for a new source), without the validators
    of a URL it no longer has."""
    state = await rt.store.source_state(src.name)
    url_hash = source_url_hash(src.url)
    # which instance polled it, where several share the database (`newsmonitor sources` shows it)
    polled_by = rt.instance_id if rt.store.shared else None
    if state is None:
        return repo.SourceState(name=src.name, kind=src.kind, url_hash=url_hash, polled_by=polled_by)
    state.polled_by = polled_by
    if state.url_hash != url_hash:
        # the URL changed: validators of the old URL do not apply
        state.etag = state.last_modified = state.content_hash = None
        state.url_hash = url_hash
    return state


# ---------------------------------------------------------------------------- the steps


async def fetch(rt: Runtime, src: SourceSettings, state: repo.SourceState) -> Fetched:
    """Conditional GET of ``src`` (at its new address if it moved permanently) with the
    validators in ``state``, and its listing parsed in the worker pool when the body changed.

    ``state`` is not changed: the validators of the body come back in the result, for the
    step that records the listing to store. Raises FetchError or ParseError.
    """
    kind = kind_for(src.kind)(src)
    robots = src.robots
    moved = rt.moved.get(src.name)
    url = moved[1] if moved is not None and moved[0] == src.url else src.url
    response = await rt.http.get(
        url,
        etag=state.etag,
        last_modified=state.last_modified,
        headers=src.headers or None,
        allow_networks=src.allow_networks,
        check_robots=robots and kind.obeys_robots,
    )
    if response.moved_to and response.moved_to != url and not urlsplit(src.url).username:
        _note_move(rt, src, response.moved_to)
    if response.not_modified:
        validators = Validators(response.etag, response.last_modified, state.content_hash)
        return Fetched(PollStatus.NOT_MODIFIED, validators=validators)
    validators = Validators(response.etag, response.last_modified, hashlib.sha256(response.body).hexdigest())
    if validators.content_hash == state.content_hash:
        return Fetched(PollStatus.UNCHANGED, validators=validators)
    listing = await kind.list_stories(
        response.body, url=response.url, content_type=response.content_type, pool=rt.pool
    )
    if listing.warning:
        log.debug("source=%s parser warning: %s", src.name, listing.warning)
    if listing.note and not state.listing_note:
        # said when it starts, not at every poll: `newsmonitor sources` shows it (kept up to date)
        log.warning("source=%s %s", src.name, listing.note)
    return Fetched(PollStatus.OK, listing.candidates, listing.rejected, validators, listing.note)


async def _read_listing(
    rt: Runtime, src: SourceSettings, state: repo.SourceState, fetched: Fetched, now: float
) -> Reading:
    """The new stories of a changed listing and what they make; nothing is written."""
    priming = state.primed_at is None and not src.alert_on_first_poll
    # identity: every candidate's keys (CPU work for big listings), then which are already seen
    recognised = await recognise(rt, src, state, fetched.candidates, now)
    listed = recognised.split
    later = await build_stories(rt, src, drop_repeats(listed.fresh), priming=priming)
    built = listed.merge(later)
    stories = [story for story, _ in built.fresh]
    seen_entries: dict[int, tuple[Candidate | Story, Sequence[str]]] = {**listed.first, **later.first}
    first = await first_listings(rt, src, seen_entries, priming=priming)
    clusters, alerts, bands = await plan(
        rt, src, stories, now, listed=len(fetched.candidates), priming=priming, first=first
    )
    return Reading(
        priming,
        stories,
        built.listed,
        built.new_keys,
        clusters,
        alerts,
        fetched.validators,
        recognised.seen_keys,
        recognised.volatile,
        first,
        bands,
    )


async def build_stories(
    rt: Runtime, src: SourceSettings, fresh: Sequence[tuple[Candidate, Sequence[str]]], *, priming: bool
) -> SeenSplit[Story]:
    """Each fresh candidate as a :class:`Story` (with its article's text unless ``priming``),
    split again by the database: a canonical URL may reveal that a "new" link is a story
    known under another key. Priming skips that second look (and the articles)."""
    stories = list(
        await asyncio.gather(
            *(build_story(rt, src, cand, keys, need_text=not priming) for cand, keys in fresh)
        )
    )
    keyed: list[tuple[Story, Sequence[str]]] = [(story, story.keys) for story in stories]
    if priming or not stories:
        return SeenSplit(keyed)
    canon = await find_seen(rt.store, [k for s in stories for k in s.keys], rt.clock.timestamp())
    return split_seen(keyed, canon)


async def plan(
    rt: Runtime,
    src: SourceSettings,
    stories: list[Story],
    now: float,
    *,
    listed: int,
    priming: bool,
    first: FirstListings | None = None,
) -> tuple[list[Dedup], AlertPlan, list[list[int]] | None]:
    """The clusters of ``stories`` and, unless ``priming``, the outbox rows they and the
    seen stories of ``first`` that some rule runs on make, worked out on the CPU thread;
    each match is counted in ``newsmonitor_matches_total``. Where instances share the
    database the clusters are provisional (each story its own) and each story's band keys
    come third, for :func:`commit` to settle them; else that is None."""
    bands: list[list[int]] | None = None
    if rt.config.settings.cluster.enabled and rt.store.shared:
        clusters, bands = await rt.cpu(sign_stories, stories, not priming)
    else:
        index = rt.cluster_index if rt.config.settings.cluster.enabled else None
        clusters = await rt.cpu(assign_clusters, index, stories, now, not priming)
    if priming:
        return clusters, AlertPlan(), bands
    relisted = [(r.story, r.rules) for r in first.relisted] if first else []
    alerts = await rt.cpu(
        plan_alerts, stories, rt.policy, source=src.name, listed=listed, now=now, relisted=relisted
    )
    for _, matches in alerts.matched:
        for match in matches:
            rt.metrics.matches.labels(match.rule).inc()
    rt.settling.after_matching()
    return clusters, alerts, bands


# ---------------------------------------------------------------------------- recording


async def commit(
    rt: Runtime, src: SourceSettings, state: repo.SourceState, reading: Reading, now: float
) -> int:
    """Record a read listing in one transaction: the new stories as seen (with their
    clusters), the new keys of seen ones, the outbox rows and the source's state (primed,
    next poll, the validators of the body read). Returns the outbox rows written; wakes the
    delivery loop if any. Raises StoreError: nothing is recorded then, and ``state`` is
    left as it was, so a failure recorded after it keeps the old validators."""
    recorded = reading.validators.applied_to(state)
    if recorded.primed_at is None:
        recorded.primed_at = now
    recorded.new_story_times = [*state.new_story_times, *([now] * min(len(reading.stories), 5))][-50:]
    recorded.volatile_params = list(reading.volatile)
    _schedule_next(rt.config, src, recorded, now)
    fault_point("after_fetch_before_commit")
    new = [_new_story(s, info) for s, info in zip(reading.stories, reading.clusters, strict=True)]
    relisted = [r.story for r in reading.first.relisted]
    shared = None
    if reading.bands is not None and reading.stories:
        shared = shared_clusters(
            reading.stories,
            reading.clusters,
            reading.bands,
            reading.alerts.rows,
            now=now,
            window=rt.config.settings.cluster.window,
        )
    await rt.store.record_poll(
        recorded,
        new,
        listed=reading.still_listed,
        extra_keys=reading.new_keys,
        rows=reading.alerts.rows,
        now=now,
        seen_keys=reading.seen_keys,
        max_aliases=MAX_ALIASES,
        first_listed=reading.first.ids,
        relisted=[r.story_id for r in reading.first.relisted],
        matches=_matches(reading.stories, relisted, reading.alerts.matched),
        choose_event=choose_event if any(r.event_candidate for r in reading.alerts.rows) else None,
        clusters=shared,
    )
    rows = reading.alerts.rows
    for row in rows:
        rt.metrics.enqueued.labels(row.target).inc()
    rt.metrics.stories_new.labels(src.name).inc(len(reading.stories))
    if rows:
        rt.outbox_changed.set()
    return len(rows)


def _new_story(story: Story, info: Dedup) -> repo.NewStory:
    cluster, signature, tkey = info
    return repo.NewStory(
        source=story.source,
        title=story.title,
        url=story.url,
        published=_ts(story.published),
        keys=list(story.keys),
        cluster=cluster,
        signature=signature,
        title_key=tkey,
        lang=story.lang,
        text=story.text,
    )


def _matches(
    stories: Sequence[Story], relisted: Sequence[Story], matched: Sequence[tuple[Story, Sequence[Match]]]
) -> list[tuple[int, str]]:
    """Each of ``matched`` (the stories the rules matched, each with its matches) as (story
    index, rule name) for the history: an index into ``stories``, then on into ``relisted``,
    as an outbox row's ``story_index`` counts."""
    index = {id(story): i for i, story in enumerate([*stories, *relisted])}
    return [(index[id(story)], match.rule) for story, matches in matched for match in matches]


async def _record_ok(
    rt: Runtime, src: SourceSettings, state: repo.SourceState, now: float, record: bool
) -> None:
    """Record a poll that found nothing to read (304 or the same body, whose validators
    ``state`` holds): the stories listed last time are still listed."""
    if not record:
        return

    _schedule_next(rt.config, src, state, now)
    await rt.store.record_unchanged(state, now)


#: the kind of a poll failure that is not one of our errors: a bug, or a resource exhausted
INTERNAL_ERROR = "internal_error"


def _internal_error(exc: Exception) -> str:
    """What is recorded about an exception that is not a MonitorError: its type says more
    than its message (``KeyError: 'id'``); the message may quote a URL, so it is redacted."""
    return redact_text(f"{INTERNAL_ERROR}: {type(exc).__name__}: {exc}")


async def _record_failure(
    rt: Runtime, src: SourceSettings, state: repo.SourceState, exc: Exception, now: float, record: bool
) -> None:
    """Log a failed poll once and record it: the failure counted, the next poll backed off.

    An exception that is not a MonitorError is logged as an error with its traceback (it is
    a bug or an exhausted resource) and recorded as an ``internal_error``."""
    if isinstance(exc, MonitorError):
        kind = getattr(exc, "kind", None)
        text = f"{kind or 'error'}: {exc}"
        log.warning("source=%s poll failed (%s): %s", src.name, kind or type(exc).__name__, exc)
    else:
        kind, text = INTERNAL_ERROR, _internal_error(exc)
        log.error("source=%s poll failed (%s)", src.name, text, exc_info=exc)
    if not record:
        return
    state.record_failure(
        now,
        text,
        http_status=exc.status if isinstance(exc, HTTPStatusError) else None,
        kind=kind,
    )
    _schedule_next(rt.config, src, state, now, error=exc)
    await rt.store.save_source(state)


def _schedule_next(
    config: Config, src: SourceSettings, state: repo.SourceState, now: float, *, error: Exception | None = None
) -> None:
    """Set ``state.next_poll_at``: backed off after ``error``, else adaptive when the source
    (or the defaults) sets a minimum interval and no fixed one, else the interval."""
    interval = config.source_interval(src)
    if error is not None:
        delay = max(interval, retry_delay_for(error, state.failures, interval))
    elif src.min_interval:
        minimum = src.min_interval
        maximum = src.max_interval or max(interval, minimum) * 4
        delay = adaptive_interval(state.new_story_times, minimum=minimum, maximum=maximum, now=now)
    else:
        delay = interval
    state.next_poll_at = now + delay
