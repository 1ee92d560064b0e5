"""The shared word caches hold what a fresh analysis gives, in containers the cyclic
collector stops tracking (tuples of strings): a daemon's caches grow to ~100 000 chunks,
and every full collection would otherwise walk them all."""

from __future__ import annotations

import gc
import random

import pytest

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules.document import _PLAIN, _PLAIN_IRREGULAR, _SHARED_NOTES, ChunkNotes
from monitor.rules.encoding import PREFIX_TAG
from monitor.rules.text import ALIASES, FEATS, FOLD, KEYS, PARTS, START, LangCache, analyse_chunk

from .test_new_words import seeded_words

#: words of other languages, some with the punctuation a story's chunks carry
_FOREIGN = ["Straße", "Häuser", "gingen", "élections", "été", "ciudades", "años", "выборы", "города", "Bundestag",
            "l'État", "d'autres", "Ländern,", "«Élysée»", "(años)", "über.", "Koalitions-Vertrag", "week-end",
            "2019", "3,5", "U.S.", "re-elected", "didn’t", "“quoted”", "—", "Not\u00adfall\u00adplan", "東京都",
            "12,500", "(1.5", "3.5.", "1,2.3"]


def _stories(lang: str, seed: int) -> list[list[str]]:
    """Three seeded 'stories' of chunks (some repeated across them)."""
    rng = random.Random(f"{seed}-{lang}")
    pool = seeded_words(150, seed=seed) + _FOREIGN
    punct = ["", "", "", ",", ".", "’s", ")"]
    return [[rng.choice(["", "", "(", "“"]) + rng.choice(pool) + rng.choice(punct) for _ in range(60)]
            for _ in range(3)]


def _filled(lang: str, seed: int) -> tuple[LangCache, list[str]]:
    """A cache of ``lang`` that analysed the seeded stories' chunks one story at a time, as
    ``StoryDoc`` does, and the chunks in the order they were added."""
    cache = LangCache(lang)
    order: list[str] = []
    for chunks in _stories(lang, seed):
        new = [c for c in dict.fromkeys(chunks) if c not in cache.chunks]
        cache.add_all(new)
        order += new
    return cache, order


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es", "ru"])
def test_cached_analyses_are_fresh_analyses_and_the_index_lists_each_chunk_once(lang: str) -> None:
    cache, order = _filled(lang, seed=15)
    # the chunks, and the words the cache found in those with punctuation
    assert set(order) <= cache.chunks.keys()
    for chunk in cache.chunks:
        info = cache.chunks[chunk]
        fresh = analyse_chunk(chunk, lang)
        # all but the features, whose order may differ
        assert info[:FEATS] + info[FEATS + 1:] == fresh[:FEATS] + fresh[FEATS + 1:], chunk
        # the features: every key and fold of its words (parts and aliases), each once
        words = [*info[PARTS], *info[ALIASES]]
        assert len(set(info[FEATS])) == len(info[FEATS])
        assert set(info[FEATS]) == {f for w in words for f in (*w[KEYS], w[FOLD])} == set(fresh[FEATS]), chunk
    # the reverse index: each feature lists each chunk that holds it once, at least under
    # every key of its words, and none that does not hold it
    expected: dict[str, set[str]] = {}
    for chunk, info in cache.chunks.items():
        for feature in (k for w in (*info[PARTS], *info[ALIASES]) for k in w[KEYS]):
            expected.setdefault(feature, set()).add(chunk)
    for feature, chunks in cache.rev.items():
        assert isinstance(chunks, tuple)
        assert len(set(chunks)) == len(chunks), feature
        assert all(feature in cache.chunks[c][FEATS] for c in chunks), feature
    assert all(chunks <= set(cache.rev.get(feature, ())) for feature, chunks in expected.items())


@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_cached_analyses_stop_being_tracked(lang: str) -> None:
    """Each chunk's analysis (its parts, joined forms, features, pairs) is exact tuples of
    strings and numbers, which the collector stops tracking: an instance of a tuple subclass
    (a named tuple) it would walk at every full collection for as long as the cache keeps
    it, tens of thousands of them after a story full of new words."""
    cache, _ = _filled(lang, seed=17)
    # chunks of every kind: one word, words with punctuation, compounds, invisible characters
    assert any(info[ALIASES] for info in cache.chunks.values())
    assert any(info[PARTS][0][START] for info in cache.chunks.values() if info[PARTS])
    # a collection stops tracking a tuple whose items it has stopped tracking, and may come
    # to a tuple before its items: four levels (analysis, its parts, a part, its keys) take
    # at most four
    for _ in range(4):
        gc.collect()
    assert [chunk for chunk, info in cache.chunks.items() if gc.is_tracked(info)] == []


def test_the_caches_are_made_of_what_the_collector_stops_tracking() -> None:
    """After collections, the reverse index's entries and each chunk's features are no
    longer tracked; a matcher's notes of chunks without a feature a rule looks up (most
    chunks) are two shared objects, equal notes are one, and they keep their features in a frozenset (whose
    stored hashes make a story's merge of them cheap)."""
    matcher = Matcher.compile([RuleSpec("a", "elections OR Straße"), RuleSpec("b", "gingen*"),
                               RuleSpec("c", '"re elected" city')])
    cache, order = _filled("en", seed=16)
    words = matcher._index("en").words
    notes = ChunkNotes(cache, frozenset({"re"}), matcher._prefixes, words)
    notes.add_all(order)
    # a collection stops tracking a tuple whose items it has stopped tracking, and may come
    # to a tuple before its items: the second one finds every tuple of strings untracked
    gc.collect()
    gc.collect()
    assert cache.rev and not any(map(gc.is_tracked, cache.rev.values()))
    assert not any(gc.is_tracked(info[FEATS]) for info in cache.chunks.values())
    # (the plain note is the empty tuple, the one falsy note: see ``_PLAIN``)
    plain = (frozenset(), False, ())
    values = list(notes.notes.values())
    assert all(note or note is _PLAIN for note in values)
    shared = [note for note in values if (note or plain) in _SHARED_NOTES]
    assert len(shared) > len(order) // 2
    # (a chunk that is not one word has a plain note of its own: see ``FieldDoc.note``)
    assert all(note is _SHARED_NOTES[note or plain] or note is _PLAIN_IRREGULAR for note in shared)
    assert all((note or plain) in _SHARED_NOTES for note in values if not (note and note[0]))
    # equal notes are one object (chunks of one word with its capitals and punctuation)
    featured = [note for note in values if note and note[0]]
    assert len({id(note) for note in featured}) == len(set(featured)) < len(featured)
    assert all(isinstance(note[0], frozenset) for note in values if note)
    # each note is what the matcher needs of its chunk: the features a rule looks up, and
    # the wildcard prefixes its words start with
    for chunk in order:
        info = cache.chunks[chunk]
        feats, starts, prefixed = notes.notes[chunk] or plain
        folds = {w[FOLD] for w in (*info[PARTS], *info[ALIASES])}
        assert set(feats) == (words & set(info[FEATS])) | {PREFIX_TAG + p for p, _ in prefixed}, chunk
        assert starts == ("re" in folds), chunk
        assert set(prefixed) == {(p, w) for w in folds for p in matcher._prefixes if w.startswith(p)}, chunk


@pytest.mark.parametrize("generation", [0, 2])
def test_rule_plans_are_untracked_by_the_first_collection(generation: int) -> None:
    """A matcher keeps the plan of every rule that has been a candidate, made after it was
    frozen: a plan and its steps are flat tuples of ints (the query objects are named by
    place in the matcher's plan table), so the first collection that sees them, young or
    full, stops tracking them (nested tuples lose their tracking one level a collection)."""
    specs = [RuleSpec("a", "elections OR Straße"), RuleSpec("b", '"re elected" city -mayor'),
             RuleSpec("c", "(city OR town) NEAR/5 council"), RuleSpec("d", "title:vote (city council)"),
             RuleSpec("e", "city -(mayor OR =Town) (vote OR council) town NEAR/3 council -mayor")]
    matcher = Matcher.compile(specs)
    story = Story(source="s", url="https://news.example/1", title="City vote",
                  text="The town council was re elected by the city. Elections were held.")
    gc.collect()
    # no automatic collection until the one below: a young collection set off by the
    # allocations of this test (after ``match`` has let the collector run again) would
    # untrack the plans before they are looked at, depending on what ran before in the process
    enabled = gc.isenabled()
    gc.disable()
    try:
        assert [m.rule for m in matcher.match(story)] == ["a", "b", "c", "d", "e"]
        plans, entries = matcher._plans, matcher._plans.table.entries
        assert all(plan is not None for plan in plans)
        steps = [entry for entry in entries if type(entry) is tuple]
        # every kind of step: a term, a term that must not be there, an OR of terms, NEARs of
        # two terms and of ORs of terms, a node walked as a tree
        assert {step[0] for step in steps} == set(range(7))
        assert all(map(gc.is_tracked, [*plans, *steps]))  # made with the collector paused
    finally:
        if enabled:
            gc.enable()
    gc.collect(generation)
    assert not any(map(gc.is_tracked, plans)) and not any(map(gc.is_tracked, steps))
    nodes = [entry for entry in entries if type(entry) is not tuple]
    assert nodes and all(map(gc.is_tracked, nodes))  # the query objects themselves
