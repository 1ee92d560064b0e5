"""Measure syndicated-story clustering: precision/recall of merging by similarity threshold.

Usage::

    /work/venv/bin/python benchmarks/dedup.py [--shingle 3] [--limit 0]

Data: the human-annotated article texts of ../shared/corpus/articles/index.jsonl
(``ground_truth``). For every article with at least ``MIN_WORDS`` words it builds five
"syndicated copies", each as a different site would publish the same wire story:

* ``trim``: last paragraph cut (the usual edit for length);
* ``template``: site header and footer lines, "Advertisement" between paragraphs,
  "Read more" links, copyright line;
* ``quotes``: straight/curly quotes, dashes and ellipses swapped, spacing changed;
* ``byline``: "PARIS (AFP) -" dateline vs "AFP -", "By ... | Staff" line, "Reporting by
  ...; Editing by ..." trailer;
* ``all``: trim 2 paragraphs + template + quotes + byline together.

Positive pairs: every pair among the original and its five copies (15 per article).
Negative pairs: every pair of different articles (originals and ``template`` copies,
so shared site boilerplate is in the test), plus "update" pairs: an article's lede kept
and the rest replaced by another article's body from the same site, the hardest same-
topic case (a follow-up that repeats the first paragraph is a different story).

"Filler" pairs test short stories: the first 100 or 150 words of different articles, each
followed by the same four stock sentences an outlet appends ("Officials said further
details would be released in the coming days."), as negatives, and their copies as
positives. This is what sets ``MIN_WORDS`` and the extra margin for short texts.

Prints, per threshold: precision, recall and F1 of "merge when similarity >= t", the
worst negative and positive similarities, then an end-to-end run of
:class:`monitor.identity.clusters.ClusterIndex` (LSH lookup, insertion order shuffled) at the
chosen default, and the cost of one signature.

Results are from a shared 2-core machine; timings are noisy.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.identity import clusters as dedup  # noqa: E402

INDEX = ROOT.parent / "shared" / "corpus" / "articles" / "index.jsonl"
THRESHOLDS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9]

HEADERS = [
    "Skip to main content",
    "Menu  Search  Subscribe",
    "Home > World > Europe",
    "Advertisement",
    "Share on Facebook  Share on Twitter  Email",
    "Sign up for our morning newsletter",
]
FOOTERS = [
    "Read more: Our full coverage of this story",
    "© 2026 Example Media Group. All rights reserved.",
    "Copyright Agence France-Presse. This material may not be published, broadcast or redistributed.",
    "Follow us on social media for the latest news",
    "Related: Five things to watch this week",
]


FILLER = [
    "Officials said further details would be released in the coming days.",
    "Analysts said the announcement had been widely expected.",
    "The statement did not give a timetable for the next steps.",
    "Opposition politicians said they would study the plans closely.",
]


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


def trim(text: str, n: int = 1) -> str:
    paras = paragraphs(text)
    return "\n\n".join(paras[:-n] if len(paras) > n + 1 else paras)


def template(text: str, rng: random.Random) -> str:
    paras = paragraphs(text)
    out = rng.sample(HEADERS, 3)
    for i, para in enumerate(paras):
        out.append(para)
        if i % 3 == 2:
            out.append("Advertisement")
    out += rng.sample(FOOTERS, 2)
    return "\n\n".join(out)


def quotes(text: str) -> str:
    table = {"“": '"', "”": '"', "‘": "'", "’": "'", "—": " - ", "…": "...", '"': "“", "'": "’"}
    text = "".join(table.get(c, c) for c in text)
    return re.sub(r"  +", " ", text.replace(", ", " , ").replace(". ", ".  "))


def byline(text: str, rng: random.Random) -> str:
    city = rng.choice(["PARIS", "NAIROBI", "WASHINGTON", "BERLIN"])
    paras = paragraphs(text)
    if paras:
        paras[0] = f"{city} (AFP) - {paras[0]}" if rng.random() < 0.5 else f"AFP - {paras[0]}"
    return "\n\n".join(
        [
            f"By {rng.choice(['Jane Doe', 'Staff Reporter', 'A. Correspondent'])} | Wire Staff",
            *paras,
            "Reporting by John Roe; Editing by Mary Major",
        ]
    )


def variants(text: str, rng: random.Random) -> dict[str, str]:
    return {
        "orig": text,
        "trim": trim(text),
        "template": template(text, rng),
        "quotes": quotes(text),
        "byline": byline(text, rng),
        "all": byline(quotes(template(trim(text, 2), rng)), rng),
    }


def load(limit: int) -> list[dict[str, str]]:
    rows = []
    for line in INDEX.open(encoding="utf-8"):
        row = json.loads(line)
        text = row.get("ground_truth") or ""
        if len(dedup.words(text)) >= dedup.MIN_WORDS:
            rows.append({"id": row["id"], "url": row["url"], "domain": row.get("domain", ""), "text": text})
    return rows[:limit] if limit else rows


Pair = tuple[float, bool, int]  # similarity, same story, words of the shorter text


def merged(pair: Pair, threshold: float) -> bool:
    return pair[0] >= dedup.merge_threshold(threshold, pair[2], pair[2])


def scores(pairs: list[Pair], threshold: float) -> tuple[float, float, float]:
    tp = sum(1 for p in pairs if p[1] and merged(p, threshold))
    fp = sum(1 for p in pairs if not p[1] and merged(p, threshold))
    fn = sum(1 for p in pairs if p[1] and not merged(p, threshold))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shingle", type=int, default=dedup.SHINGLE)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    if not INDEX.exists():
        sys.exit(f"corpus not found at {INDEX}")
    rng = random.Random(7)
    articles = load(args.limit)
    print(
        f"articles with >= {dedup.MIN_WORDS} words: {len(articles)}; shingle size {args.shingle};"
        f" texts under {dedup.SHORT_WORDS} words need +{dedup.SHORT_MARGIN}"
    )

    started = time.perf_counter()
    sigs: dict[tuple[int, str], dedup.Signature] = {}
    for i, art in enumerate(articles):
        for name, text in variants(art["text"], rng).items():
            sigs[(i, name)] = dedup.text_signature(text, size=args.shingle)
    per_sig = (time.perf_counter() - started) / len(sigs) * 1000
    by_domain: dict[str, list[int]] = defaultdict(list)
    for i, art in enumerate(articles):
        by_domain[art["domain"]].append(i)
    updates = []
    for i, art in enumerate(articles):
        # an "update": same lede, body of another article from the same site (or any other);
        # only where the lede is a small part of the story, else it *is* the story
        paras = paragraphs(art["text"])
        if len(paras) < 4 or len(dedup.words(paras[0])) > 0.35 * len(dedup.words(art["text"])):
            continue
        others = [j for j in by_domain[art["domain"]] if j != i and articles[j]["url"] != art["url"]]
        others = others or [j for j in range(len(articles)) if articles[j]["url"] != art["url"]]
        other = articles[rng.choice(others)]["text"]
        sigs[(i, "update")] = dedup.text_signature(
            "\n\n".join(paras[:1] + paragraphs(other)[1:]), size=args.shingle
        )
        updates.append(i)

    pairs: list[Pair] = []

    def pair(a: dedup.Signature, b: dedup.Signature, same: bool, kind: str) -> None:
        s = a.similarity(b)
        pairs.append((s, same, min(a.words, b.words)))
        kinds[kind].append(s)

    kinds: dict[str, list[float]] = defaultdict(list)
    names = ["orig", "trim", "template", "quotes", "byline", "all"]
    for i in range(len(articles)):
        for a, b in itertools.combinations(names, 2):
            pair(sigs[(i, a)], sigs[(i, b)], True, f"{a}~{b}")
    for i in updates:
        pair(sigs[(i, "orig")], sigs[(i, "update")], False, "update (neg)")
    for i, j in itertools.combinations(range(len(articles)), 2):
        if articles[i]["url"] == articles[j]["url"]:
            continue  # the corpus annotates one page twice: the same story, not a negative
        for a, b in (("orig", "orig"), ("template", "template")):
            pair(sigs[(i, a)], sigs[(j, b)], False, "different (neg)")
    for size in (100, 150):
        long_enough = [a for a in articles if len(a["text"].split()) >= size + 20][:80]
        shorts = [" ".join(a["text"].split()[:size]) + "\n\n" + "\n\n".join(FILLER) for a in long_enough]
        short_sigs = [dedup.text_signature(t, size=args.shingle) for t in shorts]
        for x, y in itertools.combinations(range(len(shorts)), 2):
            pair(short_sigs[x], short_sigs[y], False, f"filler {size}w (neg)")
        for text, sig in zip(shorts, short_sigs, strict=True):
            for name, copy in variants(text, rng).items():
                if name != "orig":
                    pair(sig, dedup.text_signature(copy, size=args.shingle), True, f"filler {size}w copies")
    positives = sum(1 for p in pairs if p[1])
    print(f"pairs: {positives} duplicate, {len(pairs) - positives} non-duplicate")
    print(f"signature cost: {per_sig:.2f} ms per text (mean)")
    print()
    print("similarity by pair kind: min / median / max")
    for kind, values in sorted(kinds.items()):
        print(f"  {kind:22s} {min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}")
    print()
    print("threshold  precision  recall    F1")
    for t in THRESHOLDS:
        p, r, f = scores(pairs, t)
        print(f"  {t:5.2f}     {p:.4f}    {r:.4f}   {f:.4f}")

    # end to end: the real index, LSH lookup, shuffled arrival order
    docs = [(i, name) for i in range(len(articles)) for name in names]
    rng.shuffle(docs)
    index = dedup.ClusterIndex()
    assigned: dict[tuple[int, str], str] = {}
    started = time.perf_counter()
    for n, doc in enumerate(docs):
        found = index.find(sigs[doc], None, float(n))
        assigned[doc] = found or f"c{n}"
        index.add(assigned[doc], sigs[doc], None, float(n))
    per_doc = (time.perf_counter() - started) / len(docs) * 1000
    tp = fp = fn = 0
    for x, y in itertools.combinations(docs, 2):
        same, merged = articles[x[0]]["url"] == articles[y[0]]["url"], assigned[x] == assigned[y]
        tp += same and merged
        fp += (not same) and merged
        fn += same and not merged
    print()
    print(f"ClusterIndex(threshold={index.threshold}) over {len(docs)} texts in shuffled order:")
    ideal = len({a["url"] for a in articles})
    print(
        f"  pairwise precision {tp / max(1, tp + fp):.4f}, recall {tp / max(1, tp + fn):.4f};"
        f" clusters {len(set(assigned.values()))} (ideal {ideal}); find+add {per_doc:.2f} ms per text"
    )


if __name__ == "__main__":
    main()
