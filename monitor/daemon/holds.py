"""Why the delivery loop holds a destination back, in memory: local faults and outcomes not yet written.

A local fault is one of this machine, not of the notification service: the disk is full,
another process holds the database's write lock past the busy timeout, no file descriptor
is left. It never makes a message dead and never makes a send go out again:

* an outcome the store could not write (a send that went out, a refusal, a dead end) is
  kept here, in order, and written again later; until every kept outcome of a destination
  is written, the destination sends nothing (its rows stay ``sending``, which no claim takes);
* a destination whose round hit a local fault pauses, 1 s, 2 s, 4 s ... up to a minute;
* a destination the store says is backing off is not looked at again before its backoff ends.

Only a crash loses what is kept here; its rows are then ``sending`` with a lease, and the
next start sends each once more with its key (the one documented duplicate window).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from monitor.daemon.backoff import backoff_delay

#: the first and the longest pause after a local fault (seconds)
FAULT_PAUSE = 1.0
FAULT_PAUSE_CAP = 60.0


class LocalFault(Exception):
    """A step of delivery failed on this machine (``stage``: read, render, claim, record ...);
    the send it belongs to did not go out, or its outcome is kept. Raised with the cause chained."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause


@dataclass(frozen=True, slots=True)
class Unwritten:
    """An outcome the store could not write yet: ``what`` it is (sent, failed, dead, released),
    its rows, and the write to try again (one store operation, one transaction)."""

    what: str
    ids: tuple[int, ...]
    write: Callable[[], Awaitable[object]]


@dataclass(slots=True)
class _Hold:
    faults: int = 0
    until: float = 0.0
    unwritten: list[Unwritten] = field(default_factory=list)


class Holds:
    """The destinations held back and why, by destination id (see the module's docstring)."""

    def __init__(self) -> None:
        self._holds: dict[str, _Hold] = {}

    def _get(self, dest: str) -> _Hold:
        return self._holds.setdefault(dest, _Hold())

    def fault(self, dest: str, now: float) -> float:
        """One more local fault of ``dest`` at ``now``: it pauses; returns for how long (seconds)."""
        hold = self._get(dest)
        hold.faults += 1
        delay = backoff_delay(hold.faults, base=FAULT_PAUSE, cap=FAULT_PAUSE_CAP, jitter=0.0)
        hold.until = max(hold.until, now + delay)
        return delay

    def pause(self, dest: str, until: float) -> None:
        """Look at ``dest`` again no earlier than ``until`` (its stored backoff)."""
        hold = self._get(dest)
        hold.until = max(hold.until, until)

    def paused_until(self, dest: str, now: float) -> float | None:
        """When ``dest``'s pause ends if it is paused at ``now``, else None."""
        hold = self._holds.get(dest)
        return hold.until if hold is not None and hold.until > now else None

    def clear_faults(self, dest: str) -> None:
        """A round of ``dest`` went through without a local fault: the next one pauses 1 s again."""
        hold = self._holds.get(dest)
        if hold is not None:
            hold.faults = 0
            if not hold.unwritten:
                del self._holds[dest]

    def keep(self, dest: str, outcome: Unwritten) -> None:
        """Keep ``outcome`` of ``dest`` to write later, after the ones kept before it."""
        self._get(dest).unwritten.append(outcome)

    def has_unwritten(self, dest: str) -> bool:
        """Whether ``dest`` has outcomes still to write (then it must send nothing)."""
        hold = self._holds.get(dest)
        return hold is not None and bool(hold.unwritten)

    def unwritten_destinations(self) -> list[str]:
        """The destinations with outcomes still to write."""
        return [dest for dest, hold in self._holds.items() if hold.unwritten]

    def unwritten(self) -> list[Unwritten]:
        """Every outcome still to write, of every destination."""
        return [u for hold in self._holds.values() for u in hold.unwritten]

    async def flush(self, dest: str) -> None:
        """Write ``dest``'s kept outcomes in order, forgetting each once written.

        Raises what the first write that still fails raises; it and the ones after it stay kept.
        """
        hold = self._holds.get(dest)
        while hold is not None and hold.unwritten:
            await hold.unwritten[0].write()
            hold.unwritten.pop(0)

    def next_end(self, now: float) -> float | None:
        """The earliest end of a pause after ``now``, or None."""
        ends = [h.until for h in self._holds.values() if h.until > now]
        return min(ends, default=None)
