"""Measure the stored history: recording, size, backtest speed, the rule report and pruning.

Builds a SQLite history of ``--stories`` stories (default 100 000) the way the daemon
records them (``Store.record_poll``, 50 stories a poll, 20 sources, spread over 30 days),
then measures:

* recording: stories/s through ``record_poll`` (compression included) and the compression alone;
* size: the database file per 100 000 stories, the compressed texts in it, and the raw texts;
  and the same for the corpus's own articles as written (their texts compress better than
  the mixed sentences above);
* reading: the history read back page by page (texts decompressed), no matching;
* backtest: each query of config.example.yaml over every stored story, each in a fresh
  process, as ``newsmonitor backtest`` runs (cold caches: the matcher meets every word of
  the history for the first time), in stories per second of wall-clock time and per CPU
  second (on a machine shared with other work the two differ: the load average is printed);
  and one query limited to one source of twenty;
* the rule report over the last 7 days;
* pruning a third of the stories: the longest batch (one transaction) and the total.

Texts are built from the sentences of the human-annotated articles of
../shared/corpus/articles/index.jsonl (10 to 60 sentences, ~4 KB a story, as a news article
is). That corpus has 7 000 sentences and few distinct words, far fewer than 100 000 real
stories have, so ``--unique`` (default 0.01) replaces that fraction of the words with
made-up words no other story has (names, numbers and typos play this part in real news): each
costs the matcher a first analysis, as real new words do. A few stories get a sentence that
some query matches.

    /work/main/.venv/bin/python benchmarks/history.py [--stories 100000] [--unique 0.01] [--seed 1]

One process on a shared 2-core machine: expect noise of ±20 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from monitor.daemon.history import backtest, rules_report, run_dedicated
from monitor.store import history, repo
from monitor.store.db import Database
from monitor.store.facade import Store

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "articles" / "index.jsonl"
#: the example configuration's rules: what a typical rule looks like
QUERIES = [
    'Japan AND (defence OR defense)',
    '"rare earths" OR "rare earth"',
    "semiconductor* NEAR/10 (export* OR sanction*)",
    "Kenya AND election*",
]
#: sentences that make a story match one of ``QUERIES`` (one story in a hundred gets one)
PLANTED = [
    ("japan", "Japan raised its defence budget for the third year in a row, officials said."),
    ("earths", "Prices of rare earths rose sharply after the new export quotas."),
    ("chips", "New semiconductor rules tighten exports of advanced chips and add sanctions."),
    ("kenya", "Kenya prepares for the elections as the commission publishes the register."),
]
SOURCES = [f"src{n:02d}" for n in range(20)]
PER_POLL = 50
DAYS = 30
SYLLABLES = ["ka", "to", "ren", "vi", "mar", "sol", "den", "qu", "ix", "bel", "zor", "ani", "pet", "lu"]


def sentences() -> list[str]:
    if not CORPUS.exists():
        sys.exit(f"the corpus is not at {CORPUS}")
    out: list[str] = []
    for line in CORPUS.open(encoding="utf-8"):
        text = json.loads(line).get("ground_truth") or ""
        out.extend(s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 20)
    return out


def made_up(rng: random.Random, n: int) -> str:
    word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) + str(n % 97)
    return word.capitalize() if rng.random() < 0.5 else word


def story_text(rng: random.Random, corpus: list[str], unique: float, serial: int) -> tuple[str, str | None]:
    picked = [rng.choice(corpus) for _ in range(rng.randint(10, 60))]
    planted = None
    if rng.random() < 0.01:
        planted, sentence = rng.choice(PLANTED)
        picked.insert(rng.randrange(len(picked)), sentence)
    words = " ".join(picked).split(" ")
    if unique:
        for i in range(len(words)):
            if rng.random() < unique:
                words[i] = made_up(rng, serial + i)
    return " ".join(words), planted


async def build(store: Store, count: int, unique: float, seed: int, start: float) -> dict[str, float]:
    rng = random.Random(seed)
    corpus = sentences()
    step = DAYS * 86400 / (count / PER_POLL)
    raw = 0
    compress_s = 0.0
    record_s = 0.0
    for poll in range(count // PER_POLL):
        now = start + poll * step
        source = SOURCES[poll % len(SOURCES)]
        batch: list[repo.NewStory] = []
        matches: list[tuple[int, str]] = []
        for i in range(PER_POLL):
            serial = poll * PER_POLL + i
            text, planted = story_text(rng, corpus, unique, serial)
            raw += len(text.encode())
            if planted:
                matches.append((i, planted))
            batch.append(repo.NewStory(source=source, title=rng.choice(corpus)[:90], url=f"https://{source}.example/{serial}",
                                       published=now - rng.randint(0, 3600), keys=[f"url://{source}/{serial}"],
                                       lang="en", text=text))
        started = time.perf_counter()
        for st in batch:
            history.encode_text(st.text)
        compress_s += time.perf_counter() - started
        started = time.perf_counter()
        await store.record_poll(repo.SourceState(name=source), batch, listed=(), extra_keys={}, rows=[], now=now,
                                matches=matches)
        record_s += time.perf_counter() - started
    return {"raw": raw, "compress_s": compress_s, "record_s": record_s}


def articles() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    return [(r["title"] or "", r["ground_truth"]) for r in rows if r.get("ground_truth")]


def real_text_size(tmp: Path, count: int) -> tuple[float, float]:
    """Bytes a story of the corpus's own articles (each whole, as written) takes in a history
    of ``count`` of them (the database file, all tables), and of those its compressed text."""
    path = tmp / "real.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    store = Store(database)
    texts = articles()

    async def fill() -> None:
        for poll in range(count // PER_POLL):
            batch = []
            for i in range(PER_POLL):
                n = poll * PER_POLL + i
                title, text = texts[n % len(texts)]
                batch.append(repo.NewStory(source="wire", title=title, url=f"https://wire.example/{n}", published=None,
                                           keys=[f"url://wire/{n}"], lang="en", text=text))
            await store.record_poll(repo.SourceState(name="wire"), batch, listed=(), extra_keys={}, rows=[],
                                    now=float(poll))

    asyncio.run(fill())
    with database.read() as conn:
        compressed = int(conn.exec_driver_sql("SELECT SUM(LENGTH(text)) FROM story_texts").scalar() or 0)
    size = database.size_bytes() or 0
    store.close()
    return size / count, compressed / count


def table_sizes(path: Path) -> dict[str, int]:
    con = sqlite3.connect(path)
    try:
        rows = con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    except sqlite3.OperationalError:  # SQLite built without the dbstat table
        rows = []
    finally:
        con.close()
    return {name: int(size) for name, size in rows}


def _backtest_in_a_fresh_process(
    url: str, query: str, since: float, until: float, sources: tuple[str, ...]
) -> tuple[float, float, int, int]:
    """Wall-clock and CPU seconds (this process's, its database thread's included) of a
    backtest of ``query`` run as ``newsmonitor backtest`` runs it (a fresh process, cold
    caches, ``run_dedicated``); how many stories were searched and matched."""
    store = Store(Database(url))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        result = asyncio.run(
            backtest(store, query, since=since, until=until, sources=sources, cpu=run_dedicated)
        )
        return time.perf_counter() - started, time.process_time() - cpu, result.searched, result.matched
    finally:
        store.close()


async def read_all(store: Store, since: float, until: float) -> tuple[float, int]:
    started = time.perf_counter()
    count = 0
    page = await store.story_history(since=since, until=until)
    while page:
        count += len(page)
        page = await store.story_history(since=page[-1].first_seen, after=page[-1].id, until=until)
    return time.perf_counter() - started, count


def prune_batches(database: Database, older_than: float) -> list[float]:
    took = []
    while True:
        started = time.perf_counter()
        with database.write() as conn:
            n = (repo.prune(conn, older_than=older_than) + repo.prune_outbox(conn, older_than=older_than)
                 + history.prune_history(conn, older_than=older_than))
        took.append(time.perf_counter() - started)
        if not n:
            return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--unique", type=float, default=0.01, help="fraction of words made up (new to the matcher)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=len(QUERIES), help="backtest the first N example queries")
    args = parser.parse_args()
    count = args.stories - args.stories % PER_POLL
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        url = f"sqlite:///{path}"
        database = Database(url)
        database.migrate()
        store = Store(database)
        start = time.time() - DAYS * 86400 - 3600
        until = start + DAYS * 86400 + 7200

        print(f"load average at the start: {' '.join(f'{n:.1f}' for n in os.getloadavg())} "
              f"({os.cpu_count()} CPUs)")
        built = asyncio.run(build(store, count, args.unique, args.seed, start))
        per = 100_000 / count
        print(f"stories: {count}, {built['raw'] / count / 1000:.1f} KB of text each, {args.unique:.0%} made-up words")
        print(f"recording: {count / built['record_s']:.0f} stories/s through record_poll "
              f"({PER_POLL} a poll, compression included); compression alone "
              f"{built['compress_s'] / count * 1e6:.0f} us a story")

        size = database.size_bytes() or 0
        with database.read() as conn:
            compressed = int(conn.exec_driver_sql("SELECT SUM(LENGTH(text)) FROM story_texts").scalar() or 0)
        print(f"size: {size * per / 2**20:.1f} MiB per 100 000 stories (file and log); texts "
              f"{built['raw'] * per / 2**20:.1f} MiB raw, {compressed * per / 2**20:.1f} MiB compressed "
              f"(ratio {built['raw'] / max(compressed, 1):.2f})")
        sizes = table_sizes(path)
        if sizes:
            top = sorted(sizes.items(), key=lambda kv: -kv[1])[:6]
            print("  by table/index: " + ", ".join(f"{name} {n * per / 2**20:.1f} MiB" for name, n in top))
        real = articles()
        raw_real = sum(len(text.encode()) for _, text in real) / len(real)
        # a page size of 8 KiB instead of 4 measured no smaller (284.8 MiB against 283.1)
        each, text_each = real_text_size(Path(tmp), min(count, 20_000))
        print(f"size with the corpus's own {len(real)} articles as written ({raw_real / 1000:.1f} KB each): "
              f"{each * 100_000 / 2**20:.1f} MiB per 100 000 stories, texts {text_each * 100_000 / 2**20:.1f} MiB "
              f"of it (ratio {raw_real / text_each:.2f})")

        took, read = asyncio.run(read_all(store, start, until))
        print(f"reading back: {read / took:.0f} stories/s (pages of 500, texts decompressed, no matching)")

        with spawn.Pool(1) as pool:
            for query in QUERIES[: args.queries]:
                wall, cpu, searched, matched = pool.apply(
                    _backtest_in_a_fresh_process, (url, query, start, until, ())
                )
                print(f"backtest {query!r}: {searched / wall:.0f} stories/s ({wall:.1f} s wall clock; "
                      f"{searched / cpu:.0f} stories per CPU second), {matched} of {searched} matched")
            wall, cpu, searched, _matched = pool.apply(
                _backtest_in_a_fresh_process, (url, QUERIES[0], start, until, (SOURCES[3],))
            )
            print(f"backtest --source {SOURCES[3]} {QUERIES[0]!r}: {wall:.1f} s wall clock ({cpu:.1f} s CPU) "
                  f"for the {searched} stories of one source in twenty")

        started = time.perf_counter()
        report = asyncio.run(rules_report(store, ["japan", "earths", "chips", "kenya", "dead"],
                                          since=until - 7 * 86400, until=until))
        print(f"rules report, last 7 days: {(time.perf_counter() - started) * 1000:.0f} ms "
              f"({sum(r.matches for r in report.rules)} matches)")

        store.close()
        database = Database(url)
        took_batches = prune_batches(database, start + DAYS * 86400 / 3)
        print(f"pruning a third ({len(took_batches) - 1} batches of up to 1000 stories): longest batch "
              f"{max(took_batches) * 1000:.0f} ms, median {statistics.median(took_batches) * 1000:.0f} ms, "
              f"total {sum(took_batches):.1f} s")
        database.close()
        print(f"load average at the end: {' '.join(f'{n:.1f}' for n in os.getloadavg())}")


if __name__ == "__main__":
    main()
