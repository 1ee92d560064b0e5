"""A field whose chunks a matcher's notes partly lack (a cold story) is noted as the way
before ``_add_missing`` noted it: every chunk of the field looked up in ``distinct``, the
cache's new chunks analysed, the notes' missing ones added, and every chunk's note looked up
again. Checked on seeded stories, some made without notes (so that the cache holds chunks
the notes lack), with chunks longer than ``MAX_CHUNK`` (a field cut by expression), some of
them cached before."""

from __future__ import annotations

import random
from itertools import filterfalse

from pytest import MonkeyPatch

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules import document as document_module
from monitor.rules import text as text_module
from monitor.rules.document import MAX_CHUNK, ChunkNotes, FieldDoc, Note, StoryDoc, _analyse_new
from monitor.rules.text import LangCache

from .test_new_words import seeded_words

_LONG = ["x" * (MAX_CHUNK + 6), "semi" * 10 + "-" + "conductor" * 4, "日本語の" * 20,
         "https://news.example/" + "a" * MAX_CHUNK]
_ODD = ["re-elected", "U.S.", "didn’t", "(Trump’s", "said,", "“Moreover,", "3.5.", "Condé", "12,500", "—", "東京都",
        "e-mail", "...", "x\u200bray"]
_RULES = [RuleSpec("a", "report* OR said"), RuleSpec("b", '"re elected" OR mansion*'), RuleSpec("c", "tea NEAR/2 us"),
          RuleSpec("d", "=Apple OR apple*")]


def _old_add_missing(fd: FieldDoc, cache: LangCache, notes: ChunkNotes, got: list[Note | None]) -> list[Note]:
    """How ``StoryDoc`` noted such a field before ``_add_missing``."""
    _analyse_new(fd, cache)
    known = notes.notes
    notes.add_all(list(filterfalse(known.__contains__, fd.distinct)))
    return list(map(known.__getitem__, fd.chunks))


def _stories(seed: int) -> list[tuple[Story, bool]]:
    """Seeded stories, and whether each is made with a matcher's notes."""
    rng = random.Random(seed)
    pool = [*seeded_words(400, seed=seed), *_ODD]
    punct = ["", "", "", ",", ".", "’s", ")"]

    def text(count: int, long: float) -> str:
        words = [rng.choice(["", "", "", "(", "“"]) + rng.choice(pool) + rng.choice(punct) for _ in range(count)]
        if rng.random() < long:
            words.insert(rng.randrange(len(words) + 1), rng.choice(_LONG))
        return " ".join(words)

    return [(Story(source="s", url=rng.choice(["", "https://news.example/1"]), title=text(rng.randint(0, 10), 0.1),
                   text=text(rng.randint(0, 300), 0.2), summary="", lang=rng.choice(["en", "en", "de"])),
             rng.random() < 0.7) for _ in range(40)]


def _noted(monkeypatch: MonkeyPatch, stories: list[tuple[Story, bool]]) -> tuple[list[object], int]:
    """What each story's document holds, made on empty caches, then what the caches and the
    notes hold; and how many fields were cut by expression."""
    monkeypatch.setattr(text_module, "_CACHES", {})
    matcher = Matcher.compile(_RULES)
    out: list[object] = []
    cut = 0
    for story, with_notes in stories:
        doc = StoryDoc(story, matcher._notes_of if with_notes else None)
        out.append([(fd.chunks, fd.pieces, list((fd.noted or {}).items()), fd._where) for fd in doc.fields])
        out.append((doc.feats, doc.field_feats))
        cut += sum(fd.pieces is not None for fd in doc.fields)
    for lang, cache in sorted(text_module._CACHES.items()):
        out.append((lang, list(cache.chunks.items()), list(cache.rev.items()), cache.complex, cache.wordless))
        notes = matcher._notes.get(lang)
        out.append(list(notes.notes.items()) if notes is not None else None)
    return out, cut


def test_fields_missing_notes_are_noted_as_before(monkeypatch: MonkeyPatch) -> None:
    for seed in range(3):
        stories = _stories(seed)
        found = _noted(monkeypatch, stories)
        with monkeypatch.context() as patched:
            patched.setattr(document_module, "_add_missing", _old_add_missing)
            expected = _noted(patched, stories)
        assert found == expected
        assert found[1] > 0
