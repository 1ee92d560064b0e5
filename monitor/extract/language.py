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
same numbers in the same order, without three costs of the library's own path: walking its
n-gram automaton a byte at a time in Python (now every position at once, :class:`_Automaton`),
counting every letter of the text to learn whether it has ``MIN_LETTERS`` (now a match that
stops at the sixtieth), and widening each story's rows of the model from 16-bit to 32-bit
floats through numpy's generic cast (now the exact bit shift that widens a normal half float).
On the corpus articles a story's detection takes ~120-150 us of CPU instead of ~260-330
(``benchmarks/lang_instructions.py``: 1.02 M instructions instead of 2.28 M; the walk's cost
was mostly cache misses, which instructions do not show). The answers are the library's, bit for bit, which
``tests/extract/test_language.py`` checks on the corpus and on random text.
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


def _walked(nextmove: Any, bases: list[int], output: list[int],
            data: bytes) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """What :meth:`_Automaton.visits` finds, found by walking the automaton (``tk_nextmove``,
    its rows' offsets, ``tk_output``) a byte at a time as the library does: for an automaton
    :meth:`_Automaton.of` does not take."""
    import numpy as np

    state, found = 0, list[int]()
    append = found.append
    for byte in data:
        state = nextmove[bases[state] + byte]
        ngram = output[state]
        if ngram >= 0:
            append(ngram)
    visits = Counter(found)
    return (np.fromiter(visits.keys(), dtype=np.intp, count=len(visits)),
            np.fromiter(visits.values(), dtype=np.intp, count=len(visits)))


class _Automaton:
    """py3langid's n-gram automaton, run over every position of a text at once.

    The model finds its n-grams with an Aho-Corasick automaton over bytes: its states are the
    nodes of a trie of the n-grams' prefixes, and the state after any input is the node of
    the input's longest suffix in the trie; each state names at most one n-gram
    (``tk_output``). The library walks it a byte at a time in Python, a lookup in a table of
    9.8 M entries for each byte (~220 ns a byte, mostly the processor's cache misses). The
    trie is ``depth`` bytes deep (6), so the longest suffix in the trie lies within the last
    ``depth`` bytes: the state after a byte is the state after walking only those bytes
    from the start. All positions take those ``depth`` steps together, each step one numpy
    lookup over the whole text (the first two steps one lookup in a table of byte pairs):
    the same states for a fraction of the cost.

    That holds only for an automaton built as Aho-Corasick builds one, which :meth:`of`
    checks on the whole table when the model loads (~0.05 s); for any other it gives
    ``None`` and the classifier walks the text a byte at a time, as the library does.
    """

    #: deeper tries (none in py3langid's model) are walked a byte at a time: the steps
    #: over the whole text would cost more than the walk
    MAX_DEPTH = 16
    #: where a state without an n-gram sorts: after every n-gram (``_keys``)
    _NO_NGRAM = 1 << 62

    def __init__(self, table: npt.NDArray[Any], bases: npt.NDArray[np.intp],
                 output: npt.NDArray[np.int64], depth: int, idle: int) -> None:
        import numpy as np

        self._table = table
        self._bases = bases
        self.depth = depth
        #: bytes that leave the start where it is: before the text, they make every
        #: position's last ``depth`` bytes a walk from the start
        self._lead = bytes([idle]) * (depth - 1)
        #: the state after two bytes from the start, at ``first << 8 | second``, and its
        #: row's offset (the next step's start: one lookup fewer a position)
        after_one = bases[table[bases[0] + np.arange(256)]]
        self._pairs = table[(after_one[:, None] + np.arange(256)).ravel()].astype(np.intp)
        self._pair_rows = bases[self._pairs]
        #: for each state, its n-gram in the high half of a 64-bit key (the low half will
        #: hold the position it occurs at), or a key that sorts after every n-gram
        self._keys = np.where(output >= 0, output << 32, self._NO_NGRAM)

    @classmethod
    def of(cls, nextmove: Any, rows: Any, output: list[int]) -> _Automaton | None:
        """py3langid's automaton (``tk_nextmove``, ``tk_row``, ``tk_output``: 256 next
        states a row, a row a state, an n-gram or -1 a state; the start is state 0), or
        ``None`` when it is not an Aho-Corasick automaton 2 to ``MAX_DEPTH`` deep with a
        byte that starts no n-gram, or its n-grams are more than ``2**30``.

        The check rebuilds the trie breadth first and holds every transition to the
        construction: a state's move on a byte is its child in the trie when it has one,
        else the move of its failure state (the start's, the start itself). A state whose
        row is its failure state's row has no child and passes as a whole, so only the
        ~38 000 rows of inner nodes are compared, a block of states at a time.
        """
        import numpy as np

        table = np.frombuffer(nextmove, dtype=f"u{nextmove.itemsize}")
        moves = table.reshape(-1, 256)
        row = np.frombuffer(rows, dtype=f"u{rows.itemsize}").astype(np.intp)
        ngrams = np.asarray(output, dtype=np.int64)
        if len(ngrams) != len(row) or ngrams.max(initial=-1) >= 1 << 30:
            return None
        depth = np.full(len(row), -1, dtype=np.intp)
        failure = np.zeros(len(row), dtype=np.intp)
        depth[0] = 0
        start = moves[row[0]].astype(np.intp)
        idle = np.flatnonzero(start == 0)
        level = start[start != 0]
        if not len(idle) or len(np.unique(level)) != len(level):
            return None  # every byte starts an n-gram, or two lead to one child of the start
        depth[level] = 1
        deepest = 0
        while len(level):
            deepest += 1
            if deepest > cls.MAX_DEPTH:
                return None
            children = []
            for first in range(0, len(level), 4096):
                states = level[first:first + 4096]
                fallback = failure[states]
                inner = row[states] != row[fallback]
                own, inherited = moves[row[states[inner]]], moves[row[fallback[inner]]]
                state, byte = np.nonzero(own != inherited)
                child = own[state, byte].astype(np.intp)
                # every move that differs from the failure state's is to a child: a state
                # not reached before (its depth unknown), reached by one move only
                if (depth[child] >= 0).any() or len(np.unique(child)) != len(child):
                    return None
                depth[child] = deepest + 1
                failure[child] = inherited[state, byte]
                children.append(child)
            level = np.concatenate(children) if children else level[:0]
        if deepest < 2:
            return None
        return cls(table, row << 8, ngrams, deepest, int(idle[0]))

    def visits(self, data: bytes) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """The n-grams of the model in ``data`` in order of first occurrence, and how often
        each occurs: what walking the automaton over ``data`` finds."""
        import numpy as np

        size = len(data)
        text = np.frombuffer(self._lead + data, dtype=np.uint8).astype(np.intp)
        # the walks of all positions, a step at a time; step k reads the byte k places
        # after the start of each position's window of ``depth`` bytes. The table's states
        # are 32-bit: as indexes numpy converts them inside each lookup, at twice the cost
        # of converting them first (benchmarks/lang_instructions.py)
        pairs = (text[:size] << 8) | text[1:size + 1]
        if self.depth == 2:
            state = self._pairs[pairs]
        else:
            rows = self._pair_rows[pairs]
            last = self.depth - 1
            for k in range(2, last):
                rows = self._bases[self._table[rows + text[k:k + size]].astype(np.intp)]
            state = self._table[rows + text[last:last + size]].astype(np.intp)
        # sorting (n-gram, position) keys groups each n-gram's occurrences, its first first
        found = self._keys[state]
        found |= np.arange(size)
        keys = np.sort(found)
        keys = keys[:int(np.searchsorted(keys, self._NO_NGRAM))]
        ngrams = keys >> 32
        edges = np.ones(len(keys) + 1, dtype=bool)
        np.not_equal(ngrams[1:], ngrams[:-1], out=edges[1:-1])
        bounds = np.flatnonzero(edges)
        # each n-gram's count put at its first position: read in the text's order, they are
        # in order of first occurrence (a few lookups cost less than sorting the positions)
        firsts = keys[bounds[:-1]] & 0xFFFF_FFFF
        first = np.zeros(size, dtype=bool)
        first[firsts] = True
        counts = np.empty(size, dtype=np.intp)
        counts[firsts] = np.diff(bounds)
        return found[first] >> 32, counts[first]


class _Classifier:
    """py3langid's classifier (``LanguageIdentifier.classify`` with ``norm_probs``), computed
    as the library computes it: the byte n-grams of the UTF-8 text counted by the model's
    automaton (:class:`_Automaton`), in the order they first occur; their log counts times
    the model's rows, plus the class priors; scaled by the square root of the text's length,
    normalised to probabilities; the columns of one language written in two scripts added up.

    The model's rows are half floats; the library widens them through numpy's cast, which
    costs more than the rest of a story's detection together. Every value of the model is a
    negative normal half float (checked at load; otherwise the cast is kept), which widens to
    a single float by moving its bits: the same values, the same product. (Widening the whole
    model once, when it loads, would save ~0.23 M instructions a story, a fifth of the
    detection, for 29 MB more, ~40 MB of a daemon's resident memory: not kept.) The log
    counts are looked up in a table of ``log1p`` of the counts a sample can have, made by
    the same ufunc on the same single floats.
    """

    #: counts below this are looked up (a sample of ``MAX_CHARS`` characters is at most
    #: 4 000 bytes: no count reaches it)
    LOG_COUNTS = 4_097

    def __init__(self, identifier: Any) -> None:
        import numpy as np

        self._next = identifier.tk_nextmove
        self._row_of = identifier.tk_row
        self._out = identifier.tk_output
        self._automaton = _Automaton.of(self._next, self._row_of, self._out)
        #: each state's row offset for a walk a byte at a time, made when first needed
        #: (~100 000 ints, ~4 MB: not when the automaton runs over all positions at once)
        self._rows: list[int] = []
        self._ptc: npt.NDArray[np.float16] = identifier.nb_ptc
        self._pc: npt.NDArray[np.float32] = identifier.nb_pc
        self._classes: list[str] = list(identifier.nb_classes)
        first: dict[str, int] = {}
        #: (first column, second column) of a language the model has twice (two scripts)
        self._aliases = [(first[c], i) for i, c in enumerate(self._classes) if first.setdefault(c, i) != i]
        self._log_counts = np.log1p(np.arange(self.LOG_COUNTS, dtype=np.float32))
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
        112 << 10 in) and shifting gives both; another 0x40000 shifted is the sign bit of the
        single float (the sum stays below 2**18, so nothing carries into it). Exact."""
        import numpy as np  # loaded with the model (see __init__)

        if not self._negative_normal:
            return rows.astype(np.float32)
        bits = np.add(rows.view(np.uint16), 0x54000, dtype=np.uint32)
        bits <<= 13
        return bits.view(np.float32)

    def classify(self, text: str) -> tuple[str, float]:
        """The most probable language of ``text`` and its probability, as py3langid gives them."""
        import numpy as np

        if text.isupper():
            text = text.lower()
        data = unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")
        # (the automaton's sort keys hold a position in 32 bits: a text of 4 GiB is walked)
        if self._automaton is not None and len(data) < 1 << 32:
            ngrams, counts = self._automaton.visits(data)
        else:
            self._rows = self._rows or [row << 8 for row in self._row_of]
            ngrams, counts = _walked(self._next, self._rows, self._out, data)
        if len(ngrams):
            # (no count exceeds the length)
            short = len(data) < self.LOG_COUNTS
            weights = self._log_counts[counts] if short else np.log1p(counts.astype(np.float32))
            scores = weights @ self._widened(np.take(self._ptc, ngrams, axis=0)) + self._pc
        else:
            scores = np.full(len(self._classes), 0.0, dtype=np.float32)
        scores *= 1.0 / math.sqrt(len(data) or 1)
        np.exp(scores - scores.max(), out=scores)
        scores /= scores.sum()
        # as the library's loop adds them (two pairs: cheaper than one ``np.add.at``)
        for kept, dropped in self._aliases:
            scores[kept] += scores[dropped]
            scores[dropped] = 0.0
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
