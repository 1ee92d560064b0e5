"""Article-extraction quality and speed on the scrapinghub article-extraction benchmark.

Usage::

    /work/venv/bin/python benchmarks/extract.py                 # the default mode + every alternative
    /work/venv/bin/python benchmarks/extract.py --mode fast     # one mode (repeatable)
    /work/venv/bin/python benchmarks/extract.py --worst 15      # list the 15 worst pages of each mode

Scoring follows the benchmark's published method (its README / evaluate.py): tokens are
``\\w+`` runs, each page's text becomes a multiset of 4-token shingles, TP/FP/FN are counted
over shingles and normalised per page (so long pages do not dominate); precision is the
mean over pages with any prediction, recall the mean over pages with any truth, and F1 the
harmonic mean of those two means. A token-level (bag of words) F1 is printed as well;
it is higher, as the corpus README warns.

Speed is single-process wall time of ``extract_article`` alone (bytes in, Article out,
decoding included, gzip excluded), so it is pages per second on one core. The machine is
shared, so expect ±15 % noise between runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from monitor.extract.article import DEFAULT_MODE, MODES, extract_article

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "articles"
_TOKEN = re.compile(r"\w+")

Counts = tuple[float, float, float]


def pages(set_name: str) -> Iterator[tuple[dict[str, str], bytes]]:
    with (CORPUS / "index.jsonl").open(encoding="utf-8") as index:
        for line in index:
            row = json.loads(line)
            if row["set"] == set_name:
                with gzip.open(CORPUS / row["file"]) as page:
                    yield row, page.read()


def _grams(text: str, n: int) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if n == 1:
        return Counter((t,) for t in tokens)
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def match(truth: str, pred: str, n: int = 4) -> Counts:
    """Per-page TP/FP/FN over n-token shingles, normalised to sum to 1."""
    t, p = _grams(truth, n), _grams(pred, n)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def score(counts: list[Counts]) -> tuple[float, float, float]:
    """(precision, recall, F1) the way the benchmark aggregates per-page counts."""

    def prec(tp: float, fp: float, fn: float) -> float:
        if fp == fn == 0:
            return 1.0
        return 0.0 if tp == fp == 0 else tp / (tp + fp)

    def rec(tp: float, fp: float, fn: float) -> float:
        if fp == fn == 0:
            return 1.0
        return 0.0 if tp == fn == 0 else tp / (tp + fn)

    p = statistics.mean(prec(*c) for c in counts if c[0] + c[1] > 0)
    r = statistics.mean(rec(*c) for c in counts if c[0] + c[2] > 0)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run_mode(mode: str, corpus: list[tuple[dict[str, str], bytes]], worst: int) -> None:
    shingle: list[Counts] = []
    tokens: list[Counts] = []
    failed: list[str] = []
    per_page: list[tuple[float, str, str]] = []
    elapsed = 0.0
    for row, body in corpus:
        start = time.perf_counter()
        article = extract_article(body, url=row.get("url") or None, mode=mode)
        elapsed += time.perf_counter() - start
        text = article.text if article else ""
        if article is None:
            failed.append(row["id"])
        counts = match(row["ground_truth"], text)
        shingle.append(counts)
        tokens.append(match(row["ground_truth"], text, n=1))
        tp, fp, fn = counts
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        per_page.append((f1, row.get("domain") or "?", row["id"][:12]))
    p, r, f = score(shingle)
    tp_, tr_, tf_ = score(tokens)
    n = len(corpus)
    print(
        f"{mode:<15} shingle P={p:.3f} R={r:.3f} F1={f:.3f} | token F1={tf_:.3f} (P={tp_:.3f} R={tr_:.3f}) | "
        f"{n / elapsed:6.1f} pages/s ({1000 * elapsed / n:5.1f} ms/page) | no text: {len(failed)}"
    )
    if worst:
        for f1, domain, pid in sorted(per_page)[:worst]:
            print(f"    F1={f1:.3f}  {domain:<32} {pid}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", action="append", choices=sorted(MODES), help="mode(s) (default: all)")
    parser.add_argument("--set", default="scrapinghub-aeb", help="articles/index.jsonl set")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages")
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages per mode")
    args = parser.parse_args(argv)
    if not CORPUS.exists():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    corpus = list(pages(args.set))
    if args.limit:
        corpus = corpus[: args.limit]
    kb = statistics.mean(len(b) for _, b in corpus) / 1024
    print(f"{len(corpus)} pages from set {args.set!r}, mean {kb:.0f} KB; default mode is {DEFAULT_MODE!r}")
    modes = args.mode or [DEFAULT_MODE, *(m for m in MODES if m != DEFAULT_MODE)]
    extract_article(corpus[0][1])  # warm imports and lazy tables so the first mode is not penalised
    for mode in modes:
        run_mode(mode, corpus, args.worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
