"""What the web pages read, and the one protocol through which they read it.

The web package never reaches into the daemon: whatever serves the pages (the daemon's
runtime, a test, a future read-only viewer) implements :class:`StatusProvider`, and the
pages render the plain :class:`StatusView` values it returns. ``newsmonitor sources``
prints the same :class:`SourceStatus` rows, so the terminal and the page never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol


class SourceHealth(StrEnum):
    """A source's state as a user sees it (the words are shown as they are)."""

    OK = "ok"
    FAILING = "failing"
    NEVER_POLLED = "never polled"
    DISABLED = "disabled"


def when(ts: float | None) -> str:
    """A timestamp as UTC text for people, ``-`` when there is none."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "-"


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One configured source with what the store knows of it. ``last_error`` is redacted."""

    name: str
    kind: str
    enabled: bool
    health: SourceHealth
    failing_since: float | None = None
    last_poll_at: float | None = None
    next_poll_at: float | None = None
    last_error: str = ""
    polls: int = 0
    stories: int = 0

    def to_json(self) -> dict[str, Any]:
        """The row of ``/api/status`` (times as UTC text)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "enabled": self.enabled,
            "status": self.health.value,
            "failing_since": when(self.failing_since),
            "last_poll": when(self.last_poll_at),
            "next_poll": when(self.next_poll_at),
            "last_error": self.last_error,
            "stories": self.stories,
        }


@dataclass(frozen=True, slots=True)
class StatusView:
    """The daemon's state as plain values: sources, outbox counts, rules, notifier names."""

    sources: list[SourceStatus]
    outbox: dict[str, int]
    dead_by_target: dict[str, int]
    rules: list[str]
    targets: list[str]
    config_path: str
    config_loaded_at: float
    reload_failed_at: float | None

    def to_json(self) -> dict[str, Any]:
        """The body of ``/api/status``."""
        return {
            "sources": [s.to_json() for s in self.sources],
            "outbox": self.outbox,
            "dead_by_target": self.dead_by_target,
            "rules": self.rules,
            "targets": self.targets,
            "config": {
                "path": self.config_path,
                "loaded": when(self.config_loaded_at),
                # the problems themselves are in the log: a message may quote a value
                "last_reload": "failed at " + when(self.reload_failed_at) + " (see the log)"
                if self.reload_failed_at
                else "ok",
            },
        }


class StatusProvider(Protocol):
    """What the web server needs from whoever runs it."""

    async def status_view(self) -> StatusView:
        """The current state; may read the store (off the event loop)."""
        ...

    def metrics_text(self) -> bytes:
        """The Prometheus exposition of the process's metrics."""
        ...
