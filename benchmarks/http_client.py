"""HttpClient costs on loopback: decompression-bomb abort time and memory, plain GET throughput.

Run:  /work/venv/bin/python benchmarks/http_client.py [--requests 1000] [--concurrency 32]

Prints, per bomb (10 MiB cap): seconds until ResponseTooLarge and the process RSS growth
(RELIABILITY.md H-2 asks for ≤ 2× the cap); then GET/s for a 60 kB gzip feed body and for
a 304 answer. Numbers are noisy on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import sys
import threading
import time
import zlib
from pathlib import Path

import brotli
import psutil
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.errors import ResponseTooLarge
from monitor.fetch.client import HttpClient

MiB = 2**20


def gzip_zeros(n: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * MiB
    parts = [comp.compress(block) for _ in range(n // MiB)]
    return b"".join([*parts, comp.flush()])


class PeakRss:
    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.base = self.proc.memory_info().rss
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def main(requests: int, concurrency: int) -> None:
    print("building bombs ...", flush=True)
    bombs = {
        "gzip 1 GiB": (gzip_zeros(1024 * MiB), "gzip"),
        "double gzip 1 GiB": (gzip.compress(gzip_zeros(1024 * MiB)), "gzip, gzip"),
        # 256 MiB keeps the brotli build fast
        "brotli 256 MiB": (brotli.compress(b"\0" * (256 * MiB), quality=5), "br"),
        "deflate 1 GiB": (gzip_zeros(1024 * MiB)[10:-8], "deflate"),
    }
    feed = (b"<item><title>Story</title><description>" + b"text " * 40 + b"</description></item>") * 250
    feed_gz = gzip.compress(feed)

    async def handler(request: web.Request) -> web.StreamResponse:
        name = request.query.get("b")
        if name:
            body, enc = list(bombs.values())[int(name)]
            return web.Response(body=body, headers={"Content-Encoding": enc})
        if request.headers.get("If-None-Match") == '"v"':
            return web.Response(status=304)
        return web.Response(body=feed_gz, headers={"Content-Encoding": "gzip", "ETag": '"v"'})

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}/"
    async with HttpClient(
        allow_networks=[f"127.0.0.1:{port}"],
        per_host_limit=concurrency,
        global_limit=concurrency,
        max_bytes=10 * MiB,
    ) as http:
        for index, (name, (body, _)) in enumerate(bombs.items()):
            with PeakRss() as rss:
                t0 = time.perf_counter()
                try:
                    await http.get(f"{base}?b={index}")
                    outcome = "NOT ABORTED"
                except ResponseTooLarge:
                    outcome = "ResponseTooLarge"
                dt = time.perf_counter() - t0
            print(
                f"{name:20s} wire {len(body) / 1024:8.1f} KiB  {outcome}  {dt * 1000:7.1f} ms  "
                f"RSS +{(rss.peak - rss.base) / MiB:5.1f} MiB (cap 10 MiB)"
            )
        for label, etag in (("200 gzip feed 60 kB", None), ("304 not modified", '"v"')):
            sem = asyncio.Semaphore(concurrency)

            async def one(etag: str | None = etag, sem: asyncio.Semaphore = sem) -> None:
                async with sem:
                    await http.get(base, etag=etag)

            t0 = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(requests)))
            dt = time.perf_counter() - t0
            print(f"{label:20s} {requests} requests, concurrency {concurrency}: {requests / dt:7.0f} req/s")
    await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency))
