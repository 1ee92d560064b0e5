"""Polling at scale: N feeds on many loopback addresses and ports, the real daemon polling them.

Run:  .venv/bin/python benchmarks/fetch.py [--sources 2000] [--interval 60] [--duration 120]

The server listens on 127.0.0.2..127.0.0.K (several ports each), so per-host limits apply
as they would across real sites. 10 % of polls find new items (a fresh 50-item feed body),
the rest answer 304 to the conditional GET. Prints sustained polls/s, CPU use of the daemon
process (worker processes included), peak RSS, and scheduler lateness p50/p99 (actual start
minus planned start, from APScheduler's submission events).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from monitor.config import parse_settings
from tests.support.farm import FeedFarm

HOSTS = 20
PORTS_PER_HOST = 5


def serve_farm(
    sources: int, change_rate: float, queue: mp.Queue[object], polls: mp.sharedctypes.Synchronized[int]
) -> None:
    """The feed farm, in its own process so that its CPU is not counted as the daemon's: every
    feed lists 50 stories; a changed one lists 50 new ones (nothing matches the rules)."""

    async def run() -> None:
        farm = FeedFarm(
            sources,
            change_rate=change_rate,
            match_rate=0.0,
            stories_per_change=50,
            initial=50,
            listing=50,
            hosts=HOSTS,
            ports_per_host=PORTS_PER_HOST,
            publishing=True,
        )
        await farm.start()
        queue.put([farm.url(i) for i in range(sources)])
        while True:
            polls.value = farm.polls()
            await asyncio.sleep(0.2)

    asyncio.run(run())


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sources", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--change-rate", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    queue: mp.Queue[object] = ctx.Queue()
    polls_value = ctx.Value("i", 0)
    server = ctx.Process(
        target=serve_farm, args=(args.sources, args.change_rate, queue, polls_value), daemon=True
    )
    server.start()
    urls = queue.get(timeout=60)
    assert isinstance(urls, list)
    from monitor.daemon.service import Daemon

    with tempfile.TemporaryDirectory() as tmp:
        lines = [
            f"database: sqlite:///{tmp}/bench.db",
            "allow_networks: ['127.0.0.0/8']",
            f"defaults: {{interval: {args.interval}s, full_text: false, notify: []}}",
            "http: {per_host: 4, concurrency: 256}",
            "cluster: {enabled: false}",
            "sources:",
        ]
        for i, url in enumerate(urls):
            lines.append(f"  - {{name: s{i}, feed: '{url}'}}")
        lines += ["rules:", "  - {name: r1, query: 'rare earths'}", "  - {name: r2, query: 'Japan defence'}"]
        config = parse_settings("\n".join(lines), "bench.yaml", env={})
        config.warnings.clear()
        daemon = Daemon(config, workers=args.workers)
        lateness: list[float] = []
        original = daemon._on_submit

        def record(event: object) -> None:
            from datetime import UTC, datetime

            for planned in event.scheduled_run_times:  # type: ignore[attr-defined]
                lateness.append((datetime.now(UTC) - planned).total_seconds())
            original(event)  # type: ignore[arg-type]

        daemon._on_submit = record  # type: ignore[method-assign]
        me = psutil.Process()

        def daemon_processes() -> list[psutil.Process]:
            return [me, *(c for c in me.children(recursive=True) if c.pid != server.pid)]

        def cpu_total() -> float:
            total = 0.0
            for proc in daemon_processes():
                try:
                    t = proc.cpu_times()
                    total += t.user + t.system
                except psutil.Error:
                    pass
            return total

        peak_rss = [0.0]

        async def sample_rss() -> None:
            while True:
                rss = 0
                for proc in daemon_processes():
                    with contextlib.suppress(psutil.Error):
                        rss += proc.memory_info().rss
                peak_rss[0] = max(peak_rss[0], rss / 2**20)
                await asyncio.sleep(1)

        sampler = asyncio.create_task(sample_rss())
        task = asyncio.create_task(daemon.run(install_signals=False))
        warmup = min(args.interval, args.duration / 2)
        await asyncio.sleep(warmup)
        polls0, t0, cpu_w = polls_value.value, time.monotonic(), cpu_total()
        lateness.clear()
        await asyncio.sleep(args.duration - warmup)
        elapsed = time.monotonic() - t0
        polls = polls_value.value - polls0
        cpu = cpu_total() - cpu_w
        sampler.cancel()
        daemon.stop()
        await task
        await daemon.close()
    server.terminate()
    lat = sorted(lateness) or [0.0]
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    print(
        f"sources={args.sources} interval={args.interval:g}s measured={elapsed:.0f}s workers={args.workers}"
    )
    print(
        f"polls/s sustained      {polls / elapsed:8.1f}  (target equivalent: {args.sources / args.interval:.1f})"
    )
    print(f"CPU daemon + workers   {100 * cpu / elapsed:7.1f} % of one core")
    print(f"peak RSS daemon+workers{peak_rss[0]:8.0f} MB")
    print(
        f"lateness p50 / p99     {p(0.5):8.3f} s / {p(0.99):.3f} s  (n={len(lateness)}, mean {statistics.mean(lat):.3f})"
    )
    print(f"pid {os.getpid()}")


if __name__ == "__main__":
    asyncio.run(main())
