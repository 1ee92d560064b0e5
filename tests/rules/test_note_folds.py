"""A chunk's note and where a field places it: ``ChunkNotes.add_all`` reads a one-word
chunk's fold as its only head (``HEADS``), and ``FieldDoc.note`` places the chunks whose
note is truthy (the plain note is the empty tuple). Both are checked against the general
ways on seeded words and stories."""

from __future__ import annotations

import random

from pytest import MonkeyPatch

from monitor.rules import Matcher
from monitor.rules import text as text_module
from monitor.rules.document import ChunkNotes, StoryDoc
from monitor.rules.text import FOLD, HEADS, PARTS, LangCache

from .test_missing_notes import _RULES, _stories
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


def test_a_field_places_the_chunks_whose_full_note_is_not_the_plain_one(monkeypatch: MonkeyPatch) -> None:
    """``FieldDoc.note`` places a chunk when its note is truthy: exactly the chunks whose note,
    made field by field by ``ChunkNotes.add`` (the general way), has a feature a rule looks
    up, starts a word pair or has a word under a wildcard, and the chunks that are not one
    word; each at every index where it occurs, in the order of first occurrences. Checked
    on seeded stories, cold and warm (cold: the notes lack the chunks, ``_add_missing``)."""
    plain = (frozenset(), False, ())
    for seed in range(3):
        monkeypatch.setattr(text_module, "_CACHES", {})
        matcher = Matcher.compile(_RULES)
        placed = 0
        for _ in range(2):  # cold, then warm
            for story, _with_notes in _stories(seed):
                doc = StoryDoc(story, matcher._notes_of)
                general = ChunkNotes(doc.fields[0].cache, matcher._pair_firsts, matcher._prefixes,
                                     matcher._index(doc.fields[0].cache.lang).words)
                for fd in doc.fields:
                    cache = fd.cache
                    expected: dict[str, list[int]] = {}
                    for i, chunk in enumerate(fd.chunks):
                        note = general.add(chunk) or plain
                        one_word = chunk not in cache.complex and chunk not in cache.wordless
                        if note != plain or not one_word:
                            expected.setdefault(chunk, []).append(i)
                    assert fd.noted is not None
                    assert list(fd.noted) == list(expected)
                    assert {c: fd._where[c] for c in fd.noted} == expected
                    assert all(fd.noted[c] == (general.add(c) or plain) for c in fd.noted)
                    placed += len(expected)
        assert placed > 100
