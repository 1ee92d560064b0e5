"""Politeness toward news sites: per-host in-flight limit and minimum spacing of request starts.

Shared by every caller of the one HTTP client, so the article fetches of fifty sources
linking to one site still respect that site. Time comes from the injected clock, so tests
move it instead of sleeping.

Several instances sharing a database hold the same limits together through a
:class:`SharedHosts` given to :class:`HostGates` (the daemon gives the store's; this layer
never imports the store): after this process's own gate, each request also takes one of
the host's places for the whole cluster and waits for the host's cluster-wide spacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from monitor.clock import SYSTEM_CLOCK, Clock
from monitor.models import HostTurn

log = logging.getLogger(__name__)

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


#: how long a request waits before asking again for a place of a host whose places are all
#: taken by other instances, at first and at most (seconds)
_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 1.0
#: at most one warning per this many seconds that the shared politeness cannot be reached
_WARN_EVERY = 60.0


class SharedHosts(Protocol):
    """Politeness held together with other processes (instances sharing a database)."""

    async def claim(self, host: str, *, slots: int, delay: float, now: float) -> HostTurn | None:
        """One of the first ``slots`` in-flight places of ``host`` and, with a ``delay``, the
        start reserved after the previous request of any process; None when every place is
        taken. Raises whatever its database raises."""
        ...

    async def release(self, host: str, turn: HostTurn, *, now: float) -> None:
        """Give back the place of ``turn`` (its request ended at ``now``)."""
        ...


class HostGates:
    """Per-host gates: ``slot(host)`` waits for a free in-flight place, then for the spacing.

    With ``shared``, the place and the spacing hold for every process sharing it too; when
    it cannot be reached (its database is away), requests go on under this process's own
    gates and a warning says so.
    """

    def __init__(
        self,
        *,
        per_host: int = 2,
        min_delay: float = 0.0,
        clock: Clock = SYSTEM_CLOCK,
        shared: SharedHosts | None = None,
    ) -> None:
        self._per_host = max(1, per_host)
        self._host_delay = max(0.0, min_delay)
        self._clock = clock
        self._gates: dict[str, _HostGate] = {}
        self._shared = shared
        self._warned_at = -math.inf

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
        limit = gate.in_flight or self._per_host
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
        turn: HostTurn | None = None
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
            if self._shared is not None:
                turn = await self._take_turn(self._shared, host, gate.in_flight or limit, delay)
            yield
        finally:
            try:
                if turn is not None and self._shared is not None:
                    await self._give_back(self._shared, host, turn)
            finally:
                gate.active -= 1
                gate.wake_one()

    async def _take_turn(self, shared: SharedHosts, host: str, limit: int, delay: float) -> HostTurn | None:
        """Wait for a cluster-wide place of ``host`` and its start; None when the shared
        politeness cannot be reached (this process's own gates hold alone meanwhile)."""
        pause = _FIRST_PAUSE
        while True:
            try:
                turn = await shared.claim(host, slots=limit, delay=delay, now=self._clock.timestamp())
            except Exception as exc:  # its database is away: fetch under this process's politeness than not at all
                self._warn(f"cannot take a place for {host} among the instances ({type(exc).__name__})")
                return None
            if turn is not None:
                break
            await self._clock.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE)
        wait = turn.start - self._clock.timestamp()
        if wait > 0:
            try:
                await self._clock.sleep(wait)
            except asyncio.CancelledError:
                await self._give_back(shared, host, turn)
                raise
        return turn

    async def _give_back(self, shared: SharedHosts, host: str, turn: HostTurn) -> None:
        try:
            await shared.release(host, turn, now=self._clock.timestamp())
        except Exception as exc:  # its database is away: the place frees itself when its lease ends
            self._warn(f"cannot give back a place of {host} among the instances ({type(exc).__name__})")

    def _warn(self, message: str) -> None:
        now = self._clock.monotonic()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            log.warning("politeness: %s; this instance's own limits hold meanwhile", message)
