"""Crash trials (C-1): run the real daemon as a subprocess, SIGKILL it at random moments, count what arrived.

A local feed publishes ``stories`` matching stories over ``span`` seconds; a local webhook
receiver records every message's idempotency key. After the last kill the daemon runs to
completion. Lost = published-after-priming minus unique keys received; duplicates =
messages received minus unique keys. Used by ``tests/integration/test_crash.py`` (short) and
``benchmarks/crash.py`` (full: 20 trials, 1 000 stories).
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
from aiohttp import web

from tests.helpers import Item, rss


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


class _Feed:
    def __init__(self, stories: int, span: float) -> None:
        self.stories = stories
        self.span = span
        self.t0 = 0.0
        self.hits = 0

    async def primed(self, timeout: float = 30.0) -> None:
        """Wait until the daemon finished its first poll (it asks again only after committing)."""
        end = time.monotonic() + timeout
        while self.hits < 2 and time.monotonic() < end:
            await asyncio.sleep(0.05)

    def visible(self) -> int:
        if not self.t0:
            return 0
        return min(self.stories, int((time.monotonic() - self.t0) / self.span * self.stories))

    async def handle(self, _: web.Request) -> web.Response:
        self.hits += 1
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
        return web.Response(text=rss(items), content_type="application/rss+xml")


class _Hook:
    def __init__(self) -> None:
        self.keys: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        data = await request.json()
        key = request.headers.get("X-Newsmonitor-Key") or ""
        # a digest or multi-rule message carries several keys in its footer; one story one rule here
        self.keys.extend(k for k in key.split(",") if k)
        del data
        return web.json_response({"ok": True})


async def _serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, int(runner.addresses[0][1])


@dataclass
class _Rig:
    """A feed server, a webhook receiver and a config file pointing the daemon at both."""

    feed: _Feed
    hook: _Hook
    runners: list[web.AppRunner]
    env: dict[str, str]

    async def close(self) -> None:
        for runner in self.runners:
            await runner.cleanup()


async def _rig(workdir: Path, stories: int, span: float) -> _Rig:
    feed, hook = _Feed(stories, span), _Hook()
    feed_app, hook_app = web.Application(), web.Application()
    feed_app.router.add_get("/feed.xml", feed.handle)
    hook_app.router.add_post("/hook", hook.handle)
    feed_runner, feed_port = await _serve(feed_app)
    hook_runner, hook_port = await _serve(hook_app)
    config = {
        "database": f"sqlite:///{workdir}/state.db",
        "allow_networks": [f"127.0.0.1:{feed_port}"],
        "defaults": {"interval": "1s", "notify": ["hook"], "full_text": False},
        "delivery": {"retry_base": "1s", "retry_cap": "2s"},
        "flood": {"threshold": 100000},
        "notifiers": {"hook": f"json://127.0.0.1:{hook_port}/hook"},
        "sources": [{"name": "wire", "feed": f"http://127.0.0.1:{feed_port}/feed.xml"}],
        "rules": [{"name": "rare-earths", "query": '"rare earths"'}],
    }
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "NEWSMONITOR_CONFIG": str(path), "PYTHONUNBUFFERED": "1"}
    return _Rig(feed, hook, [feed_runner, hook_runner], env)


async def run_trial(
    workdir: Path,
    *,
    stories: int = 100,
    span: float = 6.0,
    kills: int = 3,
    seed: int = 0,
    settle: float = 20.0,
) -> TrialResult:
    """One trial; returns what the receiver got. Bounded: at most span + settle + 15 s."""
    rng = random.Random(seed)
    rig = await _rig(workdir, stories, span)
    feed, hook, env = rig.feed, rig.hook, rig.env
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
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline and len(set(hook.keys)) < stories:
            await asyncio.sleep(0.2)
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
    return TrialResult(
        published=stories,
        received=len(hook.keys),
        unique=len(set(hook.keys)),
        kills=kill_count,
        seconds=time.monotonic() - started,
    )


async def run_fault_point(
    workdir: Path, point: str, *, stories: int = 5, settle: float = 20.0
) -> TrialResult:
    """C-2: the daemon SIGKILLs itself at ``point`` once; a restarted daemon must finish the job."""
    rig = await _rig(workdir, stories, span=0.001)
    feed, hook, env = rig.feed, rig.hook, rig.env
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
            while time.monotonic() < deadline and len(set(hook.keys)) < stories:
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 10)
        finally:
            await rig.close()
    return TrialResult(
        published=stories,
        received=len(hook.keys),
        unique=len(set(hook.keys)),
        kills=1 if killed else 0,
        seconds=time.monotonic() - started,
    )
