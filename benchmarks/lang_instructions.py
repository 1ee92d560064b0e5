"""Instructions per story of ``story_language`` (the language decision of the daemon and of
``newsmonitor match``), counted by valgrind's callgrind: a figure the load of a shared
machine does not move.

The stories are those of ``benchmarks/match.py`` (the story half of the corpus articles, ~5 KB
each, declared ``en``); the detector's model is loaded and one story decided before the count,
so the figure is a story's own cost. *first* counts each story decided for the first time
(in a process that has decided the other half of the articles), *again* a second pass.
Before counting, it times the same passes in this process (CPU time, the least of five
passes): a figure the machine's load moves, but the only one that sees the processor's cache
misses (the byte-at-a-time walk of the model's automaton was mostly those). Compare two
versions of the code by running this in each worktree:

    python benchmarks/lang_instructions.py

Needs valgrind; about a minute.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import callgrind  # beside this file
import match as bench  # the benchmark beside this file

from monitor.extract.language import story_language


def child(path: str, mode: str) -> None:
    """Under callgrind: decide the stories' languages once (or twice) and count one pass."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    stories, others = data["stories"], data["others"]
    for lang, title, text in others:
        story_language(lang, title, text)
    if mode == "again":
        for lang, title, text in stories:
            story_language(lang, title, text)
    callgrind.control(True)
    for lang, title, text in stories:
        story_language(lang, title, text)
    callgrind.control(False)


def count(path: Path, mode: str, tmp: str) -> float:
    return callgrind.count(__file__, ["--child", str(path), mode], f"{tmp}/callgrind.{mode}")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3])
        return
    texts = bench.load_texts()
    stories = [(s.lang, s.title, s.text) for s in bench.make_stories(texts[1::2])]
    others = [(s.lang, s.title, s.text) for s in bench.make_stories(texts[0::2])]
    for lang, title, text in others:
        story_language(lang, title, text)
    passes = []
    for _ in range(5):
        t0 = time.process_time()
        for lang, title, text in stories:
            story_language(lang, title, text)
        passes.append((time.process_time() - t0) / len(stories) * 1e6)
    print(f"story_language, CPU: {min(passes):.0f} us a story (least of 5 passes; median {sorted(passes)[2]:.0f})")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stories.json"
        path.write_text(json.dumps({"stories": stories, "others": others}), encoding="utf-8")
        for mode in ("first", "again"):
            n = count(path, mode, tmp)
            print(f"story_language, {mode}: {n / len(stories) / 1e6:.3f} M instructions a story ({len(stories)} stories)")


if __name__ == "__main__":
    main()
