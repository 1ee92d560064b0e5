"""Fault trials (issue 12): the real daemon as a subprocess under a local fault; copies per key.

Each trial publishes ``stories`` matching stories on a local feed and counts what a local
webhook receiver gets, per idempotency key. The faults:

* ``disk-full``: the database lives on a tmpfs of its own in a private mount namespace
  (``unshare``; root, or user namespaces): the receiver is down while the alerts queue, then
  the disk fills up (a real ENOSPC) and the receiver recovers; after ``hold`` seconds the
  space is freed.
* ``lock-held``: when the first message arrives, another process (this one) takes the
  database's write lock (``BEGIN IMMEDIATE``) and holds it ``hold`` seconds, past the
  daemon's 30 s busy timeout.
* ``slow-receiver``: the receiver answers every message after ``hold`` seconds: past
  apprise's 4 s read timeout, within ``delivery.timeout`` (its default, 30 s).

Target: no key lost, at most one extra copy per affected message, none when the receiver
answered in time. Used by ``benchmarks/crash.py --fault`` (full length) and
``tests/integration/test_fault_trials.py`` (short).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.crash import Rig, make_rig

FAULTS = ("disk-full", "lock-held", "slow-receiver")
#: the tmpfs the database lives on in a disk-full trial: room for the database and its WAL
TMPFS_SIZE = "32m"


@dataclass
class FaultResult:
    """What the receiver got in one fault trial (``skipped``: why the trial could not run)."""

    fault: str
    published: int
    copies: Counter[str] = field(default_factory=Counter)
    #: messages received while the fault lasted
    during: int = 0
    seconds: float = 0.0
    skipped: str = ""

    @property
    def received(self) -> int:
        return sum(self.copies.values())

    @property
    def unique(self) -> int:
        return len(self.copies)

    @property
    def lost(self) -> int:
        return self.published - self.unique

    @property
    def extra(self) -> int:
        """Copies beyond the first, over all keys."""
        return self.received - self.unique

    @property
    def most_copies(self) -> int:
        return max(self.copies.values(), default=0)


def tmpfs_namespace() -> list[str] | None:
    """The ``unshare`` prefix that gives a process a private mount namespace where it may
    mount a tmpfs, or None when this machine does not allow it."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (
        ["unshare", "--mount", "--propagation", "private"],
        ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"],
    ):
        probe = subprocess.run(
            [*prefix, "sh", "-c", "mount -t tmpfs -o size=1m newsmonitor-probe /mnt"],
            capture_output=True,
            check=False,
        )
        if probe.returncode == 0:
            return prefix
    return None


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte (a file ``filler``); returns the file."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as out:
        for chunk in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * chunk)
    probe = directory / "probe"
    try:
        probe.write_bytes(b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    else:
        probe.unlink()
        raise AssertionError(f"{directory} did not fill up")
    return filler


async def _wait(predicate: Callable[[], object], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return bool(predicate())


def _copies(rig: Rig) -> Counter[str]:
    return Counter(rig.keys())


async def run_fault_trial(
    workdir: Path, fault: str, *, stories: int = 5, hold: float = 20.0, settle: float = 90.0
) -> FaultResult:
    """One trial of ``fault`` (one of :data:`FAULTS`); ``hold``: how long the fault lasts (seconds).

    Bounded: at most about ``hold + settle + 60`` seconds.
    """
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")
    prefix: list[str] = []
    dbdir: Path | None = None
    if fault == "disk-full":
        found = tmpfs_namespace()
        if found is None:
            return FaultResult(fault, stories, skipped="needs unshare and mount (root or user namespaces)")
        prefix, dbdir = found, workdir / "db"
        dbdir.mkdir()
    rig = await make_rig(
        workdir,
        stories,
        span=0.001,
        timeout=None if fault == "slow-receiver" else "3s",
        database=dbdir / "state.db" if dbdir is not None else None,
    )
    command = [sys.executable, "-m", "monitor", "run", "--workers", "0"]
    if dbdir is not None:  # the daemon's own tmpfs over dbdir, then the daemon itself (same pid)
        script = f'mount -t tmpfs -o size={TMPFS_SIZE} newsmonitor "$0" && exec "$@"'
        command = [*prefix, "sh", "-c", script, str(dbdir), *command]
    started = time.monotonic()
    result = FaultResult(fault, stories)
    with open(workdir / "daemon.log", "ab") as log:
        proc = await asyncio.create_subprocess_exec(*command, env=rig.env, stdout=log, stderr=log)
        try:
            await rig.feed.primed()
            result.during = await _FAULTS[fault](rig, proc.pid, workdir, dbdir, hold)
            await _wait(lambda: len(_copies(rig)) >= stories, settle)
            await asyncio.sleep(2.0)  # anything more that was on its way
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 40)
            except TimeoutError:
                proc.kill()
                await proc.wait()
            result.copies = _copies(rig)
            await rig.close()
    result.seconds = time.monotonic() - started
    return result


def _publish(rig: Rig) -> int:
    """Make every story visible; returns the feed's request count then."""
    rig.feed.t0 = time.monotonic() - 1
    return rig.feed.hits


async def _queued(rig: Rig, hits: int) -> None:
    """Wait until a poll after ``hits`` committed the stories (the daemon asks again only after committing)."""
    await _wait(lambda: rig.feed.hits >= hits + 2, 30)


async def _disk_full(rig: Rig, pid: int, workdir: Path, dbdir: Path | None, hold: float) -> int:
    assert dbdir is not None
    inside = Path(f"/proc/{pid}/root") / dbdir.relative_to("/")
    rig.hook.fail_with = 503  # the receiver is down while the alerts queue
    await _queued(rig, _publish(rig))
    filler = fill(inside)
    rig.hook.fail_with = None  # it recovers while the disk is full
    before = len(rig.hook.messages)
    await asyncio.sleep(hold)
    during = len(rig.hook.messages) - before
    filler.unlink()
    return during


async def _lock_held(rig: Rig, pid: int, workdir: Path, dbdir: Path | None, hold: float) -> int:
    path = workdir / "state.db"
    locked = asyncio.Event()
    holder: list[sqlite3.Connection] = []

    def lock(_message: object) -> None:
        if holder:
            return
        # another process takes the write lock while the first message is on its way
        con = sqlite3.connect(path, timeout=10, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        holder.append(con)
        locked.set()

    rig.hook.on_message = lock
    _publish(rig)
    await asyncio.wait_for(locked.wait(), 60)
    rig.hook.on_message = None
    before = len(rig.hook.messages)
    await asyncio.sleep(hold)
    during = len(rig.hook.messages) - before
    holder[0].execute("ROLLBACK")
    holder[0].close()
    return during


async def _slow_receiver(rig: Rig, pid: int, workdir: Path, dbdir: Path | None, hold: float) -> int:
    rig.hook.respond_after = hold
    before = len(rig.hook.messages)
    _publish(rig)
    await _wait(lambda: len(_copies(rig)) >= rig.feed.stories_total, rig.feed.stories_total * (hold + 5) + 30)
    return len(rig.hook.messages) - before


_FAULTS = {"disk-full": _disk_full, "lock-held": _lock_held, "slow-receiver": _slow_receiver}
