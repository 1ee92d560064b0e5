"""The status view of a running daemon: configured sources joined with their stored state.

Shared by the status page (through :class:`monitor.web.view.StatusProvider`) and
``newsmonitor sources``, so both say the same thing about a source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import generate_latest

from monitor.config import SourceSettings
from monitor.daemon.runtime import Runtime
from monitor.redact import redact_text
from monitor.store import repo
from monitor.store.facade import Overview
from monitor.web.view import SourceHealth, SourceStatus, StatusView


def source_status(src: SourceSettings, state: repo.SourceState | None) -> SourceStatus:
    """One source's status row from its settings and stored state (``None``: never polled)."""
    if state is None:
        health = SourceHealth.NEVER_POLLED if src.enabled else SourceHealth.DISABLED
        return SourceStatus(name=src.name, kind=src.kind, enabled=src.enabled, health=health)
    return SourceStatus(
        name=src.name,
        kind=src.kind,
        enabled=src.enabled,
        health=SourceHealth.FAILING if state.failing_since else SourceHealth.OK,
        failing_since=state.failing_since,
        last_poll_at=state.last_poll_at,
        next_poll_at=state.next_poll_at,
        last_error=redact_text(state.last_error or ""),
        polls=state.polls,
        stories=state.stories_total,
    )


def source_statuses(
    sources: Iterable[SourceSettings], states: Mapping[str, repo.SourceState]
) -> list[SourceStatus]:
    """Every configured source's status row, in configuration order."""
    return [source_status(src, states.get(src.name)) for src in sources]


def status_view(rt: Runtime, overview: Overview) -> StatusView:
    """The status of the daemon running ``rt``, given what its store holds (``overview``)."""
    return StatusView(
        sources=source_statuses(rt.sources.values(), overview.sources),
        outbox={status.value: n for status, n in overview.outbox.items()},
        dead_by_target=dict(overview.dead_by_target),
        rules=[r.name for r in rt.rules],
        targets=sorted(rt.targets),
        config_path=rt.config.path,
        config_loaded_at=rt.config_loaded_at,
        reload_failed_at=rt.reload_failed_at,
    )


class RuntimeStatus:
    """The :class:`~monitor.web.view.StatusProvider` of a running daemon."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    async def status_view(self) -> StatusView:
        """The daemon's status, from one read of its store."""
        return status_view(self._rt, await self._rt.store.overview())

    def metrics_text(self) -> bytes:
        """The daemon's Prometheus metrics."""
        return generate_latest(self._rt.metrics.registry)
