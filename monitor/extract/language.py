"""A story's language: the one its feed or page declares, or the one its text is in (pure).

Many pages and feeds declare no language, and some declare a wrong one (a site-wide
``lang="en"`` on a German post), so the language that ``lang:`` rules and inflections use is
decided from the text too (:func:`story_language`). Detection is py3langid (a naive Bayes
classifier over byte n-grams, langid.py retrained on 140 languages; BSD; its model ships in
the wheel, 4.5 MB, on numpy). ``benchmarks/lang.py`` compares it with lingua on the corpus:
as accurate on articles and feed items, and lingua's accurate mode needs ~0.9 GB of memory
and ~12 s to load, its low-accuracy mode is less accurate on short texts, and its wheel is
96 MB. The model loads on the first detection (~1 s, ~90 MB), not at import.

Detection runs for every story the daemon or ``newsmonitor match`` reads, so it is computed
here (:class:`_Classifier`) from py3langid's model the way its ``classify`` computes it, the
same numbers in the same order, without two costs of the library's own path: counting every
letter of the text to learn whether it has ``MIN_LETTERS`` (now a match that stops at the
sixtieth), and widening each story's rows of the model from 16-bit to 32-bit floats through
numpy's generic cast (now the exact bit shift that widens a normal half float). Together they
were half of a story's cost (``benchmarks/lang_instructions.py``); the answers are the
library's, bit for bit, which ``tests/extract/test_language.py`` checks on the corpus.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

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
#: a text with at least MIN_LETTERS letters (``[^\W\d_]``), whatever lies between them: it
#: stops at the sixtieth letter instead of listing every letter of the text
_ENOUGH_LETTERS = re.compile(rf"(?:[\W\d_]*[^\W\d_]){{{MIN_LETTERS}}}")


@dataclass(frozen=True, slots=True)
class Detection:
    """The language a text is in: a lower-case ISO 639 code (``"de"``; 639-1 where one
    exists), and the detector's probability for it (0 to 1)."""

    code: str
    probability: float


class _Classifier:
    """py3langid's classifier (``LanguageIdentifier.classify`` with ``norm_probs``), computed
    as the library computes it: the byte n-grams of the UTF-8 text counted by the model's
    automaton, in the order they first occur; their log counts times the model's rows, plus
    the class priors; scaled by the square root of the text's length, normalised to
    probabilities; the columns of one language written in two scripts added up.

    The model's rows are half floats; the library widens them through numpy's cast, which
    costs more than the rest of a story's detection together. Every value of the model is a
    negative normal half float (checked at load; otherwise the cast is kept), which widens to
    a single float by moving its bits: the same values, the same product.
    """

    def __init__(self, identifier: Any) -> None:
        import numpy as np

        self._next = identifier.tk_nextmove
        self._rows = [row << 8 for row in identifier.tk_row]
        self._out = identifier.tk_output
        self._ptc: npt.NDArray[np.float16] = identifier.nb_ptc
        self._pc: npt.NDArray[np.float32] = identifier.nb_pc
        self._classes: list[str] = list(identifier.nb_classes)
        first: dict[str, int] = {}
        #: (first column, second column) of a language the model has twice (two scripts)
        self._aliases = [(first[c], i) for i, c in enumerate(self._classes) if first.setdefault(c, i) != i]
        # the model's values are log probabilities: negative; their exponents neither 0
        # (zero, subnormal) nor 31 (infinite, not a number)
        bits = self._ptc.view(np.uint16) if self._ptc.dtype == np.float16 else None
        self._negative_normal = bits is not None and bool(
            ((bits >> 15) == 1).all() and not (((bits >> 10) & 0x1F) % 0x1F == 0).any()
        )

    def _widened(self, rows: npt.NDArray[np.float16]) -> npt.NDArray[np.float32]:
        """``rows`` as single floats. A negative normal half float is 1, five bits of exponent
        (bias 15) and ten of mantissa; as a single float the exponent is re-biased (127) and
        the mantissa moved thirteen bits up: adding 0x14000 (the sign bit's 0x8000 out,
        112 << 10 in) and shifting gives both, the sign bit is set back. Exact."""
        import numpy as np  # loaded with the model (see __init__)

        if not self._negative_normal:
            return rows.astype(np.float32)
        bits = rows.view(np.uint16).astype(np.uint32)
        bits += 0x14000
        bits <<= 13
        bits |= 0x80000000
        return bits.view(np.float32)

    def _visits(self, data: bytes) -> Counter[int]:
        """How often each of the model's n-grams occurs in ``data``, in order of first occurrence."""
        nextmove, rows, out = self._next, self._rows, self._out
        state, found = 0, list[int]()
        append = found.append
        for byte in data:
            state = nextmove[rows[state] + byte]
            feature = out[state]
            if feature >= 0:
                append(feature)
        return Counter(found)

    def classify(self, text: str) -> tuple[str, float]:
        """The most probable language of ``text`` and its probability, as py3langid gives them."""
        import numpy as np

        if text.isupper():
            text = text.lower()
        data = unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")
        visits = self._visits(data)
        if visits:
            idx = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
            counts = np.fromiter(visits.values(), dtype=np.float32, count=len(visits))
            scores = np.log1p(counts) @ self._widened(np.take(self._ptc, idx, axis=0)) + self._pc
        else:
            scores = np.full(len(self._classes), 0.0, dtype=np.float32)
        scores *= 1.0 / math.sqrt(len(data) or 1)
        np.exp(scores - scores.max(), out=scores)
        scores /= scores.sum()
        for i, j in self._aliases:
            scores[i] += scores[j]
            scores[j] = 0.0
        best = int(scores.argmax())
        return self._classes[best], float(scores[best])


@cache
def _library_identifier() -> Any:
    """py3langid's own identifier with probabilities, loaded once (about a second)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


class _Identifier(Protocol):
    def classify(self, text: str) -> tuple[str, float]: ...


@cache
def _identifier() -> _Identifier:
    """The classifier over py3langid's model; the library's own when its model does not have
    the attributes this module reads (another py3langid than the one in constraints.txt)."""
    library = _library_identifier()
    try:
        return _Classifier(library)
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - another py3langid
        identifier: _Identifier = library
        return identifier


def detect_language(text: str) -> Detection | None:
    """The language of ``text`` (its first ``MAX_CHARS`` characters), or ``None`` when it has
    fewer than ``MIN_LETTERS`` letters or is no language at all. Never raises for any text."""
    sample = text[:MAX_CHARS]
    if _ENOUGH_LETTERS.match(sample) is None:
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
