"""What the web server costs with a big installation: ``/metrics`` and the dashboard's pages.

Run:  .venv/bin/python benchmarks/web.py [--sources 10000] [--alerts 100000] [--requests 200]

Builds a SQLite database with ``--sources`` polled sources (one in ten failing) and
``--alerts`` stored alert rows (one in fifty dead), runs a daemon's runtime on it (no polling)
with its web server on loopback and the token on, and times ``--requests`` sequential requests
to each route with one keep-alive client, printing p50, p99 and the largest. Targets: /metrics
p99 < 50 ms, the dashboard page p99 < 200 ms.

Numbers are from one process on a shared machine: expect noise of ±20 %.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import parse_settings
from monitor.daemon.dashboard import RuntimeDashboard
from monitor.daemon.runtime import Runtime
from monitor.models import Snippet
from monitor.store import repo, schema
from monitor.store.db import Database
from monitor.store.payload import AlertPayload, RuleEvidence
from monitor.web.server import start

TOKEN = "benchmark-token-0123456789abcdef"
ROUTES = ("/metrics", "/", "/alerts", "/outbox", "/rules", "/api/sources", "/feeds/all.atom")


def build(path: Path, sources: int, alerts: int) -> str:
    """The config file of ``sources`` sources and a database holding their states and ``alerts`` rows."""
    now = time.time()
    config = {
        "database": f"sqlite:///{path}/state.db",
        "notifiers": {"chat": "json://127.0.0.1:9/hook"},
        "defaults": {"notify": ["chat"]},
        "sources": [{"name": f"source-{i:05d}", "feed": f"https://news{i}.example.org/feed.xml"} for i in range(sources)],
        "rules": [{"name": f"rule-{i}", "query": f"word{i} OR earthquake"} for i in range(20)],
        "web": {"listen": "127.0.0.1:8321", "token": TOKEN},  # the benchmark listens on a free port
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    db = Database(config["database"])
    db.migrate()
    with db.write() as conn:
        for i in range(sources):
            failing = i % 10 == 0
            repo.save_source(conn, repo.SourceState(
                name=f"source-{i:05d}", last_poll_at=now - 60, next_poll_at=now + 240, polls=100, stories_total=500,
                failures=3 if failing else 0, failing_since=now - 3600 if failing else None,
                last_error="HTTP 503 from https://news.example.org/feed.xml" if failing else None,
                primed_at=now - 86400, last_new_story_at=now - 600,
            ))
        snippet = Snippet("A strong earthquake shook the coast on Monday.", ((9, 19),))
        rows = []
        for i in range(alerts):
            rule = f"rule-{i % 20}"
            payload = AlertPayload(
                title=f"Story {i}: earthquake on the coast", url=f"https://news.example.org/{i}",
                source=f"source-{i % sources:05d}", outlet="Example News", published=now - i,
                rules=(RuleEvidence(rule, (snippet,)),),
            )
            rows.append({
                "key": f"k{i}", "kind": "alert", "rule": rule, "target": "chat", "dest": "d" * 16, "story_id": i,
                "status": "dead" if i % 50 == 0 else "sent", "payload": payload.to_json(), "created_at": now - i,
                "due_at": now - i, "next_attempt_at": now - i, "attempts": 1,
            })
        conn.execute(schema.outbox.insert(), rows)
    db.close()
    return str(path / "config.yaml")


async def measure(config_path: str, requests: int) -> None:
    text = Path(config_path).read_text(encoding="utf-8")
    config = parse_settings(text, config_path, {})
    rt = Runtime(config, workers=0)
    await rt.store.open()
    server = await start(RuntimeDashboard(rt), "127.0.0.1:0", token=TOKEN)
    base = f"http://127.0.0.1:{server.port}"
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            for route in ROUTES:
                times = []
                size = 0
                for _ in range(requests):
                    started = time.perf_counter()
                    async with http.get(base + route) as resp:
                        body = await resp.read()
                        assert resp.status == 200, (route, resp.status)
                    times.append(time.perf_counter() - started)
                    size = len(body)
                times.sort()
                p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                print(
                    f"{route:<18} p50 {statistics.median(times) * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   "
                    f"max {times[-1] * 1000:7.1f} ms   {size / 1024:8.0f} KiB"
                )
    finally:
        await server.stop()
        rt.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        config_path = build(Path(tmp), args.sources, args.alerts)
        print(f"{args.sources} sources, {args.alerts} alerts stored in {time.perf_counter() - started:.1f} s")
        asyncio.run(measure(config_path, args.requests))


if __name__ == "__main__":
    main()
