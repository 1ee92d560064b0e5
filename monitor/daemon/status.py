"""The status view of a running daemon: configured sources joined with their stored state.

Shared by the status page (through :class:`monitor.web.view.StatusProvider`) and
``newsmonitor sources``, so both say the same thing about a source.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from http import HTTPStatus

from prometheus_client import generate_latest

from monitor.config import HealthSettings, SourceSettings
from monitor.daemon.runtime import Runtime
from monitor.errors import BlockedURL
from monitor.redact import redact_text
from monitor.store import repo
from monitor.store.cluster import Member
from monitor.store.facade import Overview
from monitor.web.view import InstanceStatus, SourceHealth, SourceStatus, StatusView


def source_health(
    src: SourceSettings, state: repo.SourceSummary | None, health: HealthSettings, now: float
) -> SourceHealth:
    """The state of source ``src`` at ``now``, from its stored ``state`` (None: never polled).

    The one decision the status page, ``newsmonitor sources``, the metrics and the health
    notices all show. In this order: ``disabled`` when the configuration turns it off;
    ``never polled`` without a stored poll; after a failed last poll, ``gone`` (HTTP 410),
    ``blocked`` (the address guard refused it) or ``failing``; after a successful one,
    ``empty`` when ``health.empty_after`` polls in a row listed no story, ``stale`` when no
    new story came for longer than its ``stale_after`` (counted from its first poll when it
    never listed one), else ``ok``.
    """
    if not src.enabled:
        return SourceHealth.DISABLED
    if state is None:
        return SourceHealth.NEVER_POLLED
    if state.failures:
        return _failure(state)
    if state.empty_polls >= health.empty_after:
        return SourceHealth.EMPTY
    stale_after = health.stale_after_for(src)
    since = state.last_new_story_at or state.primed_at
    if stale_after is not None and since is not None and now - since > stale_after:
        return SourceHealth.STALE
    return SourceHealth.OK


def _failure(state: repo.SourceSummary) -> SourceHealth:
    # both are about the address, not the moment: waiting will not help, so they have words of their own
    if state.last_http_status == HTTPStatus.GONE:
        return SourceHealth.GONE
    if state.last_error_kind == BlockedURL.kind:
        return SourceHealth.BLOCKED
    return SourceHealth.FAILING


def source_status(
    src: SourceSettings,
    state: repo.SourceSummary | None,
    health: HealthSettings,
    now: float,
    redacted: dict[str, str] | None = None,
) -> SourceStatus:
    """One source's status row at ``now`` from its settings and stored state (``None``: never
    polled); its state is :func:`source_health`'s. ``redacted`` remembers the errors already
    redacted, for a caller that builds many rows at once (many sources fail the same way)."""
    decided = source_health(src, state, health, now)
    if state is None:
        return SourceStatus(name=src.name, kind=src.kind, enabled=src.enabled, health=decided)
    error = state.last_error or ""
    if error and redacted is not None:
        masked = redacted.get(error)
        if masked is None:
            masked = redacted[error] = redact_text(error)
        error = masked
    elif error:
        error = redact_text(error)
    return SourceStatus(
        name=src.name,
        kind=src.kind,
        enabled=src.enabled,
        health=decided,
        failing_since=state.failing_since,
        last_poll_at=state.last_poll_at,
        next_poll_at=state.next_poll_at,
        last_error=error,
        polls=state.polls,
        stories=state.stories_total,
        empty_polls=state.empty_polls,
        last_new_story_at=state.last_new_story_at or state.primed_at,
        note=state.listing_note or "",
        polled_by=state.polled_by or "",
    )


def source_statuses(
    sources: Iterable[SourceSettings], states: Mapping[str, repo.SourceSummary], health: HealthSettings, now: float
) -> list[SourceStatus]:
    """Every configured source's status row at ``now``, in configuration order."""
    # one build sees each error text once: the secrets registered cannot change within it
    redacted: dict[str, str] = {}
    return [source_status(src, states.get(src.name), health, now, redacted) for src in sources]


def instance_statuses(members: Iterable[Member], *, now: float, heartbeat: float, this: str) -> list[InstanceStatus]:
    """The live instances among ``members`` at ``now``: those that beat within three
    ``heartbeat`` intervals (as ``newsmonitor instances`` counts them); ``this``: the id of
    the instance asking."""
    return [
        InstanceStatus(
            id=m.id,
            host=m.host,
            pid=m.pid,
            heartbeat_age=max(0.0, now - m.heartbeat_at),
            leases=m.leases,
            lag=m.lag,
            config_hash=m.config_hash,
            this=m.id == this,
        )
        for m in members
        if m.heartbeat_at >= now - 3 * heartbeat
    ]


def status_view(rt: Runtime, overview: Overview) -> StatusView:
    """The status of the daemon running ``rt``, given what its store holds (``overview``)."""
    now = rt.clock.timestamp()
    return StatusView(
        sources=source_statuses(rt.sources.values(), overview.sources, rt.config.settings.health, now),
        outbox={status.value: n for status, n in overview.outbox.items()},
        dead_by_target=dict(overview.dead_by_target),
        rules=[r.name for r in rt.rules],
        targets=sorted(rt.targets),
        config_path=rt.config.path,
        config_loaded_at=rt.config_loaded_at,
        reload_failed_at=rt.reload_failed_at,
        instances=instance_statuses(
            overview.instances, now=now, heartbeat=rt.config.settings.instances.heartbeat, this=rt.instance_id
        ),
    )


#: how long (seconds, on the runtime's clock) one read of the store serves the status views:
#: with 10 000 sources a read and its states cost tens of milliseconds, and a refreshing page,
#: an API client walking the pages and a second browser tab all ask within moments
STATUS_CACHE_SECONDS = 2.0


class RuntimeStatus:
    """The :class:`~monitor.web.view.StatusProvider` of a running daemon.

    A view is reused for ``cache_for`` seconds of the runtime's clock (0: never), and until the
    configuration is reloaded; concurrent requests wait for one read rather than each making
    their own. A fake clock that is not moved keeps the view: tests that poll between two
    reads advance it, or pass ``cache_for=0``.
    """

    def __init__(self, rt: Runtime, *, cache_for: float = STATUS_CACHE_SECONDS) -> None:
        self._rt = rt
        self._cache_for = cache_for
        self._cached: tuple[float, object, StatusView] | None = None
        self._reading = asyncio.Lock()

    async def status_view(self) -> StatusView:
        """The daemon's status, from one read of its store at most ``cache_for`` seconds old."""
        rt = self._rt
        async with self._reading:
            cached = self._cached
            age = rt.clock.monotonic() - cached[0] if cached is not None else None
            if cached is not None and cached[1] is rt.config and age is not None and 0 <= age < self._cache_for:
                return cached[2]
            view = status_view(rt, await rt.store.overview())
            self._cached = (rt.clock.monotonic(), rt.config, view)
            return view

    def metrics_text(self) -> bytes:
        """The daemon's Prometheus metrics."""
        return generate_latest(self._rt.metrics.registry)
