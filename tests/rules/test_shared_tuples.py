"""A word cache's shared tuples (a lower-case word filed in ``LangCache.rev`` under its own
fold as its analysis's ``(fold,)``, not a tuple of its own) change no analysis and no index
entry: the cache's analyses are those ``analyse_chunk`` makes alone, its index is what the
analyses say, and the tuples are shared where they are meant to be."""

from __future__ import annotations

import random

from monitor.rules.encoding import SURFACE_TAG
from monitor.rules.text import (
    ALIASES,
    FEATS,
    HEADS,
    PARTS,
    SURFACE,
    WIDTH,
    LangCache,
    analyse_chunk,
)
from tests.rules.test_new_words import seeded_words


def _stories(seed: int) -> list[list[str]]:
    """Seeded stories of table words as written and mangled, with punctuation around, and
    compounds, numbers, links and words of other letters."""
    rng = random.Random(seed)
    pool = [*seeded_words(1500, seed=seed), "re-elected", "U.S.-led", "(Trump’s", "said,", "Said", "said", "SAID",
            "“Moreover,", "3.5.", "Condé", "condé", "Koalitions-Vertrag", "12,500", "didn’t", "日本の", "—",
            "long-term", "60fps", "43-year-old", "https://x.example/a-b", "naïve", "Naïve", "café"]
    lead = ["", "", "", "(", "“"]
    punct = ["", "", "", ",", ".", "’s", ")", "”", ":"]
    # several stories, one of fewer chunks than the bulk paths take (``_FEW``)
    return [[rng.choice(lead) + rng.choice(pool) + rng.choice(punct) for _ in range(n)] for n in (300, 5, 300, 120)]


def _filled(lang: str, surfaced: bool, seed: int) -> LangCache:
    cache = LangCache(lang)
    if surfaced:
        cache.index_surfaces()
    for story in _stories(seed):
        cache.add_all([c for c in dict.fromkeys(story) if c not in cache.chunks])
    return cache


def test_the_cache_analyses_and_files_every_chunk_as_analysed_alone() -> None:
    """Each chunk's analysis equals ``analyse_chunk``'s (made without the cache's tuples), and
    each feature lists, once each, exactly the chunks whose analysis has it."""
    for lang, surfaced, seed in (("en", False, 28), ("en", True, 29), ("de", False, 30)):
        cache = _filled(lang, surfaced, seed)
        assert len(cache.chunks) > 500
        expected: dict[str, set[str]] = {}
        for chunk, info in cache.chunks.items():
            assert info == analyse_chunk(chunk, lang), chunk
            feats = set(info[FEATS])
            if surfaced:
                feats.update(SURFACE_TAG + w[SURFACE] for w in (*info[PARTS], *info[ALIASES]))
            for feature in feats:
                expected.setdefault(feature, set()).add(chunk)
        assert set(cache.rev) == set(expected)
        for feature, chunks in cache.rev.items():
            assert type(chunks) is tuple and all(type(c) is str for c in chunks)
            assert len(set(chunks)) == len(chunks) and set(chunks) == expected[feature], feature


def test_a_lower_case_word_is_filed_under_its_fold_as_its_heads() -> None:
    """A lower-case word of one part filed alone under its fold (``said`` under ``said``, by
    the bulk paths and one by one, a word of any letters) is filed as its analysis's heads,
    the same tuple: the sharing that keeps a cold pass's tuples fewer is in place."""
    for lang in ("en", "de"):
        cache = _filled(lang, False, 31)
        shared = other = 0
        for chunk, info in cache.chunks.items():
            if info[WIDTH] == 1 and not info[ALIASES] and info[HEADS] == (chunk,) and cache.rev[chunk] == (chunk,):
                assert cache.rev[chunk] is info[HEADS] or cache.rev[chunk] is info[FEATS], chunk
                shared += 1
                other += not chunk.isascii()
        assert shared > 40 and (other or lang == "de")
        # filed later under the same fold, the word's tuple is replaced, not extended
        word = next(c for c, info in cache.chunks.items() if cache.rev.get(c) is info[HEADS])
        heads = cache.chunks[word][HEADS]
        cache.add_all([word + "!!"])
        assert heads == (word,) and cache.rev[word] == (word, word + "!!")
        assert cache.chunks[word][HEADS] == (word,)
