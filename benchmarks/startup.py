"""Start-up with a large rule set: load, validate, compile, the compiled-rules cache, reloads, the CLI.

Writes a configuration of ``--rules`` rules (100 000 by default) into a scratch directory
that is also the state directory (``XDG_STATE_HOME``), so the cache of compiled rules is
written there and nowhere else. The rules are generated as benchmarks/match.py generates
them: names, wildcards of names and long rare words, phrases, AND / OR / NOT mixes, NEAR
and field terms, from the words of the article corpus in ../shared/corpus/articles.

Every measurement runs in a fresh child process (nothing warm from the one before):

* load: the YAML file read with line marks (inside ``load_config``);
* validate: the rest of ``load_config`` (``${VAR}``, shorthand, pydantic, cross-checks,
  every query parsed once), and the same when the cached rule set knows the queries;
* compile: the matcher compiled from the queries validation parsed; cache write; cache read;
* the cache's queries and rules section read (what ``check`` reads), and the whole of
  ``load_config`` when the rules section is known (the rest of the file read alone);
* run: everything before the daemon's first poll (``load_with_rules`` and ``Daemon(...)``),
  with no cache and with the cache of the same rules;
* reload: ``Daemon.reload()`` of the same file, and of the file with one rule changed (which
  compiles and writes the cache);
* ``newsmonitor check`` and ``newsmonitor match --config`` as commands, with no cache and
  with the cache (``match`` writes it; ``check`` only reads it).

Each runs ``--repeat`` times; the table shows wall and CPU seconds (the range over the
repeats). Other load on the machine shows in wall time much more than in CPU time.

    PYTHONPATH=. /work/main/.venv/bin/python benchmarks/startup.py [--rules 100000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "articles" / "index.jsonl"
WORD = re.compile(r"[A-Za-z][a-z]{3,}")


# ---------------------------------------------------------------------------- the rules


def vocabulary() -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Names (capitalised wherever they occur), words of at most 2 % of the articles, and
    word pairs seen once, from the corpus's article texts."""
    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    texts = [(r["title"] or "") + "\n" + r["ground_truth"] for r in rows if r.get("ground_truth")]
    df: Counter[str] = Counter()
    lower: set[str] = set()
    pairs: Counter[tuple[str, str]] = Counter()
    for text in texts:
        found = WORD.findall(text)
        df.update({w.lower() for w in found})
        lower.update(w for w in found if w.islower())
        pairs.update(set(itertools.pairwise(found)))
    rare_df = max(1, len(texts) // 50)
    rare = sorted(w for w, n in df.items() if n <= rare_df)
    names = sorted(w for w in rare if w not in lower and len(w) >= 5)
    phrases = sorted(p for p, n in pairs.items() if n == 1 and df[p[0].lower()] <= rare_df)
    return names, rare, phrases


def rule_queries(count: int, rng: random.Random) -> list[str]:
    """``count`` queries in the ten shapes of benchmarks/match.py's generator."""
    names, words, phrases = vocabulary()
    long_words = [w for w in names + words if len(w) >= 8]
    queries = []
    for i in range(count):
        name, a, b, c = rng.choice(names), rng.choice(words), rng.choice(words), rng.choice(words)
        first, second = rng.choice(phrases)
        queries.append([
            name,
            f"{rng.choice(long_words)[:-2]}*",
            f'"{first} {second}"',
            f"{a} {b}",
            f"({name} OR {b}) AND {c}",
            f"{a} NEAR/10 {b}",
            f"{name} -{b}",
            f'title:{name} OR "{first} {second}"',
            f'"{first} {second}" NEAR/20 ({b} OR {c[:6]}*)',
            f"{name} AND NOT ({b} OR {c})",
        ][i % 10])
    return queries


def write_config(path: Path, queries: list[str]) -> None:
    """A configuration that ``check`` accepts: one notifier, one source, the rules."""
    head = (
        f"database: sqlite:///{path.parent / 'newsmonitor.db'}\n"
        'notifiers:\n  desk: "json://127.0.0.1:1/hook"\n'
        "defaults:\n  notify: [desk]\n"
        "sources:\n  - name: wire\n    feed: https://news.example/feed.xml\n    tags: [world]\n"
        "rules:\n"
    )
    body = "".join(f"  - name: r{i}\n    query: {json.dumps(q)}\n" for i, q in enumerate(queries))
    path.write_text(head + body, encoding="utf-8")


# ---------------------------------------------------------------------------- measurements (in a child)


@contextmanager
def timed(out: dict[str, tuple[float, float]], name: str) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    out[name] = (time.perf_counter() - wall, time.process_time() - cpu)


def phases(config: Path) -> dict[str, tuple[float, float]]:
    """load, validate, compile, cache write and read, validation with known queries."""
    from monitor.config import Config, load, load_config
    from monitor.config.queries import QueryCheck
    from monitor.config.rulesection import CheckedRules, checked_rules_of
    from monitor.daemon.rulecache import RuleCache, rule_specs
    from monitor.daemon.runtime import enabled_rules

    out: dict[str, tuple[float, float]] = {}
    reading: list[tuple[float, float]] = []
    document = load._document

    def timed_document(text: str, name: str) -> object:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return document(text, name)
        finally:
            reading.append((time.perf_counter() - wall, time.process_time() - cpu))

    load._document = timed_document  # type: ignore[assignment]

    def validated(name: str, queries: QueryCheck, known: CheckedRules | None = None) -> Config:
        read = len(reading)
        with timed(out, name):
            loaded = load_config(str(config), queries=queries, known_rules=known)
        if known is None:
            wall, cpu = out[name]
            out[name] = (wall - reading[read][0], cpu - reading[read][1])
        return loaded

    queries = QueryCheck()
    loaded = validated("validate", queries)
    out["load"] = reading[-1]
    specs = rule_specs(enabled_rules(loaded))
    cache = RuleCache.for_file(str(config))
    with timed(out, "compile"):
        compiled = RuleCache(None).compile(specs, queries)
    with timed(out, "cache write"):
        cache._store(compiled, checked_rules_of(loaded))
    del compiled, queries
    with timed(out, "cache read"):
        cache.compile(specs)
    validated("validate, queries known", cache.queries())
    with timed(out, "cache read: queries and rules section"):
        queries, known = cache.known()
    validated("load + validate, rules section known", queries, known)
    return {name: out[name] for name in ("load", "validate", "validate, queries known", "compile", "cache write",
                                         "cache read", "cache read: queries and rules section",
                                         "load + validate, rules section known")}


def start(config: Path) -> dict[str, tuple[float, float]]:
    """Everything ``newsmonitor run`` does before the daemon's first poll."""
    from monitor.cli.daemon import load_with_rules
    from monitor.daemon.service import Daemon

    out: dict[str, tuple[float, float]] = {}

    async def build() -> None:
        with timed(out, "run: start"):
            loaded, rule_cache, queries = load_with_rules(str(config))
            daemon = Daemon(loaded, workers=0, rule_cache=rule_cache, queries=queries)
        await daemon.close()

    asyncio.run(build())
    return out


def reload(config: Path) -> dict[str, tuple[float, float]]:
    """``Daemon.reload()`` of the same file, then of the file with one rule changed."""
    from monitor.cli.daemon import load_with_rules
    from monitor.daemon.service import Daemon

    out: dict[str, tuple[float, float]] = {}
    original = config.read_text(encoding="utf-8")

    async def run() -> None:
        loaded, rule_cache, queries = load_with_rules(str(config))
        daemon = Daemon(loaded, workers=0, rule_cache=rule_cache, queries=queries)
        try:
            with timed(out, "reload, rules unchanged"):
                assert await daemon.reload()
            config.write_text(original.replace('name: r7\n    query: "', 'name: r7\n    query: "changed OR '),
                              encoding="utf-8")
            with timed(out, "reload, one rule changed"):
                assert await daemon.reload()
        finally:
            config.write_text(original, encoding="utf-8")
            await daemon.close()

    asyncio.run(run())
    return out


CHILDREN: dict[str, Callable[[Path], dict[str, tuple[float, float]]]] = {
    "phases": phases, "start": start, "reload": reload,
}


# ---------------------------------------------------------------------------- the parent


def child(what: str, config: Path, env: dict[str, str]) -> dict[str, tuple[float, float]]:
    done = subprocess.run([sys.executable, __file__, "--child", what, str(config)], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return {name: (wall, cpu) for name, (wall, cpu) in json.loads(done.stdout.splitlines()[-1]).items()}


def command(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``newsmonitor ARGS`` (CPU: user + system of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run([sys.executable, "-m", "monitor", *args], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def one_round(config: Path, cache: Path, stories: Path, env: dict[str, str]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    shutil.rmtree(cache, ignore_errors=True)
    out.update(child("phases", config, env))
    shutil.rmtree(cache, ignore_errors=True)
    out["run: start, no cache"] = child("start", config, env)["run: start"]
    out["run: start, cache of these rules"] = child("start", config, env)["run: start"]
    out.update(child("reload", config, env))
    shutil.rmtree(cache, ignore_errors=True)
    out["check, no cache"] = command(["check", "--config", str(config)], env)
    out["match --config, no cache"] = command(["match", "--config", str(config), str(stories)], env)
    out["check, cache of these rules"] = command(["check", "--config", str(config)], env)
    out["match --config, cache of these rules"] = command(["match", "--config", str(config), str(stories)], env)
    return out


def span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:5.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:5.2f}–{high:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("WHAT", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, config = args.child
        print(json.dumps(CHILDREN[what](Path(config))))
        return
    if not CORPUS.exists():
        sys.exit(f"corpus not found at {CORPUS}")
    with tempfile.TemporaryDirectory(prefix="newsmonitor-startup-") as scratch:
        state = Path(scratch)
        config = state / "newsmonitor.yaml"
        write_config(config, rule_queries(args.rules, random.Random(args.seed)))
        stories = state / "stories.jsonl"
        stories.write_text(json.dumps({"id": 1, "title": "A story", "text": "Nothing much happened."}) + "\n")
        env = {**os.environ, "XDG_STATE_HOME": str(state), "PYTHONPATH": str(ROOT)}
        print(f"{args.rules} rules, {config.stat().st_size / 2**20:.1f} MiB of YAML; Python {sys.version.split()[0]}, "
              f"{os.cpu_count()} cores; {args.repeat} rounds, each step in a fresh process\n")
        rounds = [one_round(config, state / "newsmonitor" / "cache", stories, env) for _ in range(args.repeat)]
    print("| step | wall s | CPU s |")
    print("|---|---|---|")
    for name in rounds[0]:
        print(f"| {name} | {span([r[name][0] for r in rounds])} | {span([r[name][1] for r in rounds])} |")


if __name__ == "__main__":
    main()
