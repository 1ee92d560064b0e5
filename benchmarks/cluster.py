"""Several instances on one PostgreSQL database: throughput, CPU and database load per poll.

Run:  .venv/bin/python benchmarks/cluster.py [--instances 1,2,3] [--sources 1000] [--interval 20]
                                             [--measure 45] [--latency 10]

For each instance count: a throwaway PostgreSQL server (tests/support/postgres.py, with
pg_stat_statements loaded; fsync off, as in the suite), a new database, the feed farm of
tests/support/farm.py on loopback (10 % of polls find 2 new stories, 30 % of those match the
rule, alerts go to a local json:// receiver), and N ``newsmonitor run`` processes
(tests/support/cluster.py). Once every source is primed and one interval has passed, it
measures for ``--measure`` seconds:

* polls/s (requests the farm answered) against the offered load (sources / interval);
* CPU of each instance (its process and children) and of PostgreSQL (the postmaster and all
  its children), in % of one core;
* per poll: transactions, statements (pg_stat_statements calls, utility statements such as
  BEGIN included), rows written (inserted + updated + deleted, pg_stat_database) and read
  (returned), WAL bytes (pg_current_wal_lsn difference);
* the statements that make up a poll, by calls per poll.

Then, for ``--latency`` seconds, PostgreSQL logs every statement's duration
(log_min_duration_statement = 0) and the script reports p50/p99/max of the lease statements
(sources and destinations) and the outbox statements, server side (the client adds one
loopback round trip each). Finally the size of every table (pg_total_relation_size) and its
rows, for bytes per row.

The machine has 2 cores shared by everything here (the farm, the receiver, the instances and
PostgreSQL) and by whatever else runs on it: the numbers say what 2 cores do, not what N
machines would.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.cluster import ClusterPlan, cluster_up
from tests.support.postgres import Postgres

SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
}
_DURATION = re.compile(r"duration: ([0-9.]+) ms\s+(?:statement|execute [^:]*): (.*)")


@dataclass
class Sample:
    polls: int
    at: float
    cpu: dict[str, float]
    xacts: int
    calls: dict[str, int]
    written: int
    read: int
    wal: int
    tables: dict[str, int]
    scanned: dict[str, int]


def connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    p = urlsplit(url)
    return psycopg.connect(
        host=p.hostname, port=p.port, user=p.username, dbname=p.path.lstrip("/"), autocommit=True
    )


def cpu_seconds(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def postmaster(pg: Postgres) -> psutil.Process:
    assert pg.data_dir is not None
    return psutil.Process(int((pg.data_dir / "postmaster.pid").read_text().split()[0]))


def sample(url: str, polls: int, procs: dict[str, psutil.Process]) -> Sample:
    with connect(url) as conn:
        db = conn.execute(
            "SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted, tup_returned "
            "FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        calls = dict(
            conn.execute(
                "SELECT query, calls FROM pg_stat_statements WHERE dbid = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchall()
        )
        wal = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')").fetchone()
        stats = conn.execute(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del, coalesce(seq_tup_read, 0) FROM pg_stat_user_tables"
        ).fetchall()
    assert db is not None and wal is not None
    return Sample(
        polls, time.monotonic(), {k: cpu_seconds(p) for k, p in procs.items()},
        int(db[0]), {str(k): int(v) for k, v in calls.items()}, int(db[1]), int(db[2]), int(wal[0]),
        {str(k): int(w) for k, w, _ in stats},
        {str(k): int(r) for k, _, r in stats},
    )  # fmt: skip


def backend_states(url: str, seconds: float) -> dict[str, float]:
    """What the instances' connections were doing, sampled every 0.2 s for ``seconds``: the
    average number of them in each state (``Lock`` waits apart)."""
    counts: dict[str, float] = {}
    samples = 0
    end = time.monotonic() + seconds
    with connect(url) as conn:
        while time.monotonic() < end:
            rows = conn.execute(
                "SELECT state, wait_event_type FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ).fetchall()
            samples += 1
            for state, wait in rows:
                key = "waiting on a lock" if wait == "Lock" else str(state)
                counts[key] = counts.get(key, 0) + 1
            time.sleep(0.2)
    return {k: v / max(1, samples) for k, v in counts.items()}


def classify(statement: str) -> str | None:
    s = " ".join(statement.split()).lower()
    if "lease_owner" in s and s.startswith("update sources"):
        return "source lease"
    if "lease_owner" in s and s.startswith("update destinations"):
        return "destination lease"
    if " outbox" in s:
        return "outbox"
    return None


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


async def one(n: int, args: argparse.Namespace) -> dict[str, object]:
    pg = Postgres.start(settings=SETTINGS)
    try:
        url = pg.new_database()
        with connect(url) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        plan = ClusterPlan(
            sources=args.sources, instances=n, interval=args.interval, source_lease=max(60.0, 3 * args.interval),
            kills=(), wires=0, workers=args.workers,
        )  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            async with cluster_up(plan, Path(tmp), url) as up:
                up.farm.publishing = True
                await asyncio.sleep(args.interval)
                procs = {f"instance {i}": psutil.Process(d.pid) for i, d in enumerate(up.daemons)}
                procs["postgres"] = postmaster(pg)
                loop = asyncio.get_running_loop()
                s0 = await loop.run_in_executor(None, sample, url, up.farm.polls(), procs)
                states = await loop.run_in_executor(None, backend_states, url, args.measure)
                s1 = await loop.run_in_executor(None, sample, url, up.farm.polls(), procs)
                # the latency window: every statement's duration in the server log
                with connect(url) as conn:
                    conn.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
                    conn.execute("SELECT pg_reload_conf()")
                assert pg.data_dir is not None
                log = pg.data_dir.parent / "log"
                start = log.stat().st_size
                await asyncio.sleep(args.latency)
                with connect(url) as conn:
                    conn.execute("ALTER SYSTEM RESET log_min_duration_statement")
                    conn.execute("SELECT pg_reload_conf()")
                with log.open("rb") as f:
                    f.seek(start)
                    text = f.read().decode(errors="replace")
                alerts = len(up.arrivals)
                with connect(url) as conn:
                    sizes = conn.execute(
                        "SELECT relname, n_live_tup, pg_total_relation_size(relid) FROM pg_stat_user_tables "
                        "ORDER BY pg_total_relation_size(relid) DESC"
                    ).fetchall()
    finally:
        pg.stop()
    durations: dict[str, list[float]] = {}
    for ms, statement in _DURATION.findall(text):
        kind = classify(statement)
        if kind is not None:
            durations.setdefault(kind, []).append(float(ms))
    elapsed = s1.at - s0.at
    polls = max(1, s1.polls - s0.polls)
    calls = {q: s1.calls.get(q, 0) - s0.calls.get(q, 0) for q in s1.calls}
    return {
        "n": n,
        "polls/s": polls / elapsed,
        "offered": args.sources / args.interval,
        "cpu": {k: 100 * (s1.cpu[k] - s0.cpu[k]) / elapsed for k in s1.cpu},
        "xacts/poll": (s1.xacts - s0.xacts) / polls,
        "statements/poll": sum(calls.values()) / polls,
        "written/poll": (s1.written - s0.written) / polls,
        "read/poll": (s1.read - s0.read) / polls,
        "wal/poll": (s1.wal - s0.wal) / polls,
        "top": sorted(calls.items(), key=lambda kv: -kv[1])[:12],
        "polls": polls,
        "latency": {k: (percentile(v, 0.5), percentile(v, 0.99), max(v), len(v)) for k, v in durations.items()},
        "sizes": sizes,
        "written_by_table": {k: (v - s0.tables.get(k, 0)) / polls for k, v in s1.tables.items()},
        "scanned_by_table": {k: (v - s0.scanned.get(k, 0)) / polls for k, v in s1.scanned.items()},
        "alerts": alerts,
        "total_polls": s1.polls,
        "seconds": elapsed,
        "states": states,
        "load": psutil.getloadavg()[0],
    }


def report(r: dict[str, object]) -> None:
    cpu = r["cpu"]
    assert isinstance(cpu, dict)
    instances = [v for k, v in cpu.items() if k.startswith("instance")]
    print(
        f"\n== {r['n']} instance(s): {r['polls/s']:.1f} polls/s of {r['offered']:.1f} offered; "
        f"CPU per instance {', '.join(f'{v:.0f} %' for v in instances)}; PostgreSQL {cpu['postgres']:.0f} %"
    )
    states = r["states"]
    assert isinstance(states, dict)
    print(
        f"   machine load average {r['load']:.1f}; the instances' connections on average: "
        + ", ".join(f"{v:.2f} {k}" for k, v in sorted(states.items(), key=lambda kv: -kv[1]))
    )
    print(
        f"   per poll: {r['xacts/poll']:.2f} transactions, {r['statements/poll']:.2f} statements, "
        f"{r['written/poll']:.2f} rows written, {r['read/poll']:.1f} rows read, {r['wal/poll']:.0f} WAL bytes"
    )
    top = r["top"]
    assert isinstance(top, list)
    polls = r["polls"]
    assert isinstance(polls, int)
    for query, calls in top:
        print(f"   {calls / polls:6.2f}/poll  {' '.join(query.split())[:110]}")
    latency = r["latency"]
    assert isinstance(latency, dict)
    for kind, (p50, p99, top_ms, count) in sorted(latency.items()):
        print(f"   {kind:<18} p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  max {top_ms:7.3f} ms  (n={count}, server side)")


def sizes_report(r: dict[str, object]) -> None:
    sizes = r["sizes"]
    written = r["written_by_table"]
    scanned = r["scanned_by_table"]
    assert isinstance(sizes, list) and isinstance(written, dict) and isinstance(scanned, dict)
    print(
        f"\n== tables after {r['total_polls']} polls ({r['n']} instance(s)), {r['alerts']} alerts delivered; "
        "row writes and rows read by sequential scans per poll in the measured window"
    )
    print(f"   {'table':<22} {'rows':>8} {'bytes':>10} {'bytes/row':>9} {'writes/poll':>11} {'seq read/poll':>13}")
    for name, rows, size in sizes:
        per_row = size / rows if rows else 0
        print(
            f"   {name:<22} {rows:>8} {size:>10} {per_row:>9.0f} {written.get(name, 0):>11.3f} "
            f"{scanned.get(name, 0):>13.1f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", default="1,2,3")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=20.0)
    parser.add_argument("--measure", type=float, default=45.0)
    parser.add_argument("--latency", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    print(
        f"sources={args.sources} interval={args.interval:g}s measure={args.measure:g}s "
        f"latency window={args.latency:g}s workers={args.workers} cores={psutil.cpu_count()} "
        f"load average at start {psutil.getloadavg()[0]:.1f}"
    )
    results = []
    for n in (int(x) for x in args.instances.split(",")):
        r = await one(n, args)
        report(r)
        results.append(r)
    sizes_report(results[-1])


if __name__ == "__main__":
    asyncio.run(main())
