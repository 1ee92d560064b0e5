"""A story's language: the one its feed or page declares, or the one its text is in (pure).

Many pages and feeds declare no language, and some declare a wrong one (a site-wide
``lang="en"`` on a German post), so the language that ``lang:`` rules and inflections use is
decided from the text too (:func:`story_language`). Detection is py3langid (a naive Bayes
classifier over byte n-grams, langid.py retrained on 140 languages; BSD; its model ships in
the wheel, 4.5 MB, on numpy). ``benchmarks/lang.py`` compares it with lingua on the corpus:
as accurate on articles and feed items, and lingua's accurate mode needs ~0.9 GB of memory
and ~12 s to load, its low-accuracy mode is less accurate on short texts, and its wheel is
96 MB. The model loads on the first detection (~1 s, ~90 MB), not at import.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Protocol

__all__ = ["MAX_CHARS", "MIN_LETTERS", "Detection", "detect_language", "story_language"]

#: detection reads at most this many characters of a story: accuracy on the corpus pages
#: is the same as with the whole text, and the cost grows with the length
MAX_CHARS = 1_000
#: a text with fewer letters is too short to tell: its declared language is kept. Titles
#: alone (one line of a titles-only feed) are mostly below it; the measure is letters, not
#: characters, so a Chinese headline (one letter a word) counts as much as an English one
MIN_LETTERS = 60
#: how sure detection must be to overrule a declared language, or to give one to a story
#: that declares none (py3langid's probability, calibrated by the length of the text)
SURE = 0.9

#: the languages py3langid tells apart that stories declare as their macrolanguage
_MACRO = {"ary": "ar", "arz": "ar", "wuu": "zh", "yue": "zh", "uzs": "uz", "hbo": "he"}
#: what py3langid answers for text without language (numbers, code, symbols)
_NO_LANGUAGE = "zxx"
_LETTERS = re.compile(r"[^\W\d_]")


@dataclass(frozen=True, slots=True)
class Detection:
    """The language a text is in: a lower-case ISO 639 code (``"de"``; 639-1 where one
    exists), and the detector's probability for it (0 to 1)."""

    code: str
    probability: float


class _Identifier(Protocol):
    def classify(self, text: str) -> tuple[str, float]: ...


@cache
def _identifier() -> _Identifier:
    """py3langid's model, loaded once (about a second), with probabilities."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier: _Identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return identifier


def _letters(text: str) -> int:
    return len(_LETTERS.findall(text))


def detect_language(text: str) -> Detection | None:
    """The language of ``text`` (its first ``MAX_CHARS`` characters), or ``None`` when it has
    fewer than ``MIN_LETTERS`` letters or is no language at all. Never raises for any text."""
    sample = text[:MAX_CHARS]
    if _letters(sample) < MIN_LETTERS:
        return None
    code, probability = _identifier().classify(sample)
    if code == _NO_LANGUAGE or not math.isfinite(probability):
        return None
    return Detection(_MACRO.get(code, code), float(probability))


def _primary(tag: str) -> str:
    """The primary subtag of a language tag, lower case (``de-AT`` → ``de``)."""
    return re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()


def story_language(declared: str | None, title: str, text: str) -> str | None:
    """The language of a story whose feed or page declares ``declared`` (a language tag, or
    ``None``), from its ``title`` and ``text``.

    The declared language when the text is too short to tell (``MIN_LETTERS``), when
    detection agrees with it (the tag is returned as declared, ``de-AT`` stays), or when
    detection is unsure (below ``SURE``); otherwise the detected language's code. A story
    that declares none gets the detected language when detection is sure, else ``None``.
    """
    declared = declared.strip() or None if declared else None
    found = detect_language(f"{title}\n{text}" if title else text)
    if found is None:
        return declared
    if declared is not None and (_primary(declared) == found.code or found.probability < SURE):
        return declared
    return found.code if found.probability >= SURE else None
