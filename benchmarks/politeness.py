"""The cost of politeness held per host for all instances (``instances.politeness: cluster``).

Run:  .venv/bin/python benchmarks/politeness.py [--fetches 2000] [--hosts 20] [--concurrency 32]

A local site answers a tiny body on 127.0.0.2..127.0.0.(hosts+1). The same fetches are made
by one HTTP client with this process's own gates only, and by one with the cluster-wide
gates of a real PostgreSQL database (NEWSMONITOR_TEST_POSTGRES, else a throwaway server
from Debian's packages), without and with a host delay. Prints per run: fetches/s, CPU
seconds of this process per 1 000 fetches, the statements sent to PostgreSQL per fetch
(each in autocommit: one round trip), the latency of a claim and of a release (p50/p99, ms),
and the CPU seconds of the PostgreSQL server (all its processes) per 1 000 fetches.

The database, the site and the client share this machine's cores: the absolute figures
are an upper bound of the cost on a machine where PostgreSQL runs elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import psutil
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.fetch.client import HttpClient
from monitor.models import HostTurn
from monitor.store import hosts as hosts_module
from monitor.store.db import Database
from monitor.store.hosts import ClusterHosts
from tests.support.postgres import server


class TimedHosts(ClusterHosts):
    """ClusterHosts that records how long each claim and release took."""

    claims: list[float]
    releases: list[float]

    async def claim(self, host: str, *, slots: int, delay: float, now: float) -> HostTurn | None:
        t = time.perf_counter()
        try:
            return await super().claim(host, slots=slots, delay=delay, now=now)
        finally:
            self.claims.append(time.perf_counter() - t)

    async def release(self, host: str, turn: HostTurn, *, now: float) -> None:
        t = time.perf_counter()
        try:
            await super().release(host, turn, now=now)
        finally:
            self.releases.append(time.perf_counter() - t)


async def serve(hosts: int) -> tuple[web.AppRunner, int]:
    async def answer(_: web.Request) -> web.Response:
        return web.Response(body=b"<rss/>", content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.2", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    for n in range(3, hosts + 2):
        await web.TCPSite(runner, f"127.0.0.{n}", port).start()
    return runner, port


def server_cpu(port: int) -> float | None:
    """CPU seconds used so far by the PostgreSQL server listening on ``port`` (its postmaster and
    every backend), or None when it is not a process of this machine that can be read."""
    total, found = 0.0, False
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if "-p" in cmdline and str(port) in cmdline and any("postgres" in part for part in cmdline[:1]):
            found = True
            for member in [proc, *proc.children(recursive=True)]:
                try:
                    times = member.cpu_times()
                except psutil.Error:
                    continue
                total += times.user + times.system
    return total if found else None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


async def run(
    label: str, url: str | None, args: argparse.Namespace, port: int, delay: float, pg_port: int
) -> None:
    db = Database(url) if url else None
    shared = None
    statements = {"sql": 0}
    if db is not None:
        db.migrate()
        execute = hosts_module._Postgres._execute

        def counted(self: hosts_module._Postgres, sql: str, params: dict[str, object]) -> object:
            statements["sql"] += 1
            return execute(self, sql, params)

        hosts_module._Postgres._execute = counted  # type: ignore[method-assign,assignment]
        shared = TimedHosts(db, "bench", lease=90.0)
        shared.claims, shared.releases = [], []

    http = HttpClient(
        allow_networks=["127.0.0.0/8"], per_host_limit=2, host_min_delay=delay, global_limit=64, shared_hosts=shared
    )
    sem = asyncio.Semaphore(args.concurrency)
    urls = [f"http://127.0.0.{2 + i % args.hosts}:{port}/feed/{i}" for i in range(args.fetches)]

    async def one(target: str) -> None:
        async with sem:
            await http.get(target)

    # warm: connections, and each host's rows made once (not counted)
    await asyncio.gather(*(one(u) for u in urls[: args.hosts]))
    if shared is not None:
        shared.claims.clear()
        shared.releases.clear()
    for key in statements:
        statements[key] = 0
    db_cpu = server_cpu(pg_port)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(u) for u in urls))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    db_after = server_cpu(pg_port)
    await http.close()
    line = f"{label:<34} {args.fetches / wall:8.0f} fetches/s  {cpu / args.fetches * 1000:5.2f} CPU s/1000"
    if shared is not None:
        n = args.fetches
        line += (
            f"  {statements['sql'] / n:4.2f} statements/fetch (autocommit)"
            f"  claim p50 {pct(shared.claims, 0.5):.2f} ms"
            f" p99 {pct(shared.claims, 0.99):.2f} ms (claims/fetch {len(shared.claims) / n:.2f})"
            f"  release p50 {pct(shared.releases, 0.5):.2f} ms p99 {pct(shared.releases, 0.99):.2f} ms"
        )
        if db_cpu is not None and db_after is not None:
            line += f"  PostgreSQL {(db_after - db_cpu) / n * 1000:.2f} CPU s/1000"
        shared.close()
    if db is not None:
        db.close()
    print(line, flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fetches", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    pg = server()
    runner, port = await serve(args.hosts)
    try:
        print(f"{args.fetches} fetches over {args.hosts} hosts, {args.concurrency} at a time, per_host 2")
        await run("this process's gates only", None, args, port, 0.0, pg.port)
        await run("cluster-wide, no delay", pg.new_database(), args, port, 0.0, pg.port)
        # a delay makes the run as long as fetches/hosts * delay: keep it short
        await run("cluster-wide, host_delay 5 ms", pg.new_database(), args, port, 0.005, pg.port)
    finally:
        await runner.cleanup()
        pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
