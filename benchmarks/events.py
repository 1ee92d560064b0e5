"""Measure event grouping: pairs of write-ups merged correctly and wrongly.

Usage::

    /work/main/.venv/bin/python benchmarks/events.py [--lead-words 120] [--orders 20]

Data: ``tests/data/events/stories.jsonl``, the 181 article pages of the shared corpus's
scrapinghub set (published within three days of November 2019), each with its title, the
first 1200 characters of its human-annotated text and an event label read by hand
(``tests/data/events/labels.json`` says why each group is one event). 14 events have 2 to
4 write-ups by different outlets (41 positive pairs); every other pair is negative, among
them the hard ones: the same company, person, place or topic in a different event (WeWork's
layoffs and its investigation, Europa's water and Titan's map, Epstein's guards and Prince
Andrew, the Stadia launch and a WSJ column on game subscriptions). The pairs listed as
unsure in labels.json are left out.

Prints, per threshold, pairwise precision/recall/F1 of "same event when the cosine
similarity of the two profiles >= t"; the worst negatives and weakest positives at the
default; then the daemon's way (:class:`monitor.identity.events.EventGrouper`: each story
joins the most similar event so far, stories in ``--orders`` seeded random orders): the
pairs its groups merge correctly and wrongly; the cost of one profile and of the
transaction's decision; with ``--embeddings`` (where the topic rules' ``monitor.rules.topics``
and its extra are installed), the same pairs scored by the cosine of those story vectors.

Measured (2-core shared machine)::

    threshold 0.25: 36 of 40 same-event pairs merged, 9 of 16 236 others merged wrongly
    (precision 0.800, recall 0.900, F1 0.847); online over 20 orders: precision 0.759,
    recall 0.927; a profile 0.7-0.9 ms, a decision against 500 stored events 3.4 ms.

    --embeddings (wordllama-l2-256, the topics branch): best F1 0.611 alone (29 right, 26
    wrong at 0.657: two stories in Korean, or in Russian, score 0.95 whatever they say);
    mixed into the term score at 0.2 the best F1 falls to 0.813 (37 right, 14 wrong). A mean
    of word vectors says what a story is about, not which happening it reports, so the daemon
    does not use it for events.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import time
from pathlib import Path

from monitor.identity.events import THRESHOLD, EventGrouper, EventProfile, profile, similarity
from monitor.rules.frequency import rates, word_rate

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "events"


def load() -> tuple[list[dict[str, str]], set[frozenset[str]]]:
    """The labelled stories and the unsure pairs."""
    stories = [json.loads(line) for line in (DATA / "stories.jsonl").open(encoding="utf-8")]
    labels = json.loads((DATA / "labels.json").read_text(encoding="utf-8"))
    unsure = {frozenset(pair[:2]) for pair in labels["unsure"]["pairs"]}
    return stories, unsure


def rate_of() -> type[object] | object:
    table = rates("en")
    return lambda word: word_rate(word, table)


def scores(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lead-words", type=int, default=120)
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument(
        "--embeddings",
        action="store_true",
        help="also score the pairs by the topic rules' embedding model (monitor.rules.topics, the topics extra)",
    )
    args = parser.parse_args()
    stories, unsure = load()
    rate = rate_of()
    started = time.perf_counter()
    profiles: dict[str, EventProfile] = {
        s["id"]: profile(s["title"], s["lead"], rate, lead_words=args.lead_words)  # type: ignore[arg-type]
        for s in stories
    }
    per_story = (time.perf_counter() - started) / len(stories)
    label = {s["id"]: s["event"] or s["id"] for s in stories}
    pairs = []
    for a, b in itertools.combinations(sorted(profiles), 2):
        if frozenset((a, b)) in unsure:
            continue
        pairs.append((similarity(profiles[a], profiles[b]), label[a] == label[b], a, b))
    positives = sum(1 for p in pairs if p[1])
    print(
        f"{len(stories)} stories, {len(pairs)} pairs scored ({positives} same event), {len(unsure)} unsure left out"
    )
    print(
        f"{'threshold':>9} {'merged ok':>9} {'wrong':>6} {'missed':>6} {'precision':>9} {'recall':>7} {'F1':>6}"
    )
    for t in (0.12, 0.15, 0.18, 0.20, 0.22, 0.25, 0.28, 0.30, 0.35, 0.40):
        tp = sum(1 for s, same, *_ in pairs if s >= t and same)
        fp = sum(1 for s, same, *_ in pairs if s >= t and not same)
        fn = positives - tp
        p, r, f = scores(tp, fp, fn)
        mark = "  <- default" if abs(t - THRESHOLD) < 1e-9 else ""
        print(f"{t:>9.2f} {tp:>9} {fp:>6} {fn:>6} {p:>9.3f} {r:>7.3f} {f:>6.3f}{mark}")
    title = {s["id"]: s["title"][:60] for s in stories}
    print("\nhighest-scoring different events:")
    for s, _, a, b in sorted((p for p in pairs if not p[1]), reverse=True)[:6]:
        print(f"  {s:.3f}  {title[a]!r} / {title[b]!r}")
    print("lowest-scoring same events:")
    for s, _, a, b in sorted(p for p in pairs if p[1])[:6]:
        print(f"  {s:.3f}  {title[a]!r} / {title[b]!r}")

    # the daemon's way: online, each story against the events so far, in many orders
    results = []
    for seed in range(args.orders):
        order = sorted(profiles)
        random.Random(seed).shuffle(order)
        grouper = EventGrouper(window=24 * 3600.0)
        event = {sid: grouper.add(sid, profiles[sid], float(i)) for i, sid in enumerate(order)}
        tp = fp = fn = 0
        for a, b in itertools.combinations(sorted(profiles), 2):
            if frozenset((a, b)) in unsure:
                continue
            merged, same = event[a] == event[b], label[a] == label[b]
            tp += merged and same
            fp += merged and not same
            fn += same and not merged
        results.append((tp, fp, fn))
    tps, fps, fns = zip(*results, strict=True)
    p, r, f = scores(sum(tps), sum(fps), sum(fns))
    print(
        f"\nonline grouping at {THRESHOLD} over {args.orders} orders: per order merged ok "
        f"{statistics.mean(tps):.1f} (min {min(tps)}), wrongly {statistics.mean(fps):.1f} (max {max(fps)}), "
        f"missed {statistics.mean(fns):.1f}; pairwise precision {p:.3f} recall {r:.3f} F1 {f:.3f}"
    )
    print(f"profile cost: {per_story * 1e6:.0f} us a story (title + {args.lead_words} words, rates loaded)")
    decision_cost(stories)
    if args.embeddings:
        embeddings(stories, pairs)


def best_f1(scored: list[tuple[float, bool]]) -> tuple[float, float, int, int]:
    """(F1, threshold, merged right, merged wrongly) at the threshold with the best F1."""
    positives = sum(1 for _, same in scored if same)
    best = (0.0, 0.0, 0, 0)
    tp = fp = 0
    for score, same in sorted(scored, reverse=True):
        tp += same
        fp += not same
        f1 = 2 * tp / (2 * tp + fp + positives - tp)
        if f1 > best[0]:
            best = (round(f1, 3), round(score, 3), tp, fp)
    return best


def embeddings(stories: list[dict[str, str]], pairs: list[tuple[float, bool, str, str]]) -> None:
    """The same pairs by the cosine of the topic rules' story vectors, alone and mixed in."""
    try:
        from monitor.rules import topics  # type: ignore[attr-defined]
    except ImportError:
        print("\nembeddings: monitor.rules.topics is not in this tree (the topic rules' branch)")
        return
    model = topics.load_model()
    index = {s["id"]: i for i, s in enumerate(stories)}
    vectors = model.embed([topics.story_text(s["title"], s["lead"]) for s in stories])
    cosine = {(a, b): float(vectors[index[a]] @ vectors[index[b]]) for _, _, a, b in pairs}
    print(f"\nbest F1 (F1, threshold, right, wrong), model {model.name}:")
    print("  terms only      ", best_f1([(s, same) for s, same, _, _ in pairs]))
    print("  embedding only  ", best_f1([(cosine[a, b], same) for _, same, a, b in pairs]))
    for weight in (0.2, 0.35, 0.5):
        mixed = [((1 - weight) * s + weight * max(0.0, 2 * cosine[a, b] - 1), same) for s, same, a, b in pairs]
        print(f"  mixed, {weight:.2f} embedding", best_f1(mixed))


def decision_cost(stories: list[dict[str, str]]) -> None:
    """The transaction's decision for one write-up against a busy rule's 500 stored events
    (the most compared): the daemon's choose(), profiles read from their JSON once."""
    from monitor.config import EventSettings
    from monitor.daemon.eventgroups import candidate, choose
    from monitor.identity.events import lead_sentences
    from monitor.store.events import StoredEvent

    rate = rate_of()
    settings = EventSettings()
    found = [
        (profile(s["title"], s["lead"], rate), lead_sentences(s["lead"], rate))  # type: ignore[arg-type]
        for s in stories
    ]
    stored = [
        StoredEvent(i, "r", float(i), float(i), json.dumps(found[i % len(found)][0].to_json()), 1, float(i), None)
        for i in range(500)
    ]
    cands = [candidate("r", settings, f) for f in found]
    choose(cands[0], stored, 600.0)  # warm: the stored profiles parsed once, as the daemon keeps them
    started = time.perf_counter()
    for cand in cands:
        choose(cand, stored, 600.0)
    each = (time.perf_counter() - started) / len(cands)
    print(f"decision cost: {each * 1e3:.2f} ms a write-up against 500 stored events (inside the transaction)")


if __name__ == "__main__":
    main()
