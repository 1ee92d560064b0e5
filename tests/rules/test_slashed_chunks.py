"""A chunk with a slash (a story's link, ``https://news.example/17``) is analysed as what is
before its last slash, remembered, and what is after (``LangCache._analysed``): the analysis
is what ``analyse_chunk`` gives the whole chunk, and the cache a story's chunks make is the
one they made when every such chunk took the expressions."""

from __future__ import annotations

import random

import pytest
from pytest import MonkeyPatch

from monitor.rules import text as text_module
from monitor.rules.text import LangCache, analyse_chunk

#: pieces of links and of other slashed chunks, with what takes the slow paths of the
#: analysis: hyphens, apostrophes, possessives, abbreviations, numbers, dots, a word of
#: digits then letters, punctuation at the cut, and no word at all
_PIECES = ["https:", "http:", "", "news.example", "www.bbc.co.uk", "news", "2024", "05", "12,500", "3.5", "a-b",
           "re-elected", "state-of-the-art", "don't", "Trump's", "U.S.", "U.S", "e.g.", "index.html", "?id=7&x=y",
           "#top", "--", "-", ".", "..", "'s", "’s", "'", "60fps", "x1", "A", "s", "S", "co-op.", "semi-conductor-",
           "(a)", "and/or", "_", "a_b", "%20", "~user", "Colour", "went", "leaves", "12", "1.", "-up", "a.b.c"]


def _slashed(rng: random.Random) -> str:
    """An ASCII chunk of pieces joined by one or more slashes."""
    pieces = [rng.choice(_PIECES) for _ in range(rng.randint(2, 6))]
    return "".join(piece + "/" * rng.choice([1, 1, 1, 2]) for piece in pieces[:-1]) + pieces[-1]


def _seeded_chunks(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    links = [f"https://news.example/{i}" for i in range(30)]
    return [*links, "https://x.example/a-b", "a/b", "/a", "a/", "//", "/", "x/-", "-/x", "U.S./EU", "1/2",
            "and/or", "https://news.example/", *(_slashed(rng) for _ in range(count))]


@pytest.mark.parametrize("lang", ["en", "de"])
def test_a_slashed_chunk_is_analysed_as_the_expressions_analyse_it(lang: str) -> None:
    cache = LangCache(lang)
    chunks = _seeded_chunks(800, seed=27)
    # each twice: the second time after what is before its last slash was remembered
    differ = [chunk for chunk in chunks + chunks if cache._analysed(chunk) != analyse_chunk(chunk, lang)]
    assert differ == []
    # most of them were cut at a slash, and the cuts remembered were reused
    assert "https://news.example/" in cache.slashed and len(cache.slashed) < len(chunks)


def test_slashed_analyses_start_afresh_at_their_bound(monkeypatch: MonkeyPatch) -> None:
    monkeypatch.setattr(text_module, "_MAX_SLASHED", 5)
    cache = LangCache("en")
    for i in range(12):
        chunk = f"https://site{i}.example/{i}"
        assert cache._analysed(chunk) == analyse_chunk(chunk, "en")
        assert len(cache.slashed) <= 5


def _rev(cache: LangCache) -> dict[str, list[str]]:
    return {feature: sorted(chunks) for feature, chunks in cache.rev.items()}


@pytest.mark.parametrize("surfaced", [False, True])
def test_slashed_chunks_are_cached_and_filed_as_the_expressions_make_them(monkeypatch: MonkeyPatch,
                                                                          surfaced: bool) -> None:
    """Stories of slashed chunks with punctuation around them and words, added together
    (``add_all``) and one by one: the caches those make when every chunk's analysis is the
    expressions' (``analyse_chunk``, the cut at a slash made no more)."""
    rng = random.Random(11)
    pool = [*_seeded_chunks(300, seed=3), "said,", "(Trump’s", "re-elected", "U.S.-led", "12,500", "Condé", "日本の"]
    stories = [[rng.choice(["", "", "(", "“", "/"]) + rng.choice(pool) + rng.choice(["", "", ",", ").", "/", "’s"])
                for _ in range(60)] for _ in range(5)]
    made: list[LangCache] = []
    for cut in (True, False):
        if not cut:
            monkeypatch.setattr(LangCache, "_analysed", lambda self, chunk: analyse_chunk(chunk, self.lang))
        together, one = LangCache("en"), LangCache("en")
        if surfaced:
            together.index_surfaces()
            one.index_surfaces()
        for chunks in stories:
            new = [c for c in dict.fromkeys(chunks) if c not in together.chunks]
            together.add_all(new)
            for chunk in new:
                one.add(chunk)
        made += [together, one]
    reference = made[-1]
    for cache in made[:-1]:
        assert cache.chunks == reference.chunks
        assert _rev(cache) == _rev(reference)
        assert (cache.complex, cache.wordless) == (reference.complex, reference.wordless)
    assert made[0].slashed and not made[-1].slashed
