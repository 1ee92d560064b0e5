"""Compare fastfeedparser and feedparser on the shared feed corpus: speed and agreement.

Usage: /work/venv/bin/python benchmarks/feedparse.py [--repeat N] [--verbose]

Both parsers run behind the same prolog guard and the same text normalisation
(:func:`monitor.sources.feedparse.parse_with`), so differences are the parsers' own.
feedparser is the reference. An item agrees when, at the same position, its link and its
title (after whitespace normalisation) are equal and both dates are within a second (or
both missing). Timings are wall-clock on a shared 2-core machine: expect noise.
Also prints the end-to-end parse_feed time and the per-task overhead of WorkerPool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.errors import ParseError  # noqa: E402
from monitor.sources.feedparse import ParsedFeed, parse_feed, parse_with  # noqa: E402
from monitor.workers import WorkerPool  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "feeds"
PARSERS = ("feedparser", "fastfeedparser")
URL = "http://example.com/feed"


def _norm(text: str) -> str:
    return " ".join(text.split())


def _time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            result = fn()
        except Exception as exc:  # a failing parser is a data point here
            result = exc
        best = min(best, time.perf_counter() - start)
    return best * 1000, result


def _compare(
    name: str, ref: object, fast: object, problems: Counter[str], listing: list[str]
) -> tuple[int, int]:
    """Return (items agreeing, reference items)."""
    if not isinstance(ref, ParsedFeed):
        if isinstance(fast, ParsedFeed) and fast.entries:
            listing.append(f"{name}: feedparser failed ({ref}), fastfeedparser found {len(fast.entries)}")
            problems["only fastfeedparser parses"] += 1
        return 0, 0
    total = len(ref.entries)
    if not isinstance(fast, ParsedFeed):
        problems["fastfeedparser raised"] += total or 1
        listing.append(f"{name}: fastfeedparser raised {type(fast).__name__}: {str(fast)[:90]}")
        return 0, total
    if len(fast.entries) != total:
        kind = "fastfeedparser found no items" if not fast.entries else "item count differs"
        problems[kind] += max(total - len(fast.entries), 1)
        listing.append(f"{name}: {kind} ({len(fast.entries)} vs {total})")
    agree = 0
    for a, b in zip(ref.entries, fast.entries, strict=False):
        issues = []
        if a.link != b.link:
            issues.append(("link differs", f"{a.link!r} vs {b.link!r}"))
        if _norm(a.title) != _norm(b.title):
            issues.append(("title differs", f"{a.title[:50]!r} vs {b.title[:50]!r}"))
        if (a.published is None) != (b.published is None):
            issues.append(("date missing on one side", f"{a.published} vs {b.published}"))
        elif a.published and b.published and abs((a.published - b.published).total_seconds()) > 1:
            issues.append(("date differs", f"{a.published} vs {b.published}"))
        if issues:
            for kind, detail in issues:
                problems[kind] += 1
                listing.append(f"{name}: {kind}: {detail}")
        else:
            agree += 1
    return agree, total


def _stats(label: str, times: list[float], items: int) -> str:
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 20 else max(times)
    return f"{label:<22} {sum(times):9.1f} {statistics.mean(times):8.2f} {p95:8.2f} {items:7d}"


async def _pool_overhead(body: bytes, rounds: int) -> tuple[float, float, float]:
    direct = []
    for _ in range(rounds):
        start = time.perf_counter()
        parse_feed(body, url="http://example.com/")
        direct.append(time.perf_counter() - start)
    pool = WorkerPool(processes=1)
    try:
        await pool.run(partial(parse_feed, url="http://example.com/"), body)  # start the worker
        pooled = []
        for _ in range(rounds):
            start = time.perf_counter()
            await pool.run(partial(parse_feed, url="http://example.com/"), body)
            pooled.append(time.perf_counter() - start)
    finally:
        await pool.close()
    med_direct, med_pool = statistics.median(direct) * 1000, statistics.median(pooled) * 1000
    return med_direct, med_pool, med_pool - med_direct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per feed and parser (best is kept)")
    parser.add_argument("--verbose", action="store_true", help="list every disagreement")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"corpus not found at {CORPUS}")
    rows = [json.loads(line) for line in (CORPUS / "index.jsonl").open(encoding="utf-8")]
    rows = [r for r in rows if not r["file"].endswith(".json")]
    times: dict[str, list[float]] = {p: [] for p in (*PARSERS, "parse_feed (chosen)")}
    items: Counter[str] = Counter()
    problems: Counter[str] = Counter()
    listing: list[str] = []
    agree_total = ref_total = 0
    chosen_agree = 0
    chosen_problems: Counter[str] = Counter()
    chosen_listing: list[str] = []
    chosen: Counter[str] = Counter()
    for row in rows:
        body = (CORPUS / row["file"]).read_bytes()
        results = {}
        for name in PARSERS:
            ms, result = _time(partial(parse_with, name, body, url=URL), args.repeat)
            times[name].append(ms)
            results[name] = result
            if isinstance(result, ParsedFeed):
                items[name] += len(result.entries)
        ms, result = _time(partial(parse_feed, body, url=URL), args.repeat)
        times["parse_feed (chosen)"].append(ms)
        chosen[result.parser if isinstance(result, ParsedFeed) else type(result).__name__] += 1
        if isinstance(result, ParsedFeed):
            items["parse_feed (chosen)"] += len(result.entries)
        reference = results["feedparser"]
        agree, total = _compare(row["file"], reference, results["fastfeedparser"], problems, listing)
        agree_total += agree
        ref_total += total
        agree, _ = _compare(row["file"], results["feedparser"], result, chosen_problems, chosen_listing)
        chosen_agree += agree
    print(f"{len(rows)} XML feeds from {CORPUS} (best of {args.repeat} runs each)\n")
    print(f"{'parser':<22} {'total ms':>9} {'mean ms':>8} {'p95 ms':>8} {'items':>7}")
    for name, values in times.items():
        print(_stats(name, values, items[name]))
    print(f"\nparse_feed chose: {dict(chosen)}")
    pct = 100 * agree_total / ref_total if ref_total else 0.0
    print(f"\nfastfeedparser alone agrees with feedparser on {agree_total}/{ref_total} items = {pct:.1f} %")
    for kind, count in problems.most_common():
        print(f"  {count:5d}  {kind}")
    pct = 100 * chosen_agree / ref_total if ref_total else 0.0
    print(f"parse_feed (fast path + fallback) agrees on {chosen_agree}/{ref_total} items = {pct:.1f} %")
    for kind, count in chosen_problems.most_common():
        print(f"  {count:5d}  {kind}")
    for title, lines in (("fastfeedparser alone", listing), ("parse_feed", chosen_listing)):
        shown = lines if args.verbose else lines[:25]
        more = "" if args.verbose or len(lines) <= 25 else f" (first 25 of {len(lines)}; --verbose for all)"
        print(f"\ndisagreements, {title}{more}:")
        for line in shown:
            print("  " + line)
    try:
        sample = min((CORPUS / r["file"] for r in rows), key=lambda p: abs(p.stat().st_size - 50_000))
        body = sample.read_bytes()
        direct, pooled, overhead = asyncio.run(_pool_overhead(body, 50))
        print(
            f"\nWorkerPool overhead on {sample.name} ({len(body) // 1024} KiB, median of 50): "
            f"in-process {direct:.2f} ms, via pool {pooled:.2f} ms, overhead {overhead:.2f} ms"
        )
    except ParseError as exc:
        print(f"\nWorkerPool overhead: sample failed to parse: {exc}")


if __name__ == "__main__":
    main()
