"""The bulk path of a new English story's compounds, contractions and letter-digit mixes of
ASCII (``LangCache._add_english_compounds``, ``text._analyse_ascii``): the analysis the
expressions give, and the caches ``add`` makes one chunk at a time, on seeded random
chunks and on the benchmark corpus's chunks."""

from __future__ import annotations

import json
import random

from monitor.rules import text as text_module
from monitor.rules.text import LangCache, analyse_chunk, analyse_pieces
from tests.support.paths import need_corpus

#: words the English key table holds (keys other than the word: ``went`` -> ``go``), and
#: words that join into one it holds (``were``, ``cant``)
_TABLE_WORDS = ["went", "colours", "analysed", "mice", "we", "re", "can", "t", "were", "long", "term", "well",
                "known", "re", "elected", "leaves", "left", "i", "m", "ll", "ve", "year", "old", "man", "s", "S"]


def _run(rng: random.Random) -> str:
    """One run of a compound: a word, letters, digits, or digits and letters together."""
    kind = rng.randrange(7)
    letters = "".join(rng.choice("abcsSeXYZ") for _ in range(rng.randint(1, 6)))
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 4)))
    if kind == 0:
        return rng.choice(_TABLE_WORDS)
    if kind == 1:
        return rng.choice(_TABLE_WORDS).capitalize()
    if kind == 2:
        return letters
    if kind == 3:
        return digits
    if kind == 4:
        return digits + letters  # 60fps: two words
    if kind == 5:
        return letters + digits + rng.choice(["", letters])  # src0: one
    return digits + letters + digits  # 3a4: 3 and a4


def seeded_cores(rng: random.Random, count: int) -> list[str]:
    """Chunks of one to eight runs joined by hyphens or apostrophes, some with a possessive
    or a full stop after them."""
    cores = []
    for _ in range(count):
        runs = [_run(rng) for _ in range(rng.choice([1, 2, 2, 2, 3, 3, 4, 5, 6, 7, 8]))]
        core = runs[0]
        for run in runs[1:]:
            core += rng.choice("-----'’") + run
        cores.append(core + rng.choice(["", "", "", ".", "'s", "’S", "'s.", "’s", "-s", "'S."]))
    return cores


def seeded_chunks(rng: random.Random, count: int) -> list[str]:
    """``seeded_cores`` with quotes, brackets and punctuation around, and a few other chunks."""
    leads = ["", "", "", "(", "“", '"', "'", "‘", "[", "...", "—"]
    trails = ["", "", "", ",", ".", ")", "”", ":", ").", "?", "-", ",”", "’", "'", "!", "”)."]
    others = ["U.S.", "U.S.-led", "said", "said,", "3.5", "12,500", "—", "naïve", "Condé-Nast", "x_y", "a--b",
              "https://x.example/a-b", "日本の", "co‑op", "e.g.", "5'10\"", "won't", "it's", "90's"]
    return [rng.choice(leads) + core + rng.choice(trails) for core in seeded_cores(rng, count)] + others


def test_analyse_ascii_is_what_the_expressions_give() -> None:
    rng = random.Random(27)
    get = text_module.english_key_table().get
    cores = seeded_cores(rng, 6000)
    assert all(text_module._ASCII_JOINED.fullmatch(core) for core in cores)
    differ = [core for core in cores if text_module._analyse_ascii(core, get) != analyse_pieces(core, "en")
              or analyse_chunk(core, "en") != analyse_pieces(core, "en")]
    assert differ == []
    # every shape was there: joined forms, compounds of more than six words, possessives
    infos = [analyse_pieces(core, "en") for core in cores]
    assert any(info[1] for info in infos) and any(info[3] > 6 and not info[1] for info in infos)
    assert any(info[3] == 1 for info in infos) and any(info[3] == 2 and not info[1] for info in infos)


def _rev(cache: LangCache) -> dict[str, list[str]]:
    return {feature: sorted(chunks) for feature, chunks in cache.rev.items()}


def _same_both_ways(batches: list[list[str]], lang: str) -> int:
    """Adds ``batches`` (a story's chunks each) chunk by chunk (``add``) to one cache and
    at once (``add_all``) to another, filed under surfaces from the start or not; checks
    they hold the same; returns how many chunks of several words or a joined form were added."""
    took = 0
    for surfaced in (False, True):
        one, together = LangCache(lang), LangCache(lang)
        if surfaced:
            one.index_surfaces()
            together.index_surfaces()
        for batch in batches:
            new = [c for c in dict.fromkeys(batch) if c not in one.chunks]
            for chunk in new:
                one.add(chunk)
            before = len(together.complex)
            together.add_all(new)
            took += len(together.complex) - before
        assert together.chunks == one.chunks
        assert _rev(together) == _rev(one)
        assert (together.complex, together.wordless) == (one.complex, one.wordless)
        if not surfaced:
            one.index_surfaces()
            together.index_surfaces()
            assert _rev(together) == _rev(one)
    return took


def test_seeded_compounds_added_together_are_added_as_one_by_one() -> None:
    rng = random.Random(28)
    chunks = seeded_chunks(rng, 3000)
    # stories that share some chunks, and chunks whose core another story had first
    batches = [rng.sample(chunks, 150) for _ in range(30)]
    assert _same_both_ways(batches, "en") > 1_000
    for lang in ("de", "fr"):
        _same_both_ways(batches[:5], lang)


def test_corpus_chunks_added_together_are_added_as_one_by_one() -> None:
    """The chunks of the benchmark's articles (``benchmarks/match.py``), story by story."""
    index = need_corpus("articles", "index.jsonl")
    rows = [json.loads(line) for line in index.open(encoding="utf-8")]
    batches = [f"{r['title'] or ''} {r['ground_truth'] or ''}".split() for r in rows]
    assert _same_both_ways(batches, "en") > 1_000
    _same_both_ways(batches[:20], "de")
