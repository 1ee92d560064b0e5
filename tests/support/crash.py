"""Crash trials (C-1, C-2): run the real daemon as a subprocess, SIGKILL it, count what arrived.

A local feed publishes ``stories`` matching stories over ``span`` seconds; a local webhook
receiver records every message's idempotency key. After the last kill the daemon runs to
completion. Lost = published-after-priming minus unique keys received; duplicates =
messages received minus unique keys. Used by ``tests/integration/test_crash.py`` and
``test_crash_points.py`` (short) and ``benchmarks/crash.py`` (full: 20 trials, 1 000 stories).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from monitor.demo.receiver import Receiver
from tests.support.feeds import Item
from tests.support.servers import Feed, Site


@dataclass
class TrialResult:
    published: int
    received: int
    unique: int
    kills: int
    seconds: float

    @property
    def lost(self) -> int:
        return self.published - self.unique

    @property
    def duplicates(self) -> int:
        return self.received - self.unique


class ReleasedFeed(Feed):
    """Lists ``stories`` matching stories, released evenly over ``span`` seconds from :attr:`t0`."""

    def __init__(self, site: Site, stories: int, span: float) -> None:
        super().__init__(site)
        self.stories_total = stories
        self.span = span
        self.t0 = 0.0

    async def primed(self, timeout: float = 30.0) -> None:
        """Wait until the daemon finished its first poll (it asks again only after committing)."""
        end = time.monotonic() + timeout
        while self.hits < 2 and time.monotonic() < end:
            await asyncio.sleep(0.05)

    def visible(self) -> int:
        if not self.t0:
            return 0
        return min(self.stories_total, int((time.monotonic() - self.t0) / self.span * self.stories_total))

    def stories(self) -> list[Item]:
        n = self.visible()
        # newest first; long enough that no story scrolls off while the daemon is down
        items = [
            Item(
                f"Rare earths story {i}",
                f"http://127.0.0.1/news/rare-earths-{i}",
                f"g{i}",
                f"Story {i} about rare earths supply chains.",
            )
            for i in range(n - 1, max(-1, n - 1001), -1)
        ]
        # a primed story nobody should be alerted about
        items.append(Item("Old story about the weather", "http://127.0.0.1/news/old", "old", "weather"))
        return items


@dataclass
class Rig:
    """A feed server, a webhook receiver and a config file pointing the daemon at both."""

    site: Site
    feed: ReleasedFeed
    hook: Receiver
    env: dict[str, str]

    def keys(self) -> list[str]:
        """Every idempotency key received, one per (rule, story) alert."""
        # a digest or multi-rule message carries several keys; one story one rule here
        return [k for m in self.hook.messages for k in (m.key or "").split(",") if k]

    async def close(self) -> None:
        await self.site.stop()
        await self.hook.stop()


async def make_rig(
    workdir: Path,
    stories: int,
    span: float,
    *,
    timeout: str | None = "3s",
    database: Path | None = None,
    database_url: str | None = None,
) -> Rig:
    """The feed, the receiver and the config of a trial in ``workdir``: ``timeout`` is
    ``delivery.timeout`` (None: the default), ``database`` the SQLite file (default
    ``workdir/state.db``), ``database_url`` any database instead (an empty PostgreSQL one)."""
    site = await Site().start()
    feed = ReleasedFeed(site, stories, span)
    hook = Receiver()
    await hook.start()
    config = {
        "database": database_url or f"sqlite:///{database or workdir / 'state.db'}",
        "allow_networks": site.allow,
        "defaults": {"interval": "1s", "notify": ["hook"], "full_text": False},
        # a short timeout keeps the claim's lease short: a row a kill left 'sending' goes again
        # when its lease ends, within the trial's settle time
        "delivery": {"retry_base": "1s", "retry_cap": "2s", **({"timeout": timeout} if timeout else {})},
        "flood": {"threshold": 100000},
        "notifiers": {"hook": hook.url},
        "sources": [{"name": "wire", "feed": feed.url}],
        "rules": [{"name": "rare-earths", "query": '"rare earths"'}],
    }
    if database_url is not None:
        # on PostgreSQL a killed daemon's source and destination leases hold until they end
        # (the restarted daemon is another instance): short ones, so the trial's restarts do
        # not wait the default 300 s and 60 s
        config["instances"] = {"source_lease": "10s", "delivery_lease": "3s"}
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "NEWSMONITOR_CONFIG": str(path), "PYTHONUNBUFFERED": "1"}
    return Rig(site, feed, hook, env)


async def _arrived(rig: Rig, stories: int, settle: float) -> None:
    """Wait until ``stories`` keys arrived, or none arrived for ``settle`` seconds (a slow drain
    is not a loss: on a loaded machine 1 000 alerts take longer than a fixed wait), at most
    ten times ``settle`` in all."""
    end = time.monotonic() + 10 * settle
    count, quiet_since = -1, time.monotonic()
    while (now := time.monotonic()) < end:
        got = len(set(rig.keys()))
        if got >= stories:
            return
        if got != count:
            count, quiet_since = got, now
        elif now - quiet_since > settle:
            return
        await asyncio.sleep(0.2)


async def run_trial(
    workdir: Path,
    *,
    stories: int = 100,
    span: float = 6.0,
    kills: int = 3,
    seed: int = 0,
    settle: float = 20.0,
    database_url: str | None = None,
) -> TrialResult:
    """One trial; returns what the receiver got. Bounded: span, then until every alert arrived
    or ``settle`` seconds passed without one (at most 10 × settle), then 15 s.
    ``database_url``: the daemon's database (default: a SQLite file in ``workdir``)."""
    rng = random.Random(seed)
    rig = await make_rig(workdir, stories, span, database_url=database_url)
    feed, env = rig.feed, rig.env
    cmd = [sys.executable, "-m", "monitor", "run", "--workers", "0"]
    log = open(workdir / "daemon.log", "ab")  # noqa: SIM115
    started = time.monotonic()
    kill_count = 0
    try:
        proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=log, stderr=log)
        await feed.primed()  # the first poll records the old story; publishing starts after it
        feed.t0 = time.monotonic()
        kill_times = sorted(rng.uniform(0.3, span) for _ in range(kills))
        for at in kill_times:
            await asyncio.sleep(max(0.0, feed.t0 + at - time.monotonic()))
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            kill_count += 1
            proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=log, stderr=log)
        await asyncio.sleep(max(0.0, feed.t0 + span - time.monotonic()))
        await _arrived(rig, stories, settle)
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    finally:
        log.close()
        await rig.close()
    keys = rig.keys()
    return TrialResult(
        published=stories,
        received=len(keys),
        unique=len(set(keys)),
        kills=kill_count,
        seconds=time.monotonic() - started,
    )


async def run_fault_point(
    workdir: Path, point: str, *, stories: int = 5, settle: float = 20.0
) -> TrialResult:
    """C-2: the daemon SIGKILLs itself at ``point`` once; a restarted daemon must finish the job."""
    rig = await make_rig(workdir, stories, span=0.001)
    feed, env = rig.feed, rig.env
    cmd = [sys.executable, "-m", "monitor", "run", "--workers", "0"]
    started = time.monotonic()
    with open(workdir / "daemon.log", "ab") as log:
        try:
            proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=log, stderr=log)
            await feed.primed()
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
            feed.t0 = time.monotonic() - 1  # every story is now listed
            faulty = {**env, "NEWSMONITOR_FAULT": point, "NEWSMONITOR_FAULT_ONCE": str(workdir / "fired")}
            proc = await asyncio.create_subprocess_exec(*cmd, env=faulty, stdout=log, stderr=log)
            await asyncio.wait_for(proc.wait(), 30)
            killed = proc.returncode == -signal.SIGKILL
            proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=log, stderr=log)
            deadline = time.monotonic() + settle
            while time.monotonic() < deadline and len(set(rig.keys())) < stories:
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 10)
        finally:
            await rig.close()
    keys = rig.keys()
    return TrialResult(
        published=stories,
        received=len(keys),
        unique=len(set(keys)),
        kills=1 if killed else 0,
        seconds=time.monotonic() - started,
    )
