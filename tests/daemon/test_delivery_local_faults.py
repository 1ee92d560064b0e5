"""Issue 12: local faults never turn one alert into many, and never make one dead.

A full disk, another process holding the database's write lock past the busy timeout, no
file descriptors left: the delivery loop claims a row before it sends it, keeps an outcome
it cannot write in memory (its destination sends nothing meanwhile), and retries what a
local fault stopped. Each test drives the daemon's own delivery rounds (``drain_once``, one
tick of the loop) on a fake clock against a real receiver and a real SQLite file.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

from monitor.clock import FakeClock
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.models import OutboxStatus
from monitor.store import repo
from monitor.store.db import Database
from tests.support.configs import make_config
from tests.support.feeds import story_items
from tests.support.servers import Feed, Site


class FillingDisk(Database):
    """The daemon's database on a disk that can fill up: while ``full``, every write
    transaction fails the way SQLite fails on a full disk (``database or disk is full``)."""

    full = False

    @contextmanager
    def write(self) -> Iterator[Connection]:
        if self.full:
            raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database or disk is full"))
        with super().write() as conn:
            yield conn


def config_for(tmp_path: Path, feed: Feed, site: Site, receiver: Receiver, extra: str = "") -> Any:
    """One feed, one rule matching every story, one webhook; every story its own alert."""
    return make_config(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url, "full_text": False}],
        rules=[{"name": "all", "query": "story"}],
        notifiers={"chat": receiver.url},
        allow=site.allow,
        extra="cluster: {enabled: false}\n" + extra,  # the test stories' bodies look alike
    )


class Rig:
    """One daemon (its delivery loop's memory lives as long as the test) on a fake clock."""

    def __init__(self, daemon: Daemon, clock: FakeClock) -> None:
        self.daemon = daemon
        self.clock = clock
        #: what escaped a delivery round (the loop used to lose these as "Task exception was never retrieved")
        self.escaped: list[BaseException] = []

    async def tick(self, seconds: float = 2.0) -> None:
        """Let ``seconds`` pass, then one round of the delivery loop."""
        self.clock.advance(seconds)
        try:
            await self.daemon.deliverer.drain_once()
        except Exception as exc:  # recorded: the test fails on it, after counting copies
            self.escaped.append(exc)

    def rows(self) -> list[repo.OutboxEntry]:
        with self.daemon.rt.store.database.read() as conn:
            return repo.list_outbox(conn, list(OutboxStatus))


async def started(config: Any, database: Database, clock: FakeClock) -> Rig:
    daemon = Daemon(config, workers=0, clock=clock, database=database)
    await daemon.start()
    return Rig(daemon, clock)


def copies(receiver: Receiver) -> Counter[str | None]:
    return Counter(m.key for m in receiver.messages)


async def test_a_disk_that_fills_while_the_receiver_recovers_sends_each_alert_once(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # the report: receiver down while 4 alerts queue, then the disk fills and the receiver
    # recovers: 1 127 messages, 1 124 of them one key, until space was freed
    feed = Feed(site)
    config = config_for(tmp_path, feed, site, receiver)
    disk = FillingDisk(config.database_url)
    clock = FakeClock(datetime.now(UTC))
    rig = await started(config, disk, clock)
    try:
        await rig.daemon.run_once()  # primes the source
        feed.items = story_items(4)
        receiver.fail_with = 503
        await rig.daemon.run_once()
        assert receiver.attempts >= 1 and not receiver.messages
        disk.full = True
        receiver.fail_with = None
        for _ in range(10):
            await rig.tick()
        assert receiver.messages == []  # nothing goes out that the database cannot claim
        disk.full = False
        for _ in range(4):  # each local fault paused the destination longer (1 s, 2 s, 4 s ... 60 s)
            await rig.tick(20)
        assert sorted(copies(receiver).values()) == [1, 1, 1, 1]
        assert [r.status for r in rig.rows()] == [OutboxStatus.SENT] * 4
        local = rig.daemon.rt.metrics.delivery_local_errors.labels("chat", "claim")._value.get()
        assert local >= 1  # counted, not silent
        assert rig.escaped == []
    finally:
        await rig.daemon.close()


async def test_a_disk_that_fills_after_the_send_keeps_its_outcome_and_never_resends(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = Feed(site)
    config = config_for(tmp_path, feed, site, receiver)
    disk = FillingDisk(config.database_url)
    clock = FakeClock(datetime.now(UTC))
    rig = await started(config, disk, clock)
    try:
        await rig.daemon.run_once()
        feed.items = story_items(2)
        await rig.daemon.run_once(deliver=False)

        def fill(_message: object) -> None:
            disk.full = True  # between the send and the record of its outcome

        receiver.on_message = fill
        await rig.tick()
        receiver.on_message = None
        assert len(receiver.messages) == 1
        for _ in range(10):
            await rig.tick()
        assert len(receiver.messages) == 1  # the sent message is not sent again; the next waits
        assert rig.daemon.rt.metrics.delivery_unrecorded._value.get() == 1
        disk.full = False
        for _ in range(4):
            await rig.tick(20)
        assert sorted(copies(receiver).values()) == [1, 1]
        assert [r.status for r in rig.rows()] == [OutboxStatus.SENT] * 2
        assert rig.daemon.rt.metrics.delivery_unrecorded._value.get() == 0
        assert rig.escaped == []
    finally:
        await rig.daemon.close()


LOCKER = textwrap.dedent(
    """
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    sys.stdin.readline()                 # "lock"
    con.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    sys.stdin.readline()                 # "release" (or EOF)
    con.execute("ROLLBACK")
    """
)


async def test_a_write_lock_held_past_the_busy_timeout_sends_no_duplicate(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # the report: another process held BEGIN IMMEDIATE for 75 s: one duplicate per ~30 s of lock
    feed = Feed(site)
    config = config_for(tmp_path, feed, site, receiver)
    db = Database(config.database_url, busy_timeout=0.2)
    clock = FakeClock(datetime.now(UTC))
    rig = await started(config, db, clock)
    path = config.database_url.removeprefix("sqlite:///")
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert locker.stdin is not None and locker.stdout is not None
    try:
        await rig.daemon.run_once()
        feed.items = story_items(2)
        await rig.daemon.run_once(deliver=False)

        def lock(_message: object) -> None:
            # another process takes the write lock while the message is on its way
            assert locker.stdin is not None and locker.stdout is not None
            locker.stdin.write("lock\n")
            locker.stdin.flush()
            assert locker.stdout.readline().strip() == "locked"

        receiver.on_message = lock
        await rig.tick()
        receiver.on_message = None
        for _ in range(6):
            await rig.tick()
        assert len(receiver.messages) == 1  # held: no duplicate, and nothing new without a claim
        locker.stdin.write("release\n")
        locker.stdin.flush()
        assert locker.wait(10) == 0
        for _ in range(4):
            await rig.tick(20)
        assert sorted(copies(receiver).values()) == [1, 1]
        assert [r.status for r in rig.rows()] == [OutboxStatus.SENT] * 2
        assert rig.escaped == []
    finally:
        with suppress(Exception):
            locker.kill()
        await rig.daemon.close()


@contextmanager
def no_file_descriptors_left() -> Iterator[None]:
    """While inside, this process can open no file or socket (EMFILE): the soft limit is lowered
    to the highest descriptor in use and every free one below it is taken."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, hard))
    taken: list[int] = []
    try:
        with suppress(OSError):
            while True:
                taken.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in taken:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count descriptors")
async def test_no_file_descriptors_at_the_first_alert_is_retried_never_dead(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # the report: each due alert became dead with "render failed: OSError: Too many open files"
    feed = Feed(site)
    config = config_for(tmp_path, feed, site, receiver)
    clock = FakeClock(datetime.now(UTC))
    first = Daemon(config, workers=0, clock=clock)
    try:
        await first.run_once()
        feed.items = story_items(1)
        await first.run_once(deliver=False)
    finally:
        await first.close()
    rig = await started(config, Database(config.database_url), clock)  # its first alert comes due now
    try:
        with no_file_descriptors_left():
            await rig.tick()
            await rig.tick()
        assert [r.status for r in rig.rows()] == [OutboxStatus.PENDING]
        for _ in range(3):
            await rig.tick(10)
        assert sorted(copies(receiver).values()) == [1]
        assert [r.status for r in rig.rows()] == [OutboxStatus.SENT]
        assert rig.escaped == []
    finally:
        await rig.daemon.close()


async def test_a_row_left_sending_by_a_crash_goes_again_once_when_its_lease_ends(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # the one documented duplicate window: a crash between a send and the record of its outcome
    feed = Feed(site)
    config = config_for(tmp_path, feed, site, receiver, "delivery: {timeout: 3s}\n")
    clock = FakeClock(datetime.now(UTC))
    first = Daemon(config, workers=0, clock=clock)
    try:
        await first.run_once()
        feed.items = story_items(1)
        await first.run_once(deliver=False)
        with first.rt.store.database.write() as conn:
            (row,) = repo.list_outbox(conn, [OutboxStatus.PENDING])
            repo.claim(conn, [row.id], lease_until=clock.timestamp() + 10)  # claimed, then killed
    finally:
        await first.close()
    rig = await started(config, Database(config.database_url), clock)
    try:
        await rig.tick(1)
        assert receiver.messages == []  # not before the lease ends
        (row,) = rig.rows()
        assert (row.status, row.unknowns, row.attempts) == (OutboxStatus.PENDING, 1, 1)
        assert rig.daemon.rt.metrics.delivery_unknown.labels("chat")._value.get() == 1
        await rig.tick(10)
        await rig.tick(10)
        assert len(receiver.messages) == 1 and receiver.messages[0].key == row.key
        assert [r.status for r in rig.rows()] == [OutboxStatus.SENT]
    finally:
        await rig.daemon.close()


async def test_a_stop_that_cuts_a_send_short_writes_an_unknown_outcome(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = Feed(site)
    config = config_for(tmp_path, feed, site, receiver, "delivery: {timeout: 3s}\n")
    clock = FakeClock(datetime.now(UTC))
    rig = await started(config, Database(config.database_url), clock)
    try:
        await rig.daemon.run_once()
        feed.items = story_items(1)
        await rig.daemon.run_once(deliver=False)
        receiver.respond_after = 10  # takes it, answers late
        got = asyncio.Event()
        receiver.on_message = lambda _m: got.set()
        stop = asyncio.Event()
        loop = asyncio.create_task(rig.daemon.deliverer.run(stop))
        await asyncio.wait_for(got.wait(), 10)
        stop.set()
        with suppress(TimeoutError):  # the shutdown deadline passes with the send still in flight
            await asyncio.wait_for(loop, 0.5)
        (row,) = rig.rows()
        assert (row.status, row.unknowns) == (OutboxStatus.PENDING, 1)  # not left 'sending'
        assert row.last_error is not None and "cut short" in row.last_error
    finally:
        await rig.daemon.close()
