"""Section-page link discovery: precision/recall of the default heuristic, and parse cost.

Usage::

    /work/venv/bin/python benchmarks/links.py            # labelled pages: P/R + misses; all pages: timings
    /work/venv/bin/python benchmarks/links.py --quiet    # numbers only

Ground truth is tests/data/links/<page>.json (hand labels of every unique same-site link
on a real section page in ../shared/corpus/sections/). Precision = accepted links that are
labelled articles / accepted; recall = labelled articles accepted / labelled articles.
Links are compared scheme- and trailing-slash-insensitively, as discover_links dedupes.

The corpus has no page of the outlets whose URL shapes differ most (BBC's opaque ids, DW's
a-<number>, ARD's numbered pages, FT's UUIDs, the Times of India's .cms), so their URLs are
scored on their own too: tests/data/links/shapes/outlets.json labels real article URLs and
the same outlets' topic, section, list and feed URLs (the same-site check does not apply).

Timings are the mean of 5 runs, single process, on a shared 2-core machine (±20 % noise):
``lxml`` = lxml.html parse + iterate <a>; ``bs4 full`` / ``bs4 strainer`` = BeautifulSoup
with the lxml parser (whole tree / SoupStrainer for <a> and <base>); ``discover`` = the whole
discover_links call (heuristic path); ``discover css`` = with selector "a[href]" (bs4 path).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lxml.html
from bs4 import BeautifulSoup, SoupStrainer

from monitor.extract.links import discover_links
from monitor.extract.shape import rejection_reason

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ROOT.parent / "shared" / "corpus" / "sections"
LABELS = ROOT / "tests" / "data" / "links"
SHAPES = LABELS / "shapes" / "outlets.json"


def key(url: str) -> str:
    return url.split("://", 1)[-1].rstrip("/")


def timed(fn: Callable[[], object], runs: int = 5) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    return 1000 * (time.perf_counter() - start) / runs


def quality(quiet: bool) -> None:
    total_tp = total_acc = total_art = 0
    for label_file in sorted(LABELS.glob("*.json")):
        label = json.loads(label_file.read_text(encoding="utf-8"))
        body = (SECTIONS / label["page"]).read_bytes()
        report = discover_links(body, label["base_url"])
        truth = {key(u) for u in label["articles"]}
        accepted = {key(link.url) for link in report.accepted}
        tp = len(accepted & truth)
        p = tp / len(accepted) if accepted else 0.0
        r = tp / len(truth) if truth else 0.0
        total_tp, total_acc, total_art = total_tp + tp, total_acc + len(accepted), total_art + len(truth)
        print(
            f"{label['page']:<26} articles={len(truth):4d} accepted={len(accepted):4d} "
            f"precision={p:.3f} recall={r:.3f}"
        )
        if not quiet:
            for u in sorted(accepted - truth):
                print(f"    false positive: {u}")
            reasons = {key(u): why for u, why in reversed(report.rejected)}
            for u in sorted(truth - accepted):
                print(f"    missed ({reasons.get(u, '?')}): {u}")
    print(
        f"{'all labelled (micro)':<26} articles={total_art:4d} accepted={total_acc:4d} "
        f"precision={total_tp / total_acc:.3f} recall={total_tp / total_art:.3f}"
    )


def shapes(quiet: bool) -> None:
    """Precision and recall of the URL-shape rules on the labelled outlet URLs, by shape."""
    cases = json.loads(SHAPES.read_text(encoding="utf-8"))["cases"]
    tp = accepted = articles = 0
    for case in cases:
        ok = rejection_reason(case["url"]) is None
        is_article = case["expected"] is None
        tp += ok and is_article
        accepted += ok
        articles += is_article
        if not quiet and ok != is_article:
            label = "false positive" if ok else f"missed ({rejection_reason(case['url'])})"
            print(f"    {label}: [{case['shape']}] {case['url']}")
    p = tp / accepted if accepted else 0.0
    r = tp / articles if articles else 0.0
    print(f"{'outlet URL shapes':<26} articles={articles:4d} accepted={accepted:4d} precision={p:.3f} recall={r:.3f}")


def speed() -> None:
    print("\nms per page (mean of 5):")
    index = [json.loads(line) for line in (SECTIONS / "index.jsonl").open(encoding="utf-8")]
    for row in index:
        body = (SECTIONS / row["file"]).read_bytes()
        text = body.decode("utf-8", "replace")
        base = row["base_url"]
        strainer = SoupStrainer(["a", "base"])
        t_lxml = timed(lambda t=text: sum(1 for _ in lxml.html.document_fromstring(t).iter("a")))
        t_full = timed(lambda t=text: BeautifulSoup(t, "lxml").find_all("a"))
        t_strain = timed(lambda t=text, s=strainer: BeautifulSoup(t, "lxml", parse_only=s).find_all("a"))
        t_disc = timed(lambda b=body, u=base: discover_links(b, u))
        t_css = timed(lambda b=body, u=base: discover_links(b, u, selector="a[href]"))
        n = len(discover_links(body, base).accepted)
        print(
            f"  {row['file']:<26} {len(body) // 1024:5d} KB  lxml={t_lxml:6.1f}  bs4 full={t_full:6.1f}  "
            f"bs4 strainer={t_strain:6.1f}  discover={t_disc:6.1f}  css={t_css:6.1f}  accepted={n}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quiet", action="store_true", help="numbers only, no list of misses")
    args = parser.parse_args(argv)
    if not SECTIONS.exists():
        print(f"corpus not found at {SECTIONS}", file=sys.stderr)
        return 2
    quality(args.quiet)
    shapes(args.quiet)
    speed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
