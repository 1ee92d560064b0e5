"""Measure what it costs to settle syndication clusters in the database instead of in memory.

Usage::

    /work/main/.venv/bin/python benchmarks/shared_clusters.py [--articles 150] [--background 20000] [--per-poll 1]

Every mode records the same stories the way the daemon does, one poll of ``--per-poll`` new
stories at a time (``Store.record_poll``, no outbox rows), and prints the time per recorded
story, split into the CPU part (on the daemon's CPU thread) and the recording transaction:

* ``memory``: the in-memory :class:`~monitor.identity.clusters.ClusterIndex` decides each
  story's cluster before the transaction (what an instance alone on its database does; on
  SQLite always);
* ``database``: the CPU part computes each story's signature and band keys
  (``monitor.daemon.syndication.sign_stories``); the transaction locks the band keys, looks
  up the copies sharing them, settles the clusters and writes the band rows (what instances
  sharing a PostgreSQL database do).

each on SQLite (a file in a temporary directory) and on PostgreSQL (``NEWSMONITOR_TEST_POSTGRES``,
else a throwaway server started from Debian's packages as the test suite does: fsync and
synchronous_commit off, so commits cost less than on a real server).

Stories: ``--articles`` human-annotated articles of ../shared/corpus/articles (at least 100
words), each with two syndicated copies (benchmarks/dedup.py's ``template`` and ``all``
edits), shuffled; before them, untimed, ``--background`` stories of 200 to 900 words drawn
from the corpus's words (as often as they occur there) fill the index, as a window of recent
stories does: their chance band collisions are the candidates every lookup must check. The clusters found are checked
against the truth (an article split from one of its copies, or a cluster of two articles:
the threshold's own errors, the same in every mode) and between the modes: every mode must
make the same clusters.

One process on a shared 2-core machine: expect noise of +-20 %; the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import dedup as wire  # noqa: E402
from sqlalchemy import text  # noqa: E402

from monitor.daemon.alerts import assign_clusters  # noqa: E402
from monitor.daemon.syndication import shared_clusters, sign_stories  # noqa: E402
from monitor.identity.clusters import ClusterIndex, words  # noqa: E402
from monitor.models import Story  # noqa: E402
from monitor.store import repo  # noqa: E402
from monitor.store.db import Database  # noqa: E402
from monitor.store.facade import Store  # noqa: E402

INDEX = ROOT.parent / "shared" / "corpus" / "articles" / "index.jsonl"
WINDOW = 48 * 3600.0


def corpus(articles: int, background: int, seed: int) -> tuple[list[Story], list[Story], dict[str, int]]:
    """(background stories, timed stories, timed story key -> article number)."""
    rng = random.Random(seed)
    rows = [json.loads(line) for line in INDEX.open(encoding="utf-8")]
    texts = [r["ground_truth"] for r in rows if len(words(r["ground_truth"])) >= 100]
    tokens = [w for t in texts for w in t.split()]
    back = [
        Story(source="back", url=f"http://back.test/{i}", title=f"background {i}",
              text=" ".join(rng.choices(tokens, k=rng.randint(200, 900))), keys=(f"url:back/{i}",))
        for i in range(background)
    ]
    chosen = rng.sample(texts, min(articles, len(texts)))
    timed: list[Story] = []
    truth: dict[str, int] = {}
    for n, article in enumerate(chosen):
        edits = wire.variants(article, rng)
        for copy, variant in enumerate(("orig", "template", "all")):
            key = f"url:wire/{n}/{copy}"
            truth[key] = n
            timed.append(Story(source=f"outlet-{copy}", url=f"http://{copy}.test/{n}", title=f"copy {copy} of {n}",
                               text=edits[variant], keys=(key,)))
    rng.shuffle(timed)
    return back, timed, truth


class Recorder:
    """Records stories one poll at a time through a Store, in one mode."""

    def __init__(self, store: Store, shared: bool) -> None:
        self.store = store
        self.shared = shared
        self.index = ClusterIndex(window_seconds=WINDOW)
        self.state = repo.SourceState(name="bench", kind="feed", url_hash="h")
        self.now = 1_000_000.0

    async def poll(self, stories: Sequence[Story]) -> tuple[float, float]:
        """Record ``stories`` as one poll; (CPU seconds, transaction seconds)."""
        self.now += 1.0
        started = time.perf_counter()
        if self.shared:
            dedup, bands = sign_stories(stories, True)
        else:
            dedup, bands = assign_clusters(self.index, list(stories), self.now, True), None
        cpu = time.perf_counter() - started
        new = [
            repo.NewStory(source=s.source, title=s.title, url=s.url, published=None, keys=list(s.keys),
                          cluster=c, signature=sig, title_key=t, text=s.text)
            for s, (c, sig, t) in zip(stories, dedup, strict=True)
        ]
        clusters = shared_clusters(stories, dedup, bands, [], now=self.now, window=WINDOW) if bands is not None else None
        started = time.perf_counter()
        await self.store.record_poll(self.state, new, listed=set(), extra_keys={}, rows=[], now=self.now,
                                     clusters=clusters)
        return cpu, time.perf_counter() - started


async def run_mode(url: str, shared: bool, back: list[Story], timed: list[Story], per_poll: int,
                   truth: dict[str, int]) -> tuple[dict[str, float], frozenset[frozenset[str]]]:
    store = Store(Database(url))
    await store.migrate()
    recorder = Recorder(store, shared)
    try:
        for i in range(0, len(back), 50):
            await recorder.poll(back[i : i + 50])
        cpu: list[float] = []
        db: list[float] = []
        for i in range(0, len(timed), per_poll):
            c, d = await recorder.poll(timed[i : i + per_poll])
            cpu.append(c)
            db.append(d)
        found: dict[int, set[str]] = {}
        groups: dict[str, set[str]] = {}
        for story in timed:
            found.setdefault(truth[story.key], set()).add(story.cluster)
            groups.setdefault(story.cluster, set()).add(story.key)
        wrong = sum(1 for clusters in found.values() if len(clusters) != 1)
        size = 0.0
        if shared and url.startswith("postgresql"):
            with store.database.read() as conn:
                size = float(conn.execute(text("SELECT pg_total_relation_size('lsh_bands')")).scalar() or 0)
        merged = sum(1 for keys in groups.values() if len({truth[k] for k in keys}) > 1)
    finally:
        store.close()
    n = len(timed)
    return {
        "cpu_ms": 1000 * sum(cpu) / n,
        "tx_ms": 1000 * sum(db) / n,
        "tx_p50_ms": 1000 * statistics.median(db) / per_poll,
        "total_ms": 1000 * (sum(cpu) + sum(db)) / n,
        "split": wrong,
        "merged": merged,
        "band_bytes_per_story": size / (len(back) + len(timed)),
    }, frozenset(frozenset(g) for g in groups.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--background", type=int, default=20000)
    parser.add_argument("--per-poll", type=int, default=1)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    back, timed, truth = corpus(args.articles, args.background, args.seed)
    sys.path.insert(0, str(ROOT / "tests" / "support"))
    import postgres  # tests/support/postgres.py: standard library only

    server = postgres.server()
    print(f"load average {os.getloadavg()[0]:.1f}; {len(timed)} timed stories ({args.articles} articles, 3 copies "
          f"each), {len(back)} in the index before, {args.per_poll} a poll")
    print(f"{'store':<11} {'index':<9} {'cpu ms':>7} {'tx ms':>7} {'tx p50':>7} {'total ms':>9}  clusters")
    first: frozenset[frozenset[str]] | None = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for engine in ("sqlite", "postgresql"):
                for shared in (False, True):
                    url = f"sqlite:///{tmp}/{engine}-{shared}.db" if engine == "sqlite" else server.new_database()
                    for s in [*back, *timed]:
                        s.cluster = ""
                    r, partition = asyncio.run(run_mode(url, shared, back, timed, args.per_poll, truth))
                    if engine == "postgresql":
                        server.drop_database(url)
                    first = first or partition
                    verdict = (
                        f"{len(partition)} ({r['split']} articles split from a copy, {r['merged']} clusters of "
                        f"two articles; {'the same as' if partition == first else 'DIFFERENT from'} the first row)"
                    )
                    print(f"{engine:<11} {'database' if shared else 'memory':<9} {r['cpu_ms']:>7.2f} {r['tx_ms']:>7.2f} "
                          f"{r['tx_p50_ms']:>7.2f} {r['total_ms']:>9.2f}  {verdict}")
                    if r["band_bytes_per_story"]:
                        print(f"{'':<21} lsh_bands with its indexes: {r['band_bytes_per_story']:.0f} bytes a story")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
