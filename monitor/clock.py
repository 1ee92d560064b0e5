"""Injectable time source.

Nothing in newsmonitor calls ``time.time()`` or ``datetime.now()`` directly: it asks a
:class:`Clock`. Tests pass a :class:`FakeClock` and move time by hand, so digests, quiet
hours, backoff and retention are tested without real waiting.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time (UTC) and a monotonic counter for durations."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)

    def timestamp(self) -> float:
        """Seconds since the epoch (UTC)."""
        return self.now().timestamp()

    def monotonic(self) -> float:
        """A monotonic counter in seconds, for measuring durations."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock may return at once)."""
        await asyncio.sleep(max(0.0, seconds))


class FakeClock(Clock):
    """A clock that only moves when told to (``advance``/``set``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    def set(self, when: datetime) -> None:
        delta = (when - self._now).total_seconds()
        self._now = when
        self._mono += max(0.0, delta)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


SYSTEM_CLOCK = Clock()
