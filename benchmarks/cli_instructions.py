"""Instructions per story of what ``newsmonitor match`` does for each line, against the
matcher alone on the same stories, counted by valgrind's callgrind (a figure the load of a
shared machine does not move).

The rules and stories are those of ``benchmarks/match.py`` (same generators, same seeds);
each story is one JSON line as ``match`` reads it. This process compiles the rules and
pickles the matcher; a child under callgrind loads it, runs every line once (the languages'
indexes and the word caches are built then, as in a run that has read a while), and counts
one more pass three ways: *CLI* is ``output_lines`` (parse the JSON, decide the language as
the daemon does, match, write the output line);
*matcher* is ``Matcher.match`` on the stories those lines give, and *evidence* the same
with every match's hits and snippets read, as the command prints them: the difference
between *CLI* and *evidence* is what the command adds to the library (JSON, language,
output). Compare two versions of the code by running this in each worktree:

    python benchmarks/cli_instructions.py --generator mix --size 100000

With ``--cold`` the counted pass starts with the word caches empty, as the first pass of a
fresh process (``match.py``'s *cold*), the matcher's indexes of the stories' languages built.

Needs valgrind; two to three minutes a run at 100 000 rules.
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import callgrind  # beside this file
import match as bench  # the benchmark beside this file

from monitor.rules import Matcher


def child(path: str, part: str, cold: bool) -> None:
    """Under callgrind: load the matcher and the lines, one pass, then count one pass of ``part``
    (``cold``: with the word caches emptied first)."""
    from monitor.cli.rules import output_lines, story_from_json

    sys.setrecursionlimit(100_000)
    gc.disable()
    with open(path, "rb") as f:
        matcher, lines = pickle.load(f)
    gc.enable()
    gc.collect()
    for _ in output_lines(matcher, lines):
        pass
    stories = [story_from_json(json.loads(line)) for line in lines]
    if cold:
        bench.clear_caches()
    gc.collect()
    if part == "cli":
        callgrind.control(True)
        for _ in output_lines(matcher, lines):
            pass
        callgrind.control(False)
    else:
        callgrind.control(True)
        for story in stories:
            for match in matcher.match(story):
                if part == "evidence":
                    match.hits  # noqa: B018 (built when first read)
        callgrind.control(False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default="mix", help="as in match.py: calibrated, mix, alerts")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--cold", action="store_true", help="count a pass with the word caches empty")
    parser.add_argument("--child", nargs=3, metavar=("PICKLE", "PART", "COLD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2] == "cold")
        return
    texts = bench.load_texts()
    stories = bench.make_stories(texts[1::2])
    v = bench.Vocabulary(bench.make_stories(texts[0::2]))
    rng = random.Random(f"1-{args.generator}-{args.size}")
    rules = bench.generators(v, stories, 0.02 / 100, rng)[args.generator](args.size)
    lines = [json.dumps({"id": i, "title": s.title, "text": s.text, "url": s.url, "source": s.source,
                         "lang": s.lang}, ensure_ascii=False) for i, s in enumerate(stories)]
    matcher = Matcher.compile(rules)
    sys.setrecursionlimit(100_000)
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "matcher.pickle"
        gc.disable()
        path.write_bytes(pickle.dumps((matcher, lines), protocol=5))
        gc.enable()
        for part in ("cli", "matcher", "evidence"):
            given = ["--child", str(path), part, "cold" if args.cold else "warm"]
            found = callgrind.count(__file__, given, f"{tmp}/callgrind.{part}")
            counts[part] = found / len(lines) / 1e6
    state = "cold" if args.cold else "warm"
    print(f"{args.generator} {len(rules)} rules, {state}: `match` {counts['cli']:.2f} M instructions a story, the matcher "
          f"alone {counts['matcher']:.2f} M, with the evidence {counts['evidence']:.2f} M "
          f"({counts['cli'] - counts['evidence']:.2f} M a story for JSON, language and output; {len(lines)} stories)")


if __name__ == "__main__":
    main()
