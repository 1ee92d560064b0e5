"""``ChunkNotes.add_all`` reads a one-word chunk's fold as its only head (``HEADS``), one
pass rather than three through its part: every chunk the caches hold as one word (not
``complex``, not ``wordless``), whether analysed alone (``add``) or in bulk (``add_all``),
has exactly one head, its part's fold. Checked on seeded words and odd chunks."""

from __future__ import annotations

import random

from monitor.rules.text import FOLD, HEADS, PARTS, LangCache

from .test_new_words import seeded_words

_ODD = ["re-elected", "U.S.", "didn’t", "(Trump’s", "said,", "“Moreover,", "Condé", "12,500", "—", "東京都",
        "e-mail", "...", "x\u200bray", "naïve", "Straße", "\u212aing", "İstanbul", "5th", "we're", "60fps", "long-term"]


def test_a_one_word_chunk_has_its_fold_as_its_only_head() -> None:
    for seed in range(3):
        rng = random.Random(seed)
        words = [*seeded_words(300, seed=seed), *_ODD]
        chunks = list(dict.fromkeys(rng.choice(["", "(", "“"]) + w + rng.choice(["", ",", ".", "’s", ")"])
                                    for w in words))
        for lang in ("en", "de"):
            bulk, alone = LangCache(lang), LangCache(lang)
            bulk.add_all(chunks)
            for chunk in chunks:
                alone.add(chunk)
            for cache in (bulk, alone):
                one_word = [c for c in chunks if c not in cache.complex and c not in cache.wordless]
                assert len(one_word) > len(chunks) // 2
                for chunk in one_word:
                    info = cache.chunks[chunk]
                    assert info[HEADS] == (info[PARTS][0][FOLD],), chunk
