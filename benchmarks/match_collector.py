"""What the cyclic garbage collector walks after matching, and what that costs.

``Matcher.match`` pauses the collector, so nothing is collected during a pass; the objects
a pass leaves behind (word-cache entries, each rule's evaluation plan made the first time
the rule is a candidate, a matcher's notes) are walked by every later full collection for
as long as they are tracked. ``benchmarks/match.py`` times the *cold* and *first sight*
passes together with one such collection. This splits the two:

1. the matcher compiled (it freezes itself: the collector skips what it holds);
2. *cold*: the stories matched once, caches empty; then ``gc.collect()`` timed;
3. *first sight*: the word caches renewed (the plans made so far stay), the other half's
   articles matched, then the stories;
   then ``gc.collect()`` timed.

After each pass it prints the pass's CPU time, the collection's, the tracked objects
(``gc.get_objects()``) and what they are: by type, and tuples by the type of their first
item (a rule plan and its steps are tuples of ints; a chunk's analysis, its parts and each
part are tuples too); with ``--collections N``, the time and tracked objects of N-1 more
full collections. Same rules and stories as ``benchmarks/match.py`` (same generators and seeds):

    python benchmarks/match_collector.py --generator alerts --size 100000 --collections 4

A tuple of strings and numbers stops being tracked at the first collection that sees it;
one that holds such tuples, at the next (a collection looks at a tuple before the tuples
it holds, so it untracks one level of nesting, the innermost: a chunk's analysis is four
deep, analysis, parts, part, keys); one that holds a class instance (a ``Term``) never does.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import match as bench

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec


def _tracked() -> tuple[int, Counter[str], Counter[str]]:
    """How many objects the collector tracks, by type, and the tuples by their first item."""
    objects = gc.get_objects()
    kinds = Counter(type(o).__name__ for o in objects)
    firsts = Counter(type(o[0]).__name__ if o else "()" for o in objects if type(o) is tuple)
    return len(objects), kinds, firsts


def _pass(label: str, matcher: Matcher, stories: list[Story], before: Callable[[], None], collections: int) -> None:
    before()
    gc.collect()
    c0 = time.process_time()
    for story in stories:
        matcher.match(story)
    c1 = time.process_time()
    gc.collect()
    c2 = time.process_time()
    count, kinds, firsts = _tracked()
    print(f"{label}: pass {c1 - c0:.3f} s ({len(stories) / (c1 - c0):.0f} stories/s), then a full collection "
          f"{c2 - c1:.3f} s ({len(stories) / (c2 - c0):.0f} stories/s together); {count} tracked objects")
    print("   by type:", ", ".join(f"{name} {n}" for name, n in kinds.most_common(8)))
    print("   tuples by first item:", ", ".join(f"{name} {n}" for name, n in firsts.most_common(8)))
    for n in range(2, collections + 1):
        c0 = time.process_time()
        gc.collect()
        took = time.process_time() - c0
        print(f"   full collection {n}: {took:.3f} s; {len(gc.get_objects())} tracked objects after it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default="alerts", help="of calibrated, mix, alerts, worst")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--collections", type=int, default=1,
                        help="full collections after each pass (nested tuples lose their tracking one level a collection)")
    parser.add_argument("--rate", type=float, default=0.02, help="mean share of stories a rule matches, in %%")
    args = parser.parse_args()
    texts = bench.load_texts()
    stories, others = bench.make_stories(texts[1::2]), bench.make_stories(texts[0::2])
    v = bench.Vocabulary(others)
    rng = random.Random(f"{args.seed}-{args.generator}-{args.size}")
    rules: list[RuleSpec] = (bench.heavy_rules(1_000, v.common, rng) if args.generator == "worst"
                             else bench.generators(v, stories, args.rate / 100, rng)[args.generator](args.size))
    bench.clear_caches()
    matcher = Matcher.compile(rules)
    print(f"{args.generator}, {len(rules)} rules, {len(stories)} stories; Python {sys.version.split()[0]}")
    _pass("cold", matcher, stories, lambda: None, args.collections)

    def seen_others() -> None:
        bench.clear_caches()
        for story in others:
            matcher.match(story)

    _pass("first sight", matcher, stories, seen_others, args.collections)


if __name__ == "__main__":
    main()
