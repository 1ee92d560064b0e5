"""One poll of one source, from fetch to the transaction that records it.

fetch (conditional GET) → parse in the worker pool → identity → drop seen → prime on the
first poll → full text for new stories → match every rule → one transaction: stories seen,
outbox rows, source state. A crash before the commit loses nothing (the next poll sees the
same stories as new); after it, nothing is redone.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from monitor.config import SourceSettings
from monitor.daemon.alerts import Dedup, assign_clusters, plan_alerts
from monitor.daemon.articles import build_story
from monitor.daemon.backoff import adaptive_interval, retry_delay_for
from monitor.daemon.faults import fault_point
from monitor.daemon.runtime import Runtime
from monitor.errors import FetchError, MonitorError, ParseError
from monitor.extract.urls import is_http_url, normalize_url, unwrap_redirect
from monitor.identity.keys import source_url_hash, story_keys
from monitor.models import Match, Story
from monitor.redact import redact_url
from monitor.sources import Candidate, kind_for
from monitor.store import repo

log = logging.getLogger("monitor.poll")


@dataclass(slots=True)
class PollResult:
    """What one poll did, for logs, tests and ``once --dry-run``."""

    source: str
    status: str = "ok"  # ok | not_modified | unchanged | primed | error
    listed: int = 0
    new: int = 0
    alerts: list[tuple[Story, list[Match]]] = field(default_factory=list)
    rows: int = 0
    error: str | None = None
    rejected: list[tuple[str, str]] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)


def _ts(dt: datetime | None) -> float | None:
    return dt.timestamp() if dt else None


async def poll_source(rt: Runtime, src: SourceSettings, *, record: bool = True) -> PollResult:
    """Poll ``src`` once. Never raises for source problems: they are logged once and stored."""
    started = time.monotonic()
    now = rt.clock.timestamp()
    result = PollResult(source=src.name)
    state = await rt.db(_load_state, rt, src)
    try:
        await _poll(rt, src, state, now, result, record)
    except (FetchError, ParseError) as exc:
        # a moved address that fails is given up: the next poll tries the configured one
        rt.moved.pop(src.name, None)
        result.status, result.error = "error", f"{getattr(exc, 'kind', 'error')}: {exc}"
        rt.metrics.fetch_errors.labels(src.name, getattr(exc, "kind", "error")).inc()
        await _record_failure(rt, src, state, exc, now, record)
    except MonitorError as exc:
        result.status, result.error = "error", str(exc)
        await _record_failure(rt, src, state, exc, now, record)
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


def _load_state(rt: Runtime, src: SourceSettings) -> repo.SourceState:
    with rt.database.read() as conn:
        state = repo.get_source(conn, src.name)
    url_hash = source_url_hash(src.url)
    if state is None:
        return repo.SourceState(name=src.name, kind=src.kind, url_hash=url_hash)
    if state.url_hash != url_hash:
        # the URL changed: validators of the old URL do not apply
        state.etag = state.last_modified = state.content_hash = None
        state.url_hash = url_hash
    return state


async def _poll(
    rt: Runtime, src: SourceSettings, state: repo.SourceState, now: float, result: PollResult, record: bool
) -> None:
    kind = kind_for(src.kind)(src)
    robots = src.robots if src.robots is not None else rt.config.settings.defaults.robots
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
    state.etag, state.last_modified = response.etag, response.last_modified
    if response.moved_to and response.moved_to != url and not urlsplit(src.url).username:
        _note_move(rt, src, response.moved_to)
    if response.not_modified:
        result.status = "not_modified"
        await _record_ok(rt, state, now, record, src=src)
        return
    body_hash = hashlib.sha256(response.body).hexdigest()
    if body_hash == state.content_hash:
        result.status = "unchanged"
        await _record_ok(rt, state, now, record, src=src)
        return
    listing = await kind.list_stories(
        response.body, url=response.url, content_type=response.content_type, pool=rt.pool
    )
    state.content_hash = body_hash
    result.listed = len(listing.candidates)
    result.rejected = listing.rejected
    if listing.warning:
        log.debug("source=%s parser warning: %s", src.name, listing.warning)

    # identity: every candidate's keys (CPU work for big listings), then which are already seen
    keyed = await rt.cpu(key_candidates, src.name, listing.candidates)
    seen = await rt.db(_find_seen, rt, [k for _, keys in keyed for k in keys])
    fresh: list[tuple[Candidate, list[str]]] = []
    listed_ids: set[int] = set()
    extra_keys: dict[int, list[str]] = {}
    taken: set[str] = set()
    for cand, keys in keyed:
        ids = {seen[k] for k in keys if k in seen}
        if ids:
            sid = min(ids)
            listed_ids.add(sid)
            missing = [k for k in keys if k not in seen]
            if missing:
                extra_keys.setdefault(sid, []).extend(missing)
            continue
        if taken.intersection(keys):
            continue  # the same story listed twice on one page
        taken.update(keys)
        fresh.append((cand, keys))

    priming = state.primed_at is None and not src.alert_on_first_poll
    stories = list(
        await asyncio.gather(
            *(build_story(rt, src, cand, keys, need_text=not priming) for cand, keys in fresh)
        )
    )
    if not priming and stories:
        # a canonical URL may reveal that a "new" link is a story we know under another key
        canon = await rt.db(_find_seen, rt, [k for s in stories for k in s.keys])
        kept = []
        for story in stories:
            ids = {canon[k] for k in story.keys if k in canon}
            if ids:
                sid = min(ids)
                listed_ids.add(sid)
                extra_keys.setdefault(sid, []).extend(k for k in story.keys if k not in canon)
            else:
                kept.append(story)
        stories = kept
    result.new = len(stories)
    result.stories = stories
    index = rt.cluster_index if rt.config.settings.cluster.enabled else None
    dedup = await rt.cpu(assign_clusters, index, stories, now, not priming)
    rows: list[repo.OutboxRow] = []
    if not priming:
        plan = await rt.cpu(
            plan_alerts, stories, rt.policy, source=src.name, listed=len(listing.candidates), now=now
        )
        for _, matches in plan.matched:
            for match in matches:
                rt.metrics.matches.labels(match.rule).inc()
        result.alerts.extend(plan.matched)
        rows = plan.rows
    result.status = "primed" if priming else "ok"
    if state.primed_at is None:
        state.primed_at = now
    if not record:
        return
    state.new_story_times = [*state.new_story_times, *([now] * min(len(stories), 5))][-50:]
    _schedule_next(rt, src, state, now, ok=True)
    fault_point("after_fetch_before_commit")
    await rt.db(_commit_poll, rt, state, src, stories, dedup, rows, listed_ids, extra_keys, now)
    for row in rows:
        rt.metrics.enqueued.labels(row.target).inc()
    rt.metrics.stories_new.labels(src.name).inc(len(stories))
    result.rows = len(rows)
    if rows:
        rt.outbox_changed.set()


def key_candidates(source: str, candidates: list[Candidate]) -> list[tuple[Candidate, list[str]]]:
    """Each candidate with its identity keys; links are unwrapped, normalised, or dropped if not http(s)."""
    for cand in candidates:
        if cand.link:
            link = unwrap_redirect(cand.link)
            cand.link = (normalize_url(link) or link) if is_http_url(link) else None
    # a broken feed that gives different stories one GUID must not make them one story
    guid_links: dict[str, set[str | None]] = {}
    for cand in candidates:
        if cand.guid:
            guid_links.setdefault(cand.guid, set()).add(cand.link)
    keyed = []
    for cand in candidates:
        guid = cand.guid if cand.guid and len(guid_links[cand.guid]) == 1 else None
        keyed.append((cand, story_keys(source, cand.link, guid, cand.title)))
    return keyed


def _find_seen(rt: Runtime, keys: list[str]) -> dict[str, int]:
    with rt.database.read() as conn:
        return repo.find_seen(conn, keys)


# ---------------------------------------------------------------------------- recording


def _commit_poll(
    rt: Runtime,
    state: repo.SourceState,
    src: SourceSettings,
    stories: list[Story],
    dedup: list[Dedup],
    rows: list[repo.OutboxRow],
    listed_ids: set[int],
    extra_keys: dict[int, list[str]],
    now: float,
) -> None:
    with rt.database.write() as conn:
        ids = repo.add_stories(
            conn, [_new_story(s, info) for s, info in zip(stories, dedup, strict=True)], now
        )
        repo.touch_listed(conn, listed_ids, now)
        # remembered so that a 304 or an unchanged body keeps them "listed" (pruning never re-alerts)
        state.listed_ids = sorted(listed_ids.union(ids))
        for sid, keys in extra_keys.items():
            repo.add_keys(conn, sid, keys)
        repo.add_outbox(conn, rows, ids, now)
        state.last_poll_at = state.last_ok_at = now
        state.failures, state.failing_since, state.last_error = 0, None, None
        state.polls += 1
        state.stories_total += len(stories)
        repo.save_source(conn, state)


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
    )


async def _record_ok(
    rt: Runtime, state: repo.SourceState, now: float, record: bool, *, src: SourceSettings
) -> None:
    if not record:
        return

    _schedule_next(rt, src, state, now, ok=True)

    def save() -> None:
        with rt.database.write() as conn:
            state.last_poll_at = state.last_ok_at = now
            state.failures, state.failing_since, state.last_error = 0, None, None
            state.polls += 1
            repo.touch_listed(conn, state.listed_ids, now)
            repo.save_source(conn, state)

    await rt.db(save)


async def _record_failure(
    rt: Runtime, src: SourceSettings, state: repo.SourceState, exc: Exception, now: float, record: bool
) -> None:
    log.warning("source=%s poll failed (%s): %s", src.name, getattr(exc, "kind", type(exc).__name__), exc)
    if not record:
        return
    state.failures += 1
    state.failing_since = state.failing_since or now
    state.last_error = f"{getattr(exc, 'kind', 'error')}: {exc}"[:500]
    state.last_poll_at = now
    state.polls += 1
    _schedule_next(rt, src, state, now, ok=False, error=exc)

    def save() -> None:
        with rt.database.write() as conn:
            repo.save_source(conn, state)

    await rt.db(save)


def _schedule_next(
    rt: Runtime,
    src: SourceSettings,
    state: repo.SourceState,
    now: float,
    *,
    ok: bool,
    error: Exception | None = None,
) -> None:
    interval = rt.config.source_interval(src)
    if not ok and error is not None:
        delay = max(interval, retry_delay_for(error, state.failures, interval))
    elif src.interval is None and (src.min_interval or rt.config.settings.defaults.min_interval):
        minimum = src.min_interval or rt.config.settings.defaults.min_interval or interval
        maximum = src.max_interval or rt.config.settings.defaults.max_interval or max(interval, minimum) * 4
        delay = adaptive_interval(state.new_story_times, minimum=minimum, maximum=maximum, now=now)
    else:
        delay = interval
    state.next_poll_at = now + delay
