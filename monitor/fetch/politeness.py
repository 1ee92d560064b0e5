"""Politeness toward news sites: per-host in-flight limit and minimum spacing of request starts.

Shared by every caller of the one HTTP client, so the article fetches of fifty sources
linking to one site still respect that site. Time comes from the injected clock, so tests
move it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from monitor.clock import SYSTEM_CLOCK, Clock

#: a robots.txt Crawl-delay longer than this is not honoured in full
MAX_CRAWL_DELAY = 60.0
_MAX_HOSTS = 10_000


@dataclass
class _HostGate:
    """In-flight count and start spacing for one host, shared by all callers."""

    active: int = 0
    next_start: float = -math.inf
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    in_flight: int | None = None  # overrides from set_host_policy
    min_delay: float | None = None

    def wake_one(self) -> None:
        while self.waiters:
            fut = self.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                return


class HostGates:
    """Per-host gates: ``slot(host)`` waits for a free in-flight place, then for the spacing."""

    def __init__(self, *, per_host: int = 2, min_delay: float = 0.0, clock: Clock = SYSTEM_CLOCK) -> None:
        self._per_host = max(1, per_host)
        self._host_delay = max(0.0, min_delay)
        self._clock = clock
        self._gates: dict[str, _HostGate] = {}

    def set_policy(self, host: str, *, in_flight: int | None = None, min_delay: float | None = None) -> None:
        """Override the in-flight limit and/or the minimum delay between request starts for ``host``."""
        gate = self._gate(host.rstrip(".").lower())
        if in_flight is not None:
            gate.in_flight = max(1, in_flight)
            gate.wake_one()
        if min_delay is not None:
            gate.min_delay = max(0.0, min_delay)

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            if len(self._gates) > _MAX_HOSTS:
                idle = [
                    h
                    for h, g in self._gates.items()
                    if not g.active
                    and g.in_flight is None
                    and g.min_delay is None
                    and g.next_start < self._clock.monotonic()
                ]
                for h in idle:
                    del self._gates[h]
            gate = self._gates[host] = _HostGate()
        return gate

    @contextlib.asynccontextmanager
    async def slot(self, host: str, crawl_delay: float | None = None) -> AsyncIterator[None]:
        """Hold one of ``host``'s in-flight places, started no sooner than its spacing allows.

        ``crawl_delay`` (from robots.txt) raises the spacing, up to MAX_CRAWL_DELAY.
        """
        gate = self._gate(host)
        while gate.active >= (gate.in_flight or self._per_host):
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            gate.waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    gate.wake_one()  # pass on the wake-up we were given
                raise
        gate.active += 1
        try:
            delay = gate.min_delay if gate.min_delay is not None else self._host_delay
            if crawl_delay:
                delay = max(delay, min(crawl_delay, MAX_CRAWL_DELAY))
            if delay > 0:
                now = self._clock.monotonic()
                start = max(now, gate.next_start)
                gate.next_start = start + delay
                if start > now:
                    await self._clock.sleep(start - now)
            yield
        finally:
            gate.active -= 1
            gate.wake_one()
