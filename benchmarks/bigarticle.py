"""What a huge article page costs the daemon: extraction (in a worker) and matching (in the daemon).

Run:  .venv/bin/python benchmarks/bigarticle.py [--megabytes 9] [--vocabulary wide|narrow]

Builds an article page of about ``--megabytes`` of paragraph text, extracts it as the worker
does (``extract_article``, timed here in-process), then matches the extracted text as a story
with the demo's rules, as the daemon's CPU thread does, and prints the time, the growth of this
process's RSS during the match and what of it is still held after a garbage collection (the
matcher's per-language word cache keeps what it analysed). ``wide`` text has a fresh made-up
word or number every few words, as names, figures and identifiers do in real reporting (the
worst case for the word cache); ``narrow`` repeats one news sentence's words.

Numbers are from one process on a shared machine: expect noise of ±20 %.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.demo.run import DEMO_RULES
from monitor.extract.article import extract_article
from monitor.models import Story
from monitor.rules import Matcher, RuleSpec

SYLLABLES = ["ka", "lo", "mi", "ten", "ra", "zu", "po", "vel", "qui", "an", "dor", "sek", "ith", "um", "bre"]
SENTENCE = "The council said the budget for schools and water would be reviewed by the regional office."


def paragraphs(megabytes: float, vocabulary: str, seed: int = 1) -> list[str]:
    rnd = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < megabytes * 2**20:
        if vocabulary == "wide":
            words = [
                "".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(2, 4)))
                + (str(rnd.randint(0, 10**6)) if rnd.random() < 0.5 else "")
                for _ in range(120)
            ]
            text = " ".join(words) + "."
        else:
            text = f"Section {len(out)}. " + (SENTENCE + " ") * 12
        out.append(f"<p>{text}</p>\n")
        size += len(out[-1])
    return out


def rules() -> list[RuleSpec]:
    specs = []
    for line in DEMO_RULES.splitlines():
        line = line.strip()
        if line.startswith("- name:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("query:"):
            specs.append(RuleSpec(name, line.split(":", 1)[1].strip().strip("'")))
    return specs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=float, default=9.0)
    parser.add_argument("--vocabulary", choices=["wide", "narrow"], default="wide")
    args = parser.parse_args()
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A long report</title></head>'
        "<body><article><h1>A very long report</h1>"
        + "".join(paragraphs(args.megabytes, args.vocabulary))
        + "</article></body></html>"
    ).encode()
    started = time.perf_counter()
    article = extract_article(page, url="https://news.example/long")
    extract_s = time.perf_counter() - started
    assert article is not None
    matcher = Matcher.compile(rules())
    story = Story(source="s", url="https://news.example/long", title=article.title or "", text=article.text, lang="en")
    process = psutil.Process()
    chars = len(article.text)
    del page, article
    gc.collect()
    before = process.memory_info().rss
    started = time.perf_counter()
    matcher.match(story)
    match_s = time.perf_counter() - started
    during = process.memory_info().rss
    del story
    gc.collect()
    after = process.memory_info().rss
    print(
        f"page {args.megabytes:g} MB ({args.vocabulary} vocabulary): extraction {extract_s:.1f} s, "
        f"{chars} characters of text; matching {match_s:.2f} s, RSS +{(during - before) / 2**20:.0f} MB, "
        f"+{(after - before) / 2**20:.0f} MB still held after the match"
    )


if __name__ == "__main__":
    main()
