"""Benchmark the rule matcher on rule sets written in different ways, in-process and through
``newsmonitor match``.

Rules are written from one half of the real article texts in
../shared/corpus/articles/index.jsonl (ground truth) and matched against the other half, as
real rules are written without seeing the stories that will arrive. Stories are the story
half's texts, cut or padded (with texts of the same half) to ~5 KB. Rule generators:

``calibrated``  names, wildcards, phrases, AND / OR / NOT mixes, NEAR and field terms with words
                rare in the rule half, then calibrated: only as many rules that match as give a
                mean rule rate of ``--rate`` (0.02 %: ~20 matches per story at 100 000 rules).
``mix``         an independent mix: words that occur in exactly one article of the rule half
                (so they match by chance, as watch rules do): a third two-word phrases, the rest
                ``a b``, ``(a OR b) c``, ``a NEAR/10 b`` and ``a b NOT c``. Not calibrated.
``alerts``      what alert users write: names of people, places and companies (one word, or a
                quoted phrase), OR-lists of them and of topic words, topic words the news uses
                all the time combined with a name, NEAR pairs, NOT exclusions, wildcards and
                ``title:`` terms; calibrated as ``calibrated`` is.
``worst``       1 000 rules of very common words: every story matches ~430 of them.
``worst+99k``   those 1 000 and 99 000 ``calibrated`` rules.

Each line prints the matches per story, so the calibration is visible. Times are CPU time
of this process (``time.process_time``; the machine is shared, CPU time is the steadier
figure) and, in brackets, wall time. *cold* is the first pass over the stories with the word
caches empty, as in a daemon that has just started (every story is matched for the first
time: cutting, analysing its new words, matching); *first sight* is the same pass once the
caches hold the words of the 91 other articles, as in a daemon that has run a while; *warm*
is the median of three later passes, every word known. Stories share their padding, so a
cold pass meets some of its text twice; the padding is at most half a story.

A match's evidence (hits and snippets) is built when it is first read. Each rate is given
twice: deciding which rules match (``Matcher.match`` alone, what a count or a filter pays),
then ``+ ev``: the same pass reading every match's hits and snippets, as the daemon does
for every match it alerts and as ``newsmonitor match`` prints.

    python benchmarks/match.py [--sizes 1000,10000,100000] [--generators calibrated,mix,alerts,worst]
    python benchmarks/match.py --check DIR     # dump every answer to DIR, or compare with the dump there
    python benchmarks/match.py --cli           # the same stories through `newsmonitor match` (subprocess)

``--check DIR`` writes ``DIR/NAME-SIZE.jsonl.gz`` (per story: every match's rule, hits and
snippets) when absent, and otherwise compares this run's answers with it, line by line, and
exits 1 on any difference: run it once on the code before a change and once after.

Numbers are from one process on a shared 2-core machine: expect noise of ±20 % on wall time.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import gzip
import itertools
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import monitor
from monitor.models import Match, Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules import text as rules_text
from monitor.rules.document import StoryDoc
from monitor.rules.evaluate import Evaluation
from monitor.rules.snippets import make_snippets

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "articles" / "index.jsonl"
WORD = re.compile(r"[A-Za-z][a-z]{3,}")
#: two or three capitalised words after a lower-case one: a name inside a sentence
ENTITY = re.compile(r"(?<=[a-z,] )([A-Z][a-z]{2,}(?: [A-Z][a-z]{2,}){1,2})\b")
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


class Vocabulary:
    """The words of the rule half that the generators draw from."""

    def __init__(self, stories: list[Story]) -> None:
        key_df: Counter[str] = Counter()
        surface_df: Counter[str] = Counter()
        words: set[str] = set()
        bigrams: Counter[tuple[str, str]] = Counter()
        entities: Counter[str] = Counter()
        self.folds_by_story: list[list[str]] = []
        for s in stories:
            text = s.title + "\n" + s.text
            parts = rules_text.analyse_words(text)
            key_df.update({k for p in parts for k in p[rules_text.KEYS]})
            self.folds_by_story.append(sorted({p[rules_text.FOLD] for p in parts}))
            found = WORD.findall(s.title + " " + s.text)
            words.update(w.lower() for w in found)
            surface_df.update({w.lower() for w in found})
            bigrams.update(set(itertools.pairwise(found)))
            entities.update(set(ENTITY.findall(text)))
        n = len(stories)
        self.n = n

        def df(word: str) -> int:
            return max(key_df[k] for k in rules_text.word_keys(word, "en"))

        self.df = df
        lower_seen = {w for s in stories for w in WORD.findall(s.title + " " + s.text) if w.islower()}
        #: in <= 1 % of the articles, counting every inflection; mid: <= 5 %; common: >= 50 %
        self.rare = sorted(w for w in words if df(w) <= max(1, n // 100))
        self.mid = sorted(w for w in words if max(1, n // 100) < df(w) <= n // 20)
        self.common = sorted(w for w in words if df(w) >= n // 2)
        #: bigrams seen once whose words are not common
        self.phrases = sorted(b for b, c in bigrams.items() if c == 1 and df(b[0].lower()) <= n // 20
                              and df(b[1].lower()) <= n // 5)
        #: capitalised everywhere they occur (people, places, companies), the usual subject of an alert
        self.names = sorted({w for w in words if w not in lower_seen and df(w) <= max(1, n // 100) and len(w) >= 5})
        self.rare_prefixes = [w[: len(w) - 2] for w in self.names + [w for w in self.rare if len(w) >= 11]
                              if len(w) >= 8 and self.prefix_df(w[: len(w) - 2]) <= max(1, n // 100)]
        #: words of exactly one article (as written, any inflection aside), and phrases of two of them
        self.once = sorted(w for w, c in surface_df.items() if c == 1)
        once = set(self.once)
        self.once_phrases = sorted(b for b in bigrams if b[0].lower() in once and b[1].lower() in once)
        #: names of two or three words
        self.entities = sorted(entities)

    def prefix_df(self, prefix: str) -> int:
        hits = 0
        for folds in self.folds_by_story:
            i = bisect.bisect_left(folds, prefix)
            hits += i < len(folds) and folds[i].startswith(prefix)
        return hits

    def describe(self) -> str:
        return (f"vocabulary {len(self.rare)} rare + {len(self.mid)} mid words, {len(self.common)} common words, "
                f"{len(self.phrases)} phrases; {len(self.once)} one-article words; {len(self.entities)} entities")


def calibrated_pool(count: int, v: Vocabulary, rng: random.Random) -> list[RuleSpec]:
    """Single-word rules are names or wildcards of names and long rare words; words combined
    by AND or NEAR are rare or mid-frequency; words under OR and NOT are any of them."""
    both = v.rare + v.mid
    rules = []
    for i in range(count):
        kind = i % 10
        a, b, c = rng.choice(both), rng.choice(both), rng.choice(both)
        p = rng.choice(v.phrases)
        if kind == 0:
            q = rng.choice(v.names)
        elif kind == 1:
            q = f"{rng.choice(v.rare_prefixes)}*"
        elif kind == 2:
            q = f'"{p[0]} {p[1]}"'
        elif kind == 3:
            q = f"{a} {b}"
        elif kind == 4:
            q = f"({rng.choice(v.names)} OR {b}) AND {c}"
        elif kind == 5:
            q = f"{a} NEAR/10 {b}"
        elif kind == 6:
            q = f"{rng.choice(v.names)} -{b}"
        elif kind == 7:
            q = f'title:{rng.choice(v.names)} OR "{p[0]} {p[1]}"'
        elif kind == 8:
            q = f'"{p[0]} {p[1]}" NEAR/20 ({b} OR {c[:6]}*)'
        else:
            q = f"{rng.choice(v.names)} AND NOT ({b} OR {c})"
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


def mix_rules(count: int, v: Vocabulary, rng: random.Random) -> list[RuleSpec]:
    """Words of one article of the rule half: a third phrases, then ``a b``, ``(a OR b) c``,
    ``a NEAR/10 b`` and ``a b NOT c`` in equal shares."""
    rules = []
    for i in range(count):
        kind = i % 12
        a, b, c = rng.choice(v.once), rng.choice(v.once), rng.choice(v.once)
        if kind < 4:
            p = rng.choice(v.once_phrases)
            q = f'"{p[0]} {p[1]}"'
        elif kind < 6:
            q = f"{a} {b}"
        elif kind < 8:
            q = f"({a} OR {b}) {c}"
        elif kind < 10:
            q = f"{a} NEAR/10 {b}"
        else:
            q = f"{a} {b} NOT {c}"
        rules.append(RuleSpec(f"m{i}", q))
    return rules


#: what alert rules combine with a subject: events of the news, words every other story has
TOPICS = [
    "acquisition", "acquire", "merger", "takeover", "bankruptcy", "insolvency", "layoffs", "redundancies",
    "lawsuit", "sued", "litigation", "settlement", "fine", "penalty", "investigation", "probe", "inquiry",
    "recall", "outage", "breach", "hack", "cyberattack", "ransomware", "leak", "fraud", "scandal",
    "bribery", "corruption", "resign", "resignation", "appointed", "chairman", "earnings", "revenue",
    "profit", "loss", "dividend", "shares", "stock", "downgrade", "rating", "default", "debt", "bond",
    "funding", "investment", "investor", "partnership", "contract", "deal", "tender", "launch", "unveil",
    "product", "patent", "regulator", "regulation", "ban", "sanction", "tariff", "export", "import",
    "strike", "protest", "election", "vote", "poll", "candidate", "campaign", "policy", "bill", "court",
    "judge", "ruling", "verdict", "appeal", "arrest", "charged", "police", "crash", "accident", "explosion",
    "fire", "flood", "earthquake", "storm", "death", "killed", "injured", "attack", "war", "ceasefire",
    "troops", "military", "missile", "drone", "nuclear", "climate", "emissions", "energy", "oil", "gas",
    "prices", "inflation", "recession", "growth", "jobs", "unemployment", "housing", "market", "trade",
    "supply", "shortage", "vaccine", "virus", "outbreak", "hospital", "health", "school", "university",
    "research", "study", "report", "survey", "warning", "crisis", "emergency", "rescue", "evacuation",
    "union", "wages", "salary", "pension", "tax", "budget", "spending", "subsidy", "grant", "expansion",
    "closure", "plant", "factory", "store", "opening", "shutdown", "delay", "cancel", "suspend", "review",
    "audit", "complaint", "criticism", "controversy", "boycott", "award", "record", "alliance", "agreement",
    "treaty", "summit", "talks", "negotiations", "visit", "meeting", "announcement", "statement",
    "interview"
]


def alert_rules(count: int, v: Vocabulary, rng: random.Random) -> list[RuleSpec]:
    """Rules as alert users write them: a subject (a person, place or company: a quoted name
    of two or three words, or one name) alone or with topic words (``TOPICS``), OR-lists of
    subjects and of topics, NEAR pairs, NOT exclusions, wildcards of topic words and
    ``title:`` terms."""

    def subject() -> str:
        return f'"{rng.choice(v.entities)}"' if rng.random() < 0.6 else rng.choice(v.names)

    def topics(k: int) -> str:
        words = rng.sample(TOPICS, k)
        return words[0] if k == 1 else "(" + " OR ".join(words) + ")"

    rules = []
    for i in range(count):
        kind = i % 10
        if kind == 0:
            q = subject()
        elif kind == 1:
            q = f"{subject()} AND {topics(3)}"
        elif kind == 2:
            q = f"({subject()} OR {subject()}) NEAR/10 {topics(2)}"
        elif kind == 3:
            q = f"{subject()} -{rng.choice(TOPICS)} -{rng.choice(TOPICS)}"
        elif kind == 4:
            q = f"title:{subject()} OR title:{subject()}"
        elif kind == 5:
            q = f"{subject()} {topics(2)} NOT {topics(2)}"
        elif kind == 6:
            q = f"{subject()} {rng.choice(TOPICS)[:6]}*"
        elif kind == 7:
            q = f"({subject()} OR {subject()} OR {subject()}) AND {topics(4)}"
        elif kind == 8:
            q = f"{subject()} NEAR/5 {rng.choice(TOPICS)}"
        else:
            q = f"{subject()} {rng.choice(TOPICS)}"
        rules.append(RuleSpec(f"a{i}", q))
    return rules


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


def answer(matches: list[Match]) -> list[object]:
    """Everything a match says, as JSON: rule, hits, snippets."""
    return [[m.rule, [[h.term, h.field, h.position, h.start, h.end] for h in m.hits],
             [[s.text, [list(x) for x in s.spans], s.field] for s in m.snippets]] for m in matches]


def check(path: Path, matcher: Matcher, stories: list[Story]) -> bool:
    """Writes every answer to ``path``, or compares with what is there; True when equal."""
    lines = [json.dumps(answer(matcher.match(s)), ensure_ascii=False) for s in stories]
    if not path.exists():
        with gzip.open(path, "wt", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        print(f"  wrote {path} ({sum(len(json.loads(line)) for line in lines)} matches)")
        return True
    with gzip.open(path, "rt", encoding="utf-8") as dump:
        before = dump.read().splitlines()
    differ = [i for i, (a, b) in enumerate(zip(before, lines, strict=False)) if a != b]
    if len(before) != len(lines):
        differ.append(min(len(before), len(lines)))
    total = sum(len(json.loads(line)) for line in lines)
    if differ:
        print(f"  DIFFERENT from {path}: stories {differ[:10]} (of {len(lines)})")
        i = differ[0]
        if i < min(len(before), len(lines)):
            print(f"    before: {before[i][:400]}\n    after:  {lines[i][:400]}")
        return False
    print(f"  same as {path}: {len(lines)} stories, {total} matches (rules, hits and snippets)")
    return True


def rates(matcher: Matcher, stories: list[Story], passes: int, read: bool = False,
          settle: bool = False) -> list[tuple[float, float]]:
    """(stories per CPU second, stories per wall second) of ``passes`` passes over ``stories``;
    ``read``: every match's evidence is read too.

    Each pass starts with nothing left to collect. ``match`` pauses the cyclic collector, so
    a pass that fills the word caches (cold, first sight) leaves tens of thousands of new
    objects for the first collection after it, which walks them all (~0.3 s at 100 000
    rules after the 91 articles): with ``settle`` that collection is timed as part of the
    pass that built them, not charged to the next one."""
    out = []
    for _ in range(passes):
        gc.collect()
        c0, w0 = time.process_time(), time.perf_counter()
        if read:
            for s in stories:
                for m in matcher.match(s):
                    m.snippets  # noqa: B018 (builds the hits and snippets)
        else:
            for s in stories:
                matcher.match(s)
        if settle:
            gc.collect()
        out.append((len(stories) / (time.process_time() - c0), len(stories) / (time.perf_counter() - w0)))
    return out


def run(label: str, rules: list[RuleSpec], stories: list[Story], others: list[Story], args: argparse.Namespace) -> bool:
    clear_caches()
    gc.collect()
    t0 = time.perf_counter()
    matcher = Matcher.compile(rules)
    compile_s = time.perf_counter() - t0
    # size of the compiled matcher, measured on a second build (tracemalloc slows it down),
    # with the word-frequency table it reads counted
    try:
        from monitor.rules import frequency
    except ImportError:  # the code before word frequencies (a --check run on it)
        pass
    else:
        frequency.rates.cache_clear()
    tracemalloc.start()
    again = Matcher.compile(rules)
    size_mib = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    del again
    gc.collect()
    [(cold_cpu, cold_wall)] = rates(matcher, stories, 1, settle=True)
    clear_caches()
    [(cold_ev, _)] = rates(matcher, stories, 1, read=True, settle=True)
    warm = rates(matcher, stories, 3)
    warm_cpu = statistics.median(r[0] for r in warm)
    warm_wall = statistics.median(r[1] for r in warm)
    warm_ev = statistics.median(r[0] for r in rates(matcher, stories, 3, read=True))
    # a daemon that has run a while: the caches hold the words of other stories (the rule
    # half's articles), and each story is matched for the first time
    seen = []
    for read in (False, True):
        clear_caches()
        for s in others:
            matcher.match(s)
        [(rate, _)] = rates(matcher, stories, 1, read=read, settle=True)
        seen.append(rate)
    counts = [len(matcher.match(s)) for s in stories]
    cands = statistics.mean(len(matcher.candidates(s)) for s in stories[:50])
    per_rule = Counter(m.rule for s in stories for m in matcher.match(s))
    share = max(per_rule.values()) / len(stories) * 100 if per_rule else 0.0
    if os.environ.get("BENCH_DEBUG"):
        by_name = {r.name: r.query for r in rules}
        print([(by_name[name], n) for name, n in per_rule.most_common(8)])
    naive_col = ""
    if args.naive:
        sample = 20 if len(rules) <= 1_000 else 5 if len(rules) <= 10_000 else 2
        naive_col = f" {1 / naive(matcher, stories[:sample]):6.1f} |"
    print(f"| {label:<11} | {len(rules):>7} | {compile_s:6.2f} s | {size_mib:5.0f} MiB | {cold_cpu:5.0f} ({cold_wall:5.0f}) "
          f"| {cold_ev:5.0f} | {seen[0]:5.0f} | {seen[1]:5.0f} "
          f"| {warm_cpu:5.0f} ({warm_wall:5.0f}) | {warm_ev:5.0f} | {cands:6.1f} | {statistics.mean(counts):6.1f} "
          f"| {share:5.1f} % |"
          f"{naive_col}")
    sys.stdout.flush()
    ok = True
    if args.check:
        ok = check(Path(args.check) / f"{label}-{len(rules)}.jsonl.gz", matcher, stories)
    if args.cli:
        cli(label, rules, stories)
    return ok


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed_cli(rules_file: Path, stories_file: Path) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, output lines) of one ``newsmonitor match`` run."""
    # the same code as this process runs
    env = {**os.environ, "PYTHONPATH": str(Path(monitor.__file__).parents[1])}
    c0, w0 = _child_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "monitor", "match", "--rules", str(rules_file), str(stories_file)],
                          capture_output=True, env=env, check=False)
    wall, cpu = time.perf_counter() - w0, _child_cpu() - c0
    if done.returncode != 0:
        sys.exit(f"newsmonitor match failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return cpu, wall, done.stdout.count(b"\n")


def cli(label: str, rules: list[RuleSpec], stories: list[Story]) -> None:
    """The same rules and stories through ``newsmonitor match --rules FILE STORIES.jsonl``
    (JSON in and out, each story's language decided as the daemon decides it).

    Per story, in this process: what the command does for each line (``output_lines``: parse
    the JSON, decide the language, match, write the output line),
    cold (word caches empty, as in a fresh process) and warm, and the share of it that is
    not matching. Whole runs, as subprocesses: start-up on no story (imports, reading the
    rules file, compiling), the first story's extra (the language detector's model loads
    then), and all the stories once and three times."""
    from monitor.cli.rules import output_lines
    from monitor.extract.language import story_language

    lines = [json.dumps({"id": i, "title": s.title, "text": s.text, "url": s.url, "source": s.source,
                         "lang": s.lang}, ensure_ascii=False) for i, s in enumerate(stories)]
    from monitor.cli.rules import story_from_json
    from monitor.rules.text import lemma_language

    story_language("en", "", "warm up the language detector " * 10)
    matcher = Matcher.compile(rules)
    # the text decides a story's language: a story in a language new to the matcher has it
    # build that language's index first (once per process), timed apart
    langs = sorted({lemma_language(story_from_json(json.loads(line)).lang) for line in lines} - {"en"})
    c0 = time.process_time()
    for lang in langs:
        matcher._index(lang)
    index_s = time.process_time() - c0

    def one_pass() -> tuple[float, float]:
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in output_lines(matcher, lines):
            pass
        return len(lines) / (time.process_time() - c0), len(lines) / (time.perf_counter() - w0)

    clear_caches()
    gc.collect()
    cold = one_pass()
    warm = sorted(one_pass() for _ in range(3))[1]
    c0 = time.process_time()
    for line in lines:
        obj = json.loads(line)
        story_language(obj["lang"], obj["title"], obj["text"])
    language_us = (time.process_time() - c0) / len(lines) * 1e6
    print(f"|   CLI {label:<5} | {len(rules):>7} | per story (in process) | {cold[0]:5.0f} ({cold[1]:5.0f}) "
          f"| {warm[0]:5.0f} ({warm[1]:5.0f}) | language detection {language_us:.0f} us a story; "
          f"indexes of {', '.join(langs) or 'no'} other languages {index_s:.2f} s |")
    with tempfile.TemporaryDirectory() as tmp:
        rules_file = Path(tmp) / "rules.yaml"
        rules_file.write_text("".join(f"- name: {json.dumps(r.name)}\n  query: {json.dumps(r.query)}\n"
                                      for r in rules), encoding="utf-8")
        runs = {}
        for name, given in (("none", []), ("one", lines[:1]), ("all", lines), ("3 x all", lines * 3)):
            path = Path(tmp) / "stories.jsonl"
            path.write_text("".join(line + "\n" for line in given), encoding="utf-8")
            timed = [_timed_cli(rules_file, path) for _ in range(2)]
            assert all(out == len(given) for _, _, out in timed)
            runs[name] = (min(t[0] for t in timed), min(t[1] for t in timed))
        (start, start_wall), (one, _), (every, every_wall), (three, three_wall) = runs.values()
        print(f"|   CLI {label:<5} | {len(rules):>7} | subprocess, CPU s (wall): start-up {start:.2f} ({start_wall:.2f}), "
              f"first story +{one - start:.2f}, {len(lines)} stories {every:.2f} ({every_wall:.2f}), "
              f"3 x {len(lines)} {three:.2f} ({three_wall:.2f}) |")
    sys.stdout.flush()


Generator = Callable[[int], list[RuleSpec]]


def generators(v: Vocabulary, stories: list[Story], rate: float, rng: random.Random) -> dict[str, Generator]:
    return {
        "calibrated": lambda size: calibrate(calibrated_pool(size * 2, v, rng), stories, size, rate, rng),
        "uncalibrated": lambda size: calibrated_pool(size, v, rng),
        "mix": lambda size: mix_rules(size, v, rng),
        "alerts": lambda size: calibrate(alert_rules(size * 2, v, rng), stories, size, rate, rng),
    }


def plan(args: argparse.Namespace) -> Iterator[tuple[str, int]]:
    sizes = [int(s) for s in args.sizes.split(",")]
    for name in args.generators.split(","):
        if name in ("worst", "worst+99k"):
            yield name, 1_000 if name == "worst" else 100_000
            continue
        for size in sizes:
            yield name, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--generators", default="calibrated,mix,alerts,worst,worst+99k",
                        help="of calibrated, uncalibrated, mix, alerts, worst, worst+99k")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.02, help="mean share of stories a rule matches, in %%")
    parser.add_argument("--check", metavar="DIR", help="dump every answer to DIR, or compare with the dump there")
    parser.add_argument("--cli", action="store_true", help="also time `newsmonitor match` on the same input")
    parser.add_argument("--naive", action="store_true", help="also time evaluating every rule on every story")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"corpus not found at {CORPUS}")
    if args.check:
        Path(args.check).mkdir(parents=True, exist_ok=True)
    texts = load_texts()
    # rules are written from one half of the articles and matched against the other half,
    # as real rules are written without knowing the stories that will arrive
    stories = make_stories(texts[1::2])
    others = make_stories(texts[0::2])
    v = Vocabulary(others)
    print(f"{len(stories)} stories of ~{STORY_BYTES} bytes (rules drawn from {len(texts) - len(stories)} other "
          f"articles); {v.describe()}; Python {sys.version.split()[0]}, one core\n")
    print("| generator   |   rules | compile  | matcher  | cold/s CPU (wall) | + ev | first sight/s | + ev "
          "| warm/s CPU (wall) | + ev | cands  | match/story | busiest rule |" + (" naive/s |" if args.naive else ""))
    print("|" + "---|" * (13 + args.naive))
    ok = True
    for name, size in plan(args):
        # each rule set from its own seed: a run of some generators gives the same rules as a run of all
        rng = random.Random(f"{args.seed}-{name}-{size}")
        made = generators(v, stories, args.rate / 100, rng)
        if name == "worst":
            rules = heavy_rules(1_000, v.common, rng)
        elif name == "worst+99k":
            rules = heavy_rules(1_000, v.common, rng) + made["calibrated"](99_000)
        else:
            rules = made[name](size)
        ok = run(name, rules, stories, others, args) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
