"""The cold path's shortcuts (what analyses a story's new words) hold to the slower ways
they replace, on seeded random inputs."""

from __future__ import annotations

import random
import unicodedata

from monitor.rules import text as text_module

#: letters of several scripts and cases, the letters ``_EXTRA_FOLD`` maps (and their
#: capitals), accents as separate marks, ligatures, digits and punctuation
_LETTERS = "aZßİıIœŒæÆøØłŁđĐðÐþÞéÉe\u0301o\u0308ﬁ한국대Ελλάδαдмитрий日本語٣²ǅŉ-'. "


def _old_fold(word: str) -> str:
    """``fold`` as written before it tested for the letters of ``_EXTRA_FOLD`` first."""
    word = word.casefold()
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    stripped = text_module._DIACRITICS.sub("", decomposed)
    return unicodedata.normalize("NFC", stripped).translate(text_module._EXTRA_FOLD)


def test_fold_equals_the_translation_of_every_word() -> None:
    rng = random.Random(19)
    words = ["", "Øresund", "łódź", "Æther", "İstanbul", "œuvre", "Þór", "한국의"]
    words += ["".join(rng.choice(_LETTERS) for _ in range(rng.randrange(1, 9))) for _ in range(30_000)]
    for word in words:
        assert text_module.fold(word) == _old_fold(word), word
