"""Score topic rules (``about:``) against keyword rules on the hand-labelled set in
tests/data/topics/ (stories.jsonl, needs.yaml; README.md there says how they were labelled).

For every information need the set holds the keyword ``query`` its user would write and the
``about`` description they would type. Four ways of matching are scored against the labels:

``query``   the keyword rule through newsmonitor's own matcher (monitor.rules.Matcher);
``about``   the cosine similarity of the description's embedding to the story's (its title
            and the start of its text) at or above a threshold, computed by
            :func:`score_about` alone;
``and``     query AND about, the combined rule (``query:`` plus ``about:``);
``or``      query OR about, as a check of what the model adds to the keywords.

Stories a need lists as borderline are left out of that need's scores. Micro averages sum
the counts of all needs; macro averages are the mean over needs of each need's precision,
recall and F1 (a need with no match has precision 0). ``about`` is also scored without a
threshold: the mean over needs of the average precision of the stories ranked by similarity.

    python benchmarks/topics.py                     # everything, at the threshold of best macro F1
    python benchmarks/topics.py --threshold 0.3     # the per-need rows at that threshold
    python benchmarks/topics.py --review            # unlabelled stories each method matched (for labellers)

The embedding model is loaded from the files inside the installed ``wordllama`` package;
nothing is downloaded. The results and what they mean: tests/data/topics/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "topics"
SWEEP = [round(0.05 + 0.01 * i, 2) for i in range(71)]
#: the precision the second calibrated threshold must reach
TARGET_PRECISION = 0.8
BOOTSTRAP_SEED = 17
BOOTSTRAP_DRAWS = 2000
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Need:
    name: str
    about: str
    query: str
    relevant: dict[str, str]
    borderline: dict[str, str]


@dataclass(frozen=True)
class Scores:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_stories(path: Path = DATA / "stories.jsonl") -> list[dict[str, str]]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def load_needs(path: Path = DATA / "needs.yaml") -> list[Need]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Need(n["name"], n["about"], n["query"], dict(n.get("relevant") or {}), dict(n.get("borderline") or {}))
            for n in raw]


def as_story(s: dict[str, str]) -> Story:
    return Story(source=s["outlet"], outlet=s["outlet"], url=s["url"], title=s["title"], text=s["text"],
                 lang=s["language"])


def keyword_matches(needs: Sequence[Need], stories: Sequence[dict[str, str]]) -> np.ndarray:
    """needs x stories, True where the need's query matches the story (newsmonitor's matcher)."""
    matcher = Matcher.compile([RuleSpec(n.name, n.query) for n in needs])
    row = {n.name: i for i, n in enumerate(needs)}
    out = np.zeros((len(needs), len(stories)), dtype=bool)
    for j, s in enumerate(stories):
        for m in matcher.match(as_story(s)):
            out[row[m.rule], j] = True
    return out


# --- the embedding model: the one place that knows it ----------------------------------------

_STORY_TEXT_CHARS = 1000


def _story_text(title: str, text: str) -> str:
    """The title, then the first ~1 000 characters of the text cut at a space."""
    title = _SPACE.sub(" ", title).strip()
    body = _SPACE.sub(" ", text[: _STORY_TEXT_CHARS * 2]).strip()
    if len(body) > _STORY_TEXT_CHARS:
        cut = body.rfind(" ", 0, _STORY_TEXT_CHARS + 1)
        body = body[: cut if cut > _STORY_TEXT_CHARS // 2 else _STORY_TEXT_CHARS]
    return f"{title}. {body}" if title and body else title or body


def _wordllama_from_package() -> Callable[[list[str]], np.ndarray]:
    """WordLlama l2_supercat at 256 dimensions, built from the two files its wheel carries:
    the token table (safetensors) and the tokenizer (tokenizers' JSON). ``WordLlama.load()``
    is not used: it can fall back to huggingface.co, and importing wordllama configures the
    root logger. A text's vector is the normalised sum of its tokens' rows."""
    import importlib.util

    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("benchmarks/topics.py needs the wordllama package: pip install wordllama")
    root = Path(next(iter(spec.submodule_search_locations)))
    table = load_file(str(root / "weights" / "l2_supercat_256.safetensors"))["embedding.weight"].astype(np.float32)
    tokenizer = Tokenizer.from_file(str(root / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def embed(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
        for i, enc in enumerate(tokenizer.encode_batch(texts, add_special_tokens=False)):
            if enc.ids:
                out[i] = table[np.clip(enc.ids, 0, table.shape[0] - 1)].sum(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)

    return embed


def score_about(descriptions: Sequence[str], stories: Sequence[dict[str, str]]) -> np.ndarray:
    """descriptions x stories: the cosine similarity of each description's embedding to each
    story's (its title and the start of its text). Every embedding of this benchmark is made
    here, so switching the model (e.g. to monitor.rules.topics' load_model and story_text)
    changes this function only."""
    embed = _wordllama_from_package()
    rules = embed(list(descriptions))
    texts = embed([_story_text(s["title"], s["text"]) for s in stories])
    return rules @ texts.T


# --- scoring --------------------------------------------------------------------------------


def labels(needs: Sequence[Need], ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(relevant, scored): needs x stories booleans; scored is False for borderline pairs."""
    col = {sid: j for j, sid in enumerate(ids)}
    relevant = np.zeros((len(needs), len(ids)), dtype=bool)
    scored = np.ones_like(relevant)
    for i, n in enumerate(needs):
        for sid in n.relevant:
            relevant[i, col[sid]] = True
        for sid in n.borderline:
            scored[i, col[sid]] = False
    return relevant, scored


def per_need(pred: np.ndarray, relevant: np.ndarray, scored: np.ndarray) -> list[Scores]:
    return [Scores(int((p & r & s).sum()), int((p & ~r & s).sum()), int((~p & r & s).sum()))
            for p, r, s in zip(pred, relevant, scored, strict=True)]


def summary(rows: list[Scores]) -> tuple[Scores, float, float, float]:
    """The micro counts and the macro precision, recall and F1."""
    micro = Scores(sum(r.tp for r in rows), sum(r.fp for r in rows), sum(r.fn for r in rows))
    n = len(rows)
    return micro, sum(r.precision for r in rows) / n, sum(r.recall for r in rows) / n, sum(r.f1 for r in rows) / n


def average_precision(sims: np.ndarray, relevant: np.ndarray, scored: np.ndarray) -> list[float]:
    out = []
    for s, r, k in zip(sims, relevant, scored, strict=True):
        order = np.argsort(-s[k], kind="stable")
        hits = r[k][order]
        if not hits.any():
            out.append(0.0)
            continue
        ranks = np.flatnonzero(hits) + 1
        out.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
    return out


def line(label: str, rows: list[Scores]) -> str:
    micro, mp, mr, mf = summary(rows)
    return (f"{label:<22} micro P {micro.precision:.3f} R {micro.recall:.3f} F1 {micro.f1:.3f}   "
            f"macro P {mp:.3f} R {mr:.3f} F1 {mf:.3f}   (tp {micro.tp}, fp {micro.fp}, fn {micro.fn})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threshold", type=float, help="the about threshold of the per-need rows (default: best macro F1)")
    ap.add_argument("--review", action="store_true", help="list unlabelled stories each method matches, per need")
    ap.add_argument("--examples", type=int, default=2, help="example titles per need where the model helps or hurts")
    args = ap.parse_args(argv)

    stories, needs = load_stories(), load_needs()
    ids = [s["id"] for s in stories]
    title = {s["id"]: s["title"] for s in stories}
    relevant, scored = labels(needs, ids)
    print(f"{len(stories)} stories, {len(needs)} needs, {int(relevant.sum())} relevant pairs, "
          f"{int((~scored).sum())} borderline pairs left out, "
          f"{len(stories) * len(needs) - int(relevant.sum()) - int((~scored).sum())} irrelevant pairs")

    t0 = time.perf_counter()
    keyword = keyword_matches(needs, stories)
    t1 = time.perf_counter()
    sims = score_about([n.about for n in needs], stories)
    t2 = time.perf_counter()
    print(f"keyword matching {t1 - t0:.2f} s (compile and match); model load and embedding {t2 - t1:.2f} s\n")

    print("about, threshold sweep (micro / macro over needs):")
    print(f"{'thr':>5} {'micro P':>8} {'R':>6} {'F1':>6}   {'macro P':>8} {'R':>6} {'F1':>6}   "
          f"{'AND mF1':>8} {'OR mF1':>7}")
    sweep: list[tuple[float, Scores, float, float, float, float, float]] = []
    for thr in SWEEP:
        about = sims >= thr
        micro, mp, mr, mf = summary(per_need(about, relevant, scored))
        and_f = summary(per_need(about & keyword, relevant, scored))[3]
        or_f = summary(per_need(about | keyword, relevant, scored))[3]
        sweep.append((thr, micro, mp, mr, mf, and_f, or_f))
        if round(thr * 100) % 5 == 0:
            print(f"{thr:5.2f} {micro.precision:8.3f} {micro.recall:6.3f} {micro.f1:6.3f}   "
                  f"{mp:8.3f} {mr:6.3f} {mf:6.3f}   {and_f:8.3f} {or_f:7.3f}")
    best = max(sweep, key=lambda r: (r[4], -r[0]))
    best_and = max(sweep, key=lambda r: (r[5], -r[0]))
    precise = [r for r in sweep if r[1].precision >= TARGET_PRECISION and r[1].tp]
    precise_macro = [r for r in sweep if r[2] >= TARGET_PRECISION]
    print(f"\nbest macro F1 of about alone: {best[4]:.3f} at threshold {best[0]:.2f}")
    print(f"best macro F1 of query AND about: {best_and[5]:.3f} at threshold {best_and[0]:.2f}")
    if precise:
        p = precise[0]
        print(f"lowest threshold with micro precision >= {TARGET_PRECISION}: {p[0]:.2f} "
              f"(micro P {p[1].precision:.3f} R {p[1].recall:.3f}, macro F1 {p[4]:.3f})")
    else:
        print(f"no threshold reaches micro precision {TARGET_PRECISION}")
    if precise_macro:
        p = precise_macro[0]
        print(f"lowest threshold with macro precision >= {TARGET_PRECISION}: {p[0]:.2f} "
              f"(macro P {p[2]:.3f} R {p[3]:.3f} F1 {p[4]:.3f})")
    else:
        top = max(sweep, key=lambda r: r[2])
        print(f"no threshold reaches macro precision {TARGET_PRECISION} (highest: {top[2]:.3f} at {top[0]:.2f}; "
              "above it, needs with no match at all count as precision 0)")
    aps = average_precision(sims, relevant, scored)
    print(f"about without a threshold: mean average precision {np.mean(aps):.3f}")

    thr = best[0] if args.threshold is None else args.threshold
    about = sims >= thr
    methods = {"query": keyword, f"about >= {thr:.2f}": about, "query AND about": keyword & about,
               "query OR about": keyword | about}
    rows = {name: per_need(pred, relevant, scored) for name, pred in methods.items()}
    print(f"\nat about threshold {thr:.2f}:")
    for name, r in rows.items():
        print(line(name, r))

    print(f"\nper need (P/R/F1; pos = relevant stories, bl = borderline), about at {thr:.2f}:")
    print(f"{'need':<34} {'pos':>3} {'bl':>2}  {'query':>14}  {'about':>14}  {'AND':>14}  {'OR':>14}  {'AP':>5}")
    for i, n in enumerate(needs):
        cells = "  ".join(f"{r[i].precision:.2f}/{r[i].recall:.2f}/{r[i].f1:.2f}" for r in rows.values())
        print(f"{n.name:<34} {len(n.relevant):>3} {len(n.borderline):>2}  {cells}  {aps[i]:5.2f}")

    english = np.array([s["language"] == "en" for s in stories])
    other = relevant & scored & ~english
    if other.any():
        print(f"\nrelevant pairs in other languages ({int(other.sum())}; the queries and the model are English): "
              + ", ".join(f"{name} finds {int((pred & other).sum())}" for name, pred in methods.items()))

    rng = np.random.default_rng(BOOTSTRAP_SEED)
    draws = rng.integers(0, len(needs), size=(BOOTSTRAP_DRAWS, len(needs)))
    f1 = {name: np.array([x.f1 for x in r]) for name, r in rows.items()}
    print(f"\nmacro F1 minus the query's, 95 % interval over {BOOTSTRAP_DRAWS} resamplings of the needs "
          f"(seed {BOOTSTRAP_SEED}):")
    for name, values in f1.items():
        if name == "query":
            continue
        diffs = (values[draws] - f1["query"][draws]).mean(axis=1)
        lo, hi = np.percentile(diffs, [2.5, 97.5])
        print(f"  {name:<20} {values.mean() - f1['query'].mean():+.3f}  [{lo:+.3f}, {hi:+.3f}]")

    # the best each need could do with a threshold of its own: how much one default costs
    best_thr = []
    best_f1 = []
    for i in range(len(needs)):
        scores = [(per_need(sims[i:i + 1] >= t, relevant[i:i + 1], scored[i:i + 1])[0].f1, t) for t in SWEEP]
        top = max(f for f, _ in scores)
        good = [t for f, t in scores if f == top]
        best_f1.append(top)
        best_thr.append((good[0] + good[-1]) / 2)
    print(f"\nabout with each need's own best threshold: macro F1 {np.mean(best_f1):.3f} (one default: {best[4]:.3f}); "
          f"those thresholds: median {np.median(best_thr):.2f}, quartiles {np.percentile(best_thr, 25):.2f}"
          f"-{np.percentile(best_thr, 75):.2f}, range {min(best_thr):.2f}-{max(best_thr):.2f}")

    kw_rows, ab_rows = rows["query"], rows[f"about >= {thr:.2f}"]
    helps = [i for i in range(len(needs)) if ab_rows[i].f1 > kw_rows[i].f1 + 1e-9]
    hurts = [i for i in range(len(needs)) if ab_rows[i].f1 < kw_rows[i].f1 - 1e-9]
    same = len(needs) - len(helps) - len(hurts)
    print(f"\nthe model does better than the keywords on {len(helps)} needs, worse on {len(hurts)}, "
          f"the same on {same}")

    def examples(i: int, mask: np.ndarray) -> str:
        picked = [j for j in np.argsort(-sims[i]) if mask[j]][: args.examples]
        return "; ".join(f"'{title[ids[j]][:70]}' ({sims[i, j]:.2f})" for j in picked)

    print("\nwhere the model helps (relevant stories the query misses / the query's false matches it avoids):")
    for i in helps:
        found = about[i] & ~keyword[i] & relevant[i] & scored[i]
        avoided = keyword[i] & ~about[i] & ~relevant[i] & scored[i]
        print(f"  {needs[i].name}: F1 {kw_rows[i].f1:.2f} -> {ab_rows[i].f1:.2f}; "
              f"found: {examples(i, found) or '-'}; avoided: {examples(i, avoided) or '-'}")
    print("\nwhere the model hurts (about's false matches / relevant stories it misses):")
    for i in hurts:
        wrong = about[i] & ~relevant[i] & scored[i]
        missed = ~about[i] & relevant[i] & scored[i]
        print(f"  {needs[i].name}: F1 {kw_rows[i].f1:.2f} -> {ab_rows[i].f1:.2f}; "
              f"false: {examples(i, wrong) or '-'}; missed: {examples(i, missed) or '-'}")

    if args.review:
        print("\nunlabelled stories matched (q = query, a = about at the threshold; similarity in brackets):")
        for i, n in enumerate(needs):
            known = set(n.relevant) | set(n.borderline)
            rows_ = [(sims[i, j], j) for j in range(len(ids)) if ids[j] not in known and (keyword[i, j] or about[i, j])]
            top = [(sims[i, j], j) for j in np.argsort(-sims[i])[:10] if ids[j] not in known]
            print(f"  {n.name}:")
            for s, j in sorted(set(rows_) | set(top), reverse=True):
                how = ("q" if keyword[i, j] else "-") + ("a" if about[i, j] else "-")
                print(f"    {how} ({s:.2f}) {ids[j]}  {title[ids[j]][:80]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
