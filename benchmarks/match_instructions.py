"""Instructions per story of the rule matcher, counted by valgrind's callgrind: a figure
that does not move with the load of a shared machine, where CPU time moves by ±25 %.

The rules and stories are those of ``benchmarks/match.py`` (same generators, same seeds).
This process builds and compiles them and pickles the matcher; a child process under
``valgrind --tool=callgrind`` loads it and counts only the instructions of one pass over
the stories: *warm* (after one pass, every word known), *cold* (word caches empty) or
*first* (first sight: the caches hold the words of the other half's articles only).
Compare two versions of the code by running this in each worktree on the same input:

    python benchmarks/match_instructions.py --generator mix --size 100000 --mode warm

Needs valgrind (``apt-get install valgrind``); about two minutes a run at 100 000 rules.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import callgrind  # beside this file
import match as bench  # the benchmark beside this file

from monitor.rules import Matcher
from monitor.rules import text as rules_text


def _read(matcher: Matcher, story: object) -> None:
    for m in matcher.match(story):  # type: ignore[arg-type]
        m.snippets  # noqa: B018 (builds the hits and snippets)


def child(path: str, mode: str, evidence: bool = False) -> None:
    """Under callgrind: load the matcher and count one pass."""
    sys.setrecursionlimit(100_000)
    gc.disable()
    with open(path, "rb") as f:
        matcher, stories, others = pickle.load(f)
    gc.enable()
    gc.collect()
    # compiling builds the English key table once per process (``text.english_key_table``,
    # ~0.2 s): a matcher unpickled here has not, so build it before counting, as in the
    # process that compiled it
    build_table = getattr(rules_text, "english_key_table", None)
    if build_table is not None:
        build_table()
    if mode == "warm":
        for s in stories:
            matcher.match(s)
    else:
        bench.clear_caches()
        if mode == "first":
            for s in others:
                matcher.match(s)
    callgrind.control(True)
    if evidence:
        for s in stories:
            _read(matcher, s)
    else:
        for s in stories:
            matcher.match(s)
    callgrind.control(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default="mix", help="as in match.py: calibrated, mix, alerts, worst")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--mode", choices=("warm", "cold", "first"), default="warm")
    parser.add_argument("--evidence", action="store_true",
                        help="read every match's hits and snippets too (built when first read)")
    parser.add_argument("--child", metavar="PICKLE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.mode, args.evidence)
        return
    texts = bench.load_texts()
    stories = bench.make_stories(texts[1::2])
    others = bench.make_stories(texts[0::2])
    v = bench.Vocabulary(others)
    size = 1_000 if args.generator == "worst" else args.size
    rng = random.Random(f"1-{args.generator}-{size}")
    if args.generator == "worst":
        rules = bench.heavy_rules(1_000, v.common, rng)
    else:
        rules = bench.generators(v, stories, 0.02 / 100, rng)[args.generator](size)
    matcher = Matcher.compile(rules)
    sys.setrecursionlimit(100_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "matcher.pickle"
        gc.disable()
        path.write_bytes(pickle.dumps((matcher, stories, others), protocol=5))
        gc.enable()
        flags = ["--mode", args.mode, *(["--evidence"] if args.evidence else [])]
        count = callgrind.count(__file__, ["--child", str(path), *flags], f"{tmp}/callgrind.out")
    mode = args.mode + (" + evidence" if args.evidence else "")
    print(f"{args.generator} {len(rules)} rules, {mode}: {count / len(stories) / 1e6:.2f} M instructions a story "
          f"({len(stories)} stories)")


if __name__ == "__main__":
    main()
