"""Benchmark the rule matcher against the naive approach (evaluate every rule on every story).

Rules are generated from the vocabulary of half of the real article texts in
../shared/corpus/articles/index.jsonl (ground truth): single words, wildcards, phrases taken
from the texts, AND / OR / NOT mixes, NEAR and field terms, with words rare in that half.
Stories are the other half's texts, cut or padded (with texts of the same half) to ~5 KB,
so rules are written without seeing the stories, as in real use. Timing includes
tokenisation and normalisation of every story; snippets are built for matches only.

    /work/venv/bin/python benchmarks/match.py [--sizes 1000,10000,100000] [--seed 1]

Numbers are from one process on a shared machine: expect noise of ±20 %.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import itertools
import json
import os
import random
import re
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules import text as rules_text
from monitor.rules.document import StoryDoc
from monitor.rules.evaluate import Evaluation
from monitor.rules.snippets import make_snippets

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "articles" / "index.jsonl"
WORD = re.compile(r"[A-Za-z][a-z]{3,}")
STORY_BYTES = 5_000


def load_texts() -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    return [(r["title"] or "", r["ground_truth"]) for r in rows if r["set"] == "scrapinghub-aeb" and r["ground_truth"]]


def make_stories(texts: list[tuple[str, str]]) -> list[Story]:
    stories = []
    for i, (title, body) in enumerate(texts):
        j = i + 1
        while len(body.encode()) < STORY_BYTES:
            body += "\n" + texts[j % len(texts)][1]
            j += 1
        body = body.encode()[:STORY_BYTES].decode("utf-8", "ignore")
        stories.append(Story(source=f"src{i % 20}", url=f"https://news.example/{i}", title=title, text=body,
                             lang="en"))
    return stories


def vocabulary(stories: list[Story]) -> tuple[list[str], list[str], list[str], list[tuple[str, str]]]:
    """Rare words (in <= 1 % of stories, counting every inflection), mid words (<= 5 %),
    common words (>= 50 %), and bigrams seen once whose words are not common."""
    key_df: Counter[str] = Counter()
    words: set[str] = set()
    bigrams: Counter[tuple[str, str]] = Counter()
    folds_by_story: list[list[str]] = []
    for s in stories:
        parts = rules_text.analyse_words(s.title + "\n" + s.text)
        key_df.update({k for p in parts for k in p.keys})
        folds_by_story.append(sorted({p.fold for p in parts}))
        found = WORD.findall(s.title + " " + s.text)
        words.update(w.lower() for w in found)
        bigrams.update(set(itertools.pairwise(found)))
    n = len(stories)

    def df(word: str) -> int:
        return max(key_df[k] for k in rules_text.word_keys(word, "en"))

    rare = sorted(w for w in words if df(w) <= max(1, n // 100))
    # names: capitalised everywhere they occur (people, places, companies), the usual
    # subject of a one-word alert
    lower_seen = {w for s in stories for w in WORD.findall(s.title + " " + s.text) if w.islower()}
    global NAMES
    NAMES = sorted({w for w in words if w not in lower_seen and df(w) <= max(1, n // 100) and len(w) >= 5})
    mid = sorted(w for w in words if max(1, n // 100) < df(w) <= n // 20)
    common = sorted(w for w in words if df(w) >= n // 2)
    phrases = sorted(b for b, c in bigrams.items() if c == 1 and df(b[0].lower()) <= n // 20
                     and df(b[1].lower()) <= n // 5)

    def prefix_df(prefix: str) -> int:
        hits = 0
        for folds in folds_by_story:
            i = bisect.bisect_left(folds, prefix)
            hits += i < len(folds) and folds[i].startswith(prefix)
        return hits

    global RARE_PREFIXES
    RARE_PREFIXES = [w[: len(w) - 2] for w in NAMES + [w for w in rare if len(w) >= 11]
                     if len(w) >= 8 and prefix_df(w[: len(w) - 2]) <= max(1, n // 100)]
    return rare, mid, common, phrases


RARE_PREFIXES: list[str] = []
NAMES: list[str] = []


def realistic_rules(count: int, vocab: tuple[list[str], list[str], list[tuple[str, str]]],
                    rng: random.Random) -> list[RuleSpec]:
    """Single-word rules are names or wildcards of names and long rare words; words combined
    by AND or NEAR are rare or mid-frequency; words under OR and NOT are any of them."""
    rare, mid, phrases = vocab
    both = rare + mid
    rules = []
    for i in range(count):
        kind = i % 10
        a, b, c = rng.choice(both), rng.choice(both), rng.choice(both)
        p = rng.choice(phrases)
        if kind == 0:
            q = rng.choice(NAMES)
        elif kind == 1:
            q = f"{rng.choice(RARE_PREFIXES)}*"
        elif kind == 2:
            q = f'"{p[0]} {p[1]}"'
        elif kind == 3:
            q = f"{a} {b}"
        elif kind == 4:
            q = f"({rng.choice(NAMES)} OR {b}) AND {c}"
        elif kind == 5:
            q = f"{a} NEAR/10 {b}"
        elif kind == 6:
            q = f"{rng.choice(NAMES)} -{b}"
        elif kind == 7:
            q = f'title:{rng.choice(NAMES)} OR "{p[0]} {p[1]}"'
        elif kind == 8:
            q = f'"{p[0]} {p[1]}" NEAR/20 ({b} OR {c[:6]}*)'
        else:
            q = f"{rng.choice(NAMES)} AND NOT ({b} OR {c})"
        rules.append(RuleSpec(f"r{i}", q))
    return rules


def calibrate(pool: list[RuleSpec], stories: list[Story], size: int, rate: float,
              rng: random.Random) -> list[RuleSpec]:
    """``size`` rules from ``pool`` whose mean share of matched stories is about ``rate``.

    Words rare in 90 articles are not rare in the news, so the raw generator's rules match
    more often than alert rules do; this keeps every rule that matched nothing and only as
    many matching ones as the target rate allows (each of them still matches <= 1 story in
    90, i.e. well under 1 %... or is dropped)."""
    matcher = Matcher.compile(pool)
    counts: Counter[str] = Counter(m.rule for s in stories for m in matcher.match(s))
    quiet = [r for r in pool if counts[r.name] == 0]
    loud = [r for r in pool if 0 < counts[r.name] <= max(1, len(stories) // 100)]
    rng.shuffle(loud)
    budget = rate * size * len(stories)
    chosen: list[RuleSpec] = []
    for rule in loud:
        if budget < counts[rule.name]:
            break
        budget -= counts[rule.name]
        chosen.append(rule)
    chosen += quiet[: size - len(chosen)]
    rng.shuffle(chosen)
    return [RuleSpec(f"r{i}", r.query) for i, r in enumerate(chosen[:size])]


def heavy_rules(count: int, common: list[str], rng: random.Random) -> list[RuleSpec]:
    """Rules of very common words: every story matches hundreds of them."""
    rules = []
    for i in range(count):
        a, b = rng.choice(common), rng.choice(common)
        rules.append(RuleSpec(f"h{i}", a if i % 3 == 0 else f"{a} {b}" if i % 3 == 1 else f"{a} NEAR/30 {b}"))
    return rules


def clear_caches() -> None:
    rules_text._CACHES.clear()
    rules_text.word_keys.cache_clear()


def naive(matcher: Matcher, stories: list[Story]) -> float:
    """Seconds per story when every rule is evaluated on every story (same evaluator, no index)."""
    rules = matcher._rules
    t0 = time.perf_counter()
    for story in stories:
        doc = StoryDoc(story)
        ev = Evaluation(doc)
        texts = {"title": story.title, "text": story.text}
        for rule in rules:
            if ev.truth(rule.query.root):
                make_snippets(texts, ev.hits(rule.query.root))
    return (time.perf_counter() - t0) / len(stories)


def run(label: str, rules: list[RuleSpec], stories: list[Story], naive_sample: int) -> None:
    clear_caches()
    gc.collect()
    t0 = time.perf_counter()
    matcher = Matcher.compile(rules)
    compile_s = time.perf_counter() - t0
    # size of the compiled matcher, measured on a second build (tracemalloc slows it down)
    tracemalloc.start()
    again = Matcher.compile(rules)
    size_mib = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    del again
    t0 = time.perf_counter()
    counts = [len(matcher.match(s)) for s in stories]
    cold = len(stories) / (time.perf_counter() - t0)
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        for s in stories:
            matcher.match(s)
        rates.append(len(stories) / (time.perf_counter() - t0))
    warm = statistics.median(rates)
    cands = statistics.mean(len(matcher.candidates(s)) for s in stories[:50])
    per_rule = Counter(m.rule for s in stories for m in matcher.match(s))
    share = max(per_rule.values()) / len(stories) * 100 if per_rule else 0.0
    if os.environ.get("BENCH_DEBUG"):
        by_name = {r.name: r.query for r in rules}
        print([(by_name[name], n) for name, n in per_rule.most_common(8)])
    naive_s = naive(matcher, stories[:naive_sample])
    print(f"| {label:<22} | {len(rules):>7} | {compile_s:6.2f} s | {size_mib:7.0f} MiB | {cold:7.0f} | {warm:7.0f} "
          f"| {1 / naive_s:8.1f} ({naive_sample}) | {warm * naive_s:7.0f}x | {cands:7.1f} "
          f"| {statistics.mean(counts):6.2f} | {statistics.mean(counts) / len(rules) * 100:.4f} % | {share:5.1f} % |")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.02, help="mean share of stories a rule matches, in %%")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"corpus not found at {CORPUS}")
    rng = random.Random(args.seed)
    texts = load_texts()
    # rules are written from one half of the articles and matched against the other half,
    # as real rules are written without knowing the stories that will arrive
    stories = make_stories(texts[1::2])
    rare, mid, common, phrases = vocabulary(make_stories(texts[0::2]))
    vocab = (rare, mid, phrases)
    print(f"{len(stories)} stories of ~{STORY_BYTES} bytes (rules drawn from {len(texts) - len(stories)} other "
          f"articles); vocabulary {len(rare)} rare + {len(mid)} mid words, "
          f"{len(common)} common words, {len(phrases)} phrases; Python {sys.version.split()[0]}, one core\n")
    print("| rule set               |   rules | compile  | matcher mem | cold/s  | warm/s  | naive/s (sample) "
          "| speed-up | cands  | match/story | mean rule rate | busiest rule |")
    print("|" + "---|" * 12)
    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        sample = 20 if size <= 1_000 else 5 if size <= 10_000 else 2
        pool = realistic_rules(size * 2, vocab, rng)
        run(f"realistic {args.rate:g} %", calibrate(pool, stories, size, args.rate / 100, rng), stories, sample)
    for size in sizes[-1:]:
        run("uncalibrated generator", realistic_rules(size, vocab, rng), stories, 2)
    run("worst: 1k common-word", heavy_rules(1_000, common, rng), stories, 10)
    heavy = heavy_rules(1_000, common, rng) + calibrate(realistic_rules(198_000, vocab, rng), stories, 99_000,
                                                         args.rate / 100, rng)
    run("worst: 1k common + 99k", heavy, stories, 2)


if __name__ == "__main__":
    main()
