"""A word cache's shared tuples (``LangCache.ones``: one ``(fold,)`` a fold, and a lower-case
word filed under its own fold as that tuple) change no analysis and no index entry: the
cache's analyses are those ``analyse_chunk`` makes alone, its index is what the analyses
say, and the tuples are shared where they are meant to be."""

from __future__ import annotations

import random

from monitor.rules import text as text_module
from monitor.rules.encoding import SURFACE_TAG
from monitor.rules.text import (
    ALIASES,
    FEATS,
    FOLD,
    HEADS,
    KEYS,
    PARTS,
    SURFACE,
    TAILS,
    LangCache,
    analyse_chunk,
    analyse_word,
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
        assert all(one == (fold,) for fold, one in cache.ones.items())


def test_the_tuples_of_a_fold_are_shared() -> None:
    """The chunks of one word of one fold share its ``(fold,)`` as heads and tails (and as
    keys when it is its only key), and a lower-case word new to the index is filed under its
    fold as that tuple: the sharing that keeps a cold pass's tuples fewer is in place."""
    cache = _filled("en", False, 31)
    shared = 0
    for chunk, info in cache.chunks.items():
        parts = info[PARTS]
        if len(parts) != 1 or info[ALIASES]:
            continue
        fold = parts[0][FOLD]
        one = cache.ones.get(fold)
        assert one is not None, chunk
        assert info[HEADS] is one and info[TAILS] is one, chunk
        if parts[0][KEYS] == (fold,) and chunk.isascii():
            # (a word of other letters may take ``word_keys``'s, cached there)
            assert parts[0][KEYS] is one, chunk
        if chunk == fold and cache.rev[fold] == (chunk,):
            assert cache.rev[fold] is one, chunk
            shared += 1
    assert shared > 40


def test_analyse_word_with_a_cache_s_tuples_is_analyse_word() -> None:
    """``analyse_word`` and ``_analyse_ascii`` give equal analyses with and without ``ones``,
    and what they take from ``ones`` is the fold's."""
    ones: text_module.Ones = {}
    get = text_module.english_key_table().get
    words = [w for w in seeded_words(3000, seed=32) if w]
    for lang in ("en", "de"):
        for word in words:
            if word.isalpha() and not text_module._CJK.search(word):
                assert analyse_word(word, lang, ones) == analyse_word(word, lang), word
    compounds = [w for w in (*words, "long-term", "60fps", "43-year-old", "src0", "we're", "A-1.")
                 if text_module._ASCII_JOINED.fullmatch(w)]
    assert len(compounds) > 100
    for chunk in compounds:
        assert text_module._analyse_ascii(chunk, get, ones) == text_module._analyse_ascii(chunk, get), chunk
    assert ones and all(one == (fold,) for fold, one in ones.items())
