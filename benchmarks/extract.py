"""Article-extraction quality and speed on two public sets of pages with known text.

Usage (from the repository root, with ``PYTHONPATH=.``)::

    python benchmarks/extract.py                    # both sets: our pipeline vs plain trafilatura
    python benchmarks/extract.py --mode default     # also a bare mode of MODES (repeatable)
    python benchmarks/extract.py --set scrapinghub  # one set only
    python benchmarks/extract.py --worst 15         # the 15 worst pages of each row

The sets:

``scrapinghub``
    The 181 pages of scrapinghub/article-extraction-benchmark (MIT) with its human-annotated
    article bodies, from ``../shared/corpus/articles``. Scored as that benchmark does
    (its evaluate.py): tokens are ``\\w+`` runs, each text a multiset of 4-token shingles,
    TP/FP/FN normalised per page; precision is the mean over pages with any output, recall
    the mean over pages with any truth, F1 their harmonic mean.
``trafilatura-eval``
    The evaluation set of adbar/trafilatura (Apache-2.0; ``tests/evaldata.json`` and the
    pages in ``tests/eval`` and ``tests/cache``): ~990 pages, many languages, news sites,
    blogs, magazines, official pages. Each page has 1–6 hand-picked segments that belong to
    the main text ("with") and 1–6 that are boilerplate ("without"). Scored as trafilatura's
    own ``tests/eval_common.py`` does (whitespace-normalised substring tests, counts summed
    over the set): recall = found "with" / all "with", precision = found "with" / (found
    "with" + found "without"). Read at run time from a trafilatura git mirror or checkout
    (``--trafilatura PATH``: a bare repository or a checkout's ``tests`` folder; the default
    is where the workplace's mirror tool puts it); nothing of it is stored in this
    repository. Caveat: trafilatura's defaults were tuned on this set.

Columns: ``nothing`` counts pages where nothing useful was found (scrapinghub: under a
quarter of the article's shingles in the output; trafilatura-eval: none of its "with"
segments); ``boiler`` is boilerplate kept (scrapinghub: 1 - precision; trafilatura-eval:
the share of "without" segments found in the output). Rows: ``ours`` is
``extract_article`` as the daemon calls it; ``trafilatura`` is plain
``trafilatura.extract(page, url=...)`` with its defaults except ``include_comments=False``
(reader comments are never the article). Speed is single-process wall time per page on a
shared 2-core machine: expect ±15 % noise between runs.

Measured when ``default-pruned`` became the default (trafilatura 2.3.1; one run, both
rows of a set measured minutes apart)::

    set              extractor                  P      R     F1  nothing  boiler  ms/page
    scrapinghub      ours                   0.947  0.978  0.963    0/181   0.053     19.1
    scrapinghub      trafilatura            0.942  0.978  0.960    0/181   0.058     11.2
    scrapinghub      mode precision-pruned  0.958  0.971  0.964    1/181   0.042     16.8
    trafilatura-eval ours                   0.916  0.947  0.931    8/990   0.086     26.0
    trafilatura-eval trafilatura            0.907  0.946  0.926    9/990   0.097     14.8
    trafilatura-eval mode precision-pruned  0.924  0.921  0.923   16/990   0.075     21.3

(``precision-pruned`` was the default before: R 0.918 and 18 pages with nothing on the
second set without this change's charset and NFC fixes.)
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import trafilatura

from monitor.extract.article import DEFAULT_MODE, MODES, extract_article

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT.parent / "shared" / "corpus" / "articles"
TRAFILATURA_MIRROR = Path("/work/.mirror/adbar+trafilatura/repo")
_TOKEN = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
#: a page whose output holds under this share of the article counts as "nothing found"
NOTHING_RECALL = 0.25

Counts = tuple[float, float, float]
Extractor = Callable[[bytes, str | None], str]


@dataclass(slots=True)
class Page:
    """One page of a set: its bytes, address, and what the scorer needs to know of it."""

    id: str
    url: str | None
    body: bytes
    truth: str = ""
    with_: list[str] = field(default_factory=list)
    without: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Row:
    """One extractor's scores on one set."""

    precision: float
    recall: float
    nothing: int
    boiler: float
    ms: float
    worst: list[tuple[float, str]]

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


# --- the sets -------------------------------------------------------------------------------


def scrapinghub_pages() -> list[Page]:
    """The scrapinghub benchmark pages from ../shared/corpus (empty when it is absent)."""
    index = ARTICLES / "index.jsonl"
    if not index.exists():
        return []
    found = []
    with index.open(encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            if row["set"] == "scrapinghub-aeb":
                with gzip.open(ARTICLES / row["file"]) as page:
                    found.append(Page(row["id"], row.get("url") or None, page.read(), truth=row["ground_truth"]))
    return found


def _git_files(git_dir: Path, paths: list[str]) -> dict[str, bytes]:
    """The files under ``paths`` at HEAD of a bare repository, by path (one ``cat-file`` process)."""
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", "HEAD", "--", *paths],
        check=True,
        capture_output=True,
    ).stdout
    blobs: dict[str, str] = {}
    for entry in listing.split(b"\0"):
        if entry:
            meta, name = entry.split(b"\t", 1)
            blobs[name.decode("utf-8")] = meta.split()[2].decode()
    request = "".join(f"{sha}\n" for sha in blobs.values()).encode()
    out = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"], input=request, check=True, capture_output=True
    ).stdout
    contents: dict[str, bytes] = {}
    pos = 0
    for name in blobs:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        contents[name] = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
    return contents


def trafilatura_pages(source: Path) -> list[Page]:
    """The trafilatura evaluation pages from a bare mirror or a checkout's tests/ (empty when absent)."""
    if (source / "evaldata.json").exists():
        files = {
            f"tests/{p.relative_to(source).as_posix()}": p.read_bytes()
            for sub in ("eval", "cache")
            for p in (source / sub).glob("*")
            if p.is_file()
        }
        files["tests/evaldata.json"] = (source / "evaldata.json").read_bytes()
    elif (source / "HEAD").exists():
        files = _git_files(source, ["tests/evaldata.json", "tests/eval", "tests/cache"])
    else:
        return []
    evaldata = json.loads(files["tests/evaldata.json"])
    found = []
    for url in sorted(evaldata):
        item = evaldata[url]
        body = files.get(f"tests/cache/{item['file']}") or files.get(f"tests/eval/{item['file']}")
        if body is not None:
            found.append(Page(item["file"], url, body, with_=item["with"], without=item["without"]))
    return found


# --- scoring --------------------------------------------------------------------------------


def _grams(text: str, n: int) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def match(truth: str, pred: str, n: int = 4) -> Counts:
    """Per-page TP/FP/FN over n-token shingles, normalised to sum to 1."""
    t, p = _grams(truth, n), _grams(pred, n)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def shingle_scores(counts: list[Counts]) -> tuple[float, float]:
    """(precision, recall) the way the scrapinghub benchmark aggregates per-page counts."""

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
    return p, r


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _timed(extract: Extractor, pages: list[Page]) -> tuple[list[str], float]:
    texts = []
    start = time.perf_counter()
    for page in pages:
        texts.append(extract(page.body, page.url))
    return texts, 1000 * (time.perf_counter() - start) / len(pages)


def score_scrapinghub(extract: Extractor, pages: list[Page]) -> Row:
    texts, ms = _timed(extract, pages)
    counts = [match(page.truth, text) for page, text in zip(pages, texts, strict=True)]
    p, r = shingle_scores(counts)
    recalls = [tp / (tp + fn) if tp + fn else 0.0 for tp, _, fn in counts]
    worst = sorted((rec, page.id[:12]) for rec, page in zip(recalls, pages, strict=True))
    return Row(p, r, sum(rec < NOTHING_RECALL for rec in recalls), 1 - p, ms, worst)


def score_trafilatura(extract: Extractor, pages: list[Page]) -> Row:
    texts, ms = _timed(extract, pages)
    tp = fp = n_with = n_without = nothing = 0
    per_page = []
    for page, text in zip(pages, texts, strict=True):
        found = _norm(text)
        hits = sum(_norm(w) in found for w in page.with_)
        leaks = sum(_norm(w) in found for w in page.without)
        tp, fp = tp + hits, fp + leaks
        n_with, n_without = n_with + len(page.with_), n_without + len(page.without)
        nothing += hits == 0
        per_page.append((hits / len(page.with_), page.id))
    precision = tp / (tp + fp) if tp + fp else 0.0
    return Row(precision, tp / n_with, nothing, fp / n_without, ms, sorted(per_page))


# --- extractors -----------------------------------------------------------------------------


def ours(mode: str = DEFAULT_MODE) -> Extractor:
    def run(body: bytes, url: str | None) -> str:
        article = extract_article(body, url=url, mode=mode)
        return article.text if article else ""

    return run


def plain_trafilatura(body: bytes, url: str | None) -> str:
    return trafilatura.extract(body, url=url, include_comments=False) or ""


# --- report ---------------------------------------------------------------------------------

SETS: dict[str, Callable[[Extractor, list[Page]], Row]] = {
    "scrapinghub": score_scrapinghub,
    "trafilatura-eval": score_trafilatura,
}


def load(set_name: str, trafilatura_source: Path) -> list[Page]:
    return scrapinghub_pages() if set_name == "scrapinghub" else trafilatura_pages(trafilatura_source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", choices=sorted(SETS), help="set(s) (default: both)")
    parser.add_argument("--mode", action="append", choices=sorted(MODES), help="also score extract_article in mode(s)")
    parser.add_argument("--trafilatura", type=Path, default=TRAFILATURA_MIRROR, help="trafilatura mirror or tests/")
    parser.add_argument("--limit", type=int, default=0, help="only the first N pages of each set")
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages of each row")
    args = parser.parse_args(argv)
    extractors: dict[str, Extractor] = {"ours": ours(), "trafilatura": plain_trafilatura}
    extractors.update({f"mode {m}": ours(m) for m in args.mode or ()})
    missing = 0
    print(f"{'set':<17}{'extractor':<22}{'P':>6}{'R':>7}{'F1':>7}{'nothing':>9}{'boiler':>8}{'ms/page':>9}")
    for set_name in args.set or list(SETS):
        pages = load(set_name, args.trafilatura)
        if not pages:
            print(f"{set_name:<17}(not found; see --help)")
            missing += 1
            continue
        pages = pages[: args.limit] if args.limit else pages
        extract_article(pages[0].body)  # warm imports and lazy tables
        for name, extract in extractors.items():
            row = SETS[set_name](extract, pages)
            print(
                f"{set_name:<17}{name:<22}{row.precision:6.3f}{row.recall:7.3f}{row.f1:7.3f}"
                f"{row.nothing:>5}/{len(pages):<3}{row.boiler:8.3f}{row.ms:9.1f}"
            )
            for value, page_id in row.worst[: args.worst]:
                print(f"    recall={value:.3f}  {page_id}")
    return 2 if missing == len(args.set or SETS) else 0


if __name__ == "__main__":
    sys.exit(main())
