"""Tokenisation and normalisation shared by queries and stories.

Words are found by one fixed regular expression (no user input ever becomes a pattern),
``CHUNK_RE``, whose matches are runs of word characters joined by hyphens, apostrophes or
dots. A story is cut at its spaces into *chunks* (``Japan's``, ``defence,``, ``U.S.-led``,
``"rare``), and each distinct chunk is analysed once into *parts* (the word positions) and
*aliases* (the joined form of a hyphenated or apostrophe word, spanning its parts). Cutting at
spaces is one C-level ``str.split``, several times faster than the expression over the whole
text, and gives the same words: no match contains a space. Analyses are cached per
language, because news text repeats the same few thousand surface forms endlessly; the
cache is what makes matching cheap per story.

Three normal forms exist for every part:

* ``surface``: the word as written (dots of ``U.S.`` removed) for exact-case terms;
* ``fold``: case- and accent-insensitive form, for quoted phrases and wildcards;
* ``keys``: the fold plus the folded lemmas of the word in the story's language, with
  British spellings mapped to American ones (English only). Two words are inflections of
  each other when their key sets intersect.
"""

from __future__ import annotations

import contextlib
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import chain, compress, filterfalse, pairwise, repeat
from operator import itemgetter
from typing import Final

import simplemma
from breame.spelling import BRITISH_ENGLISH_SPELLINGS
from lemminflect import Lemmatizer, getAllLemmas
from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES

from monitor.rules.encoding import SURFACE_TAG, Pair, language_code


def _class_body(ranges: list[tuple[int, int]]) -> str:
    """Code point ranges as the body of a regular-expression character class."""
    return "".join(f"\\U{a:08x}-\\U{b:08x}" if a != b else f"\\U{a:08x}" for a, b in ranges)


def _extend(ranges: list[tuple[int, int]], cp: int) -> None:
    """Adds code point ``cp`` (above every one added before) to ``ranges``."""
    if ranges and ranges[-1][1] == cp - 1:
        ranges[-1] = (ranges[-1][0], cp)
    else:
        ranges.append((cp, cp))


def _minus(ranges: list[tuple[int, int]], cp: int) -> list[tuple[int, int]]:
    """``ranges`` without code point ``cp``."""
    out: list[tuple[int, int]] = []
    for a, b in ranges:
        out.extend(r for r in ((a, min(b, cp - 1)), (max(a, cp + 1), b)) if r[0] <= r[1])
    return out


#: the planes that hold format characters (category Cf): the Basic Multilingual Plane, the
#: Supplementary Multilingual Plane (Egyptian, musical and shorthand format controls) and the
#: Supplementary Special-purpose Plane (tag characters); the others hold ideographs or
#: private use, or nothing. Scanning only these keeps the import ~0.1 s shorter; a test
#: scans every code point to hold this Python's Unicode version to it.
FORMAT_PLANES = (0x00000, 0x10000, 0xE0000)


def _mark_and_format_ranges() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The combining marks of the BMP, and every format character (Cf), as code point ranges.

    ``\\w`` in ``re`` does not include combining marks, which would cut Devanagari, Thai or
    decomposed Latin words in pieces.
    """
    marks: list[tuple[int, int]] = []
    formats: list[tuple[int, int]] = []
    category = unicodedata.category
    for cp in range(0x10000):
        cat = category(chr(cp))
        if cat[0] == "M":
            _extend(marks, cp)
        elif cat == "Cf":
            _extend(formats, cp)
    for plane in FORMAT_PLANES[1:]:
        for cp in range(plane, plane + 0x10000):
            if category(chr(cp)) == "Cf":
                _extend(formats, cp)
    return marks, formats


_MARKS, _FORMATS = _mark_and_format_ranges()
#: the zero-width non-joiner, the one format character that is not ignored: Persian writes
#: it between the parts of a word (``کتاب‌ها``, *books*: ``کتاب`` and the plural ``ها``),
#: and simplemma's Persian lemmas are keyed by the forms with it, so it joins parts like a
#: hyphen (the parts, or the parts joined); in Indic scripts, where it only shapes letters,
#: the parts joined are the word
ZWNJ = "\u200c"
#: the invisible characters words are analysed without: every format character (Unicode
#: category Cf) but ``ZWNJ``: soft hyphen, zero-width space and joiner, word joiner,
#: direction marks and embeddings, byte order mark, tags ... A reader sees
#: ``Not\u00adfall\u00adplan`` as one word; offsets still point into the text as written, so
#: a highlight covers the word with its invisible characters (see ``analyse_chunk``)
INVISIBLE_RE = re.compile(f"[{_class_body(_minus(_FORMATS, ord(ZWNJ)))}]")


# format characters count as word characters, so that one inside a word does not cut it
_W = rf"[\w{_class_body(_MARKS)}{_class_body(_FORMATS)}]"
#: a run of word characters joined by single hyphens, apostrophes, dots or commas, with an
#: optional final dot (kept only when the chunk is an abbreviation such as ``U.S.``)
CHUNK_RE = re.compile(rf"{_W}+(?:[-'’‐‑.,]{_W}+)*\.?")
#: the same with a group, for ``split``: separators and chunks alternate, so character
#: offsets come from the piece lengths without a Python-level loop over match objects
CHUNK_SPLIT_RE = re.compile(f"({CHUNK_RE.pattern})")
_JOINERS = f"-'’‐‑_{ZWNJ}"
_SPLIT_JOINERS = re.compile(f"([{_JOINERS}])")
_ABBREV = re.compile(r"[^\W\d_](?:\.[^\W\d_])+\.?")
#: a number as news writes it, ASCII digits in groups joined by single dots or commas
#: (``3.5``, ``12,500``, ``1.234.567``): one word, as ``split_chunk`` keeps it
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)+")
_PIECE = re.compile(r"\d+(?:[.,]\d+)*|[^.,]+")
# scripts written without spaces: every Han/kana character, and every Thai consonant with
# its vowel and tone marks, is a word of its own, so a query word becomes a phrase of them
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f"
_CJK = re.compile(f"[{_UNSPACED}]")
_CJK_SPLIT = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
    "|[\u0e00-\u0e7f][\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]*"
    f"|[^{_UNSPACED}]+"
)
#: letters NFKD does not decompose but readers treat as accented Latin
_EXTRA_FOLD = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i"}
)
#: chunks cached per language before the cache starts afresh: about 1.1 KB each with their
#: index entries and a matcher's notes (measured on the benchmark's articles, with what the
#: matcher builds on first use), so ~110 MB at the bound; after a fresh start, stories
#: match at the benchmark's "cold" speed until their words are cached again
_MAX_CACHE = 100_000
#: simplemma's dictionaries are read from their compressed streams (``low_memory``), not
#: decoded into a dict of every form: the same lemmas (checked on 29 000 forms of German,
#: French and Swahili), for a tenth to a twentieth of the memory. Decoded, a language costs
#: a daemon that meets one story in it 100-150 MiB (German, Russian, Portuguese) to 625 MiB
#: (Swahili), and simplemma keeps eight; streamed, 2-55 MiB, and it loads in half the time
#: (0.5 s for German, 1.5 s for Swahili, against 0.8 and 3.7 s). A lookup costs ~15 us more,
#: paid once per new word (``word_keys`` caches them): a cold German or Russian story takes
#: about twice as long to analyse (5.5 -> 12.3 ms, 12.4 -> 26.6 ms on corpus articles), a
#: warm one the same; the first fifty or so stories in a language pay back the faster load.
LOW_MEMORY_LEMMAS = True


# A chunk's analysis is a plain tuple read through the index constants below, not a named
# tuple: the word caches hold one for each of up to ``_MAX_CACHE`` chunks, and the cyclic
# collector stops tracking an exact tuple of strings and numbers (and then a tuple of those),
# but walks an instance of a tuple subclass at every full collection for as long as it lives
# (after a cold pass, some 25 000 of them, most of what it walked).

#: one word position inside a chunk: ``(start, end, surface, fold, keys)``, read with
#: ``START`` .. ``KEYS``; offsets are relative to the chunk
Part = tuple[int, int, str, str, tuple[str, ...]]
#: the joined form of a compound (``semiconductor`` for ``semi-conductor``): the fields of a
#: ``Part`` (its offsets spanning its parts), then the positions of its first and last part
#: (``FIRST``, ``LAST``)
Alias = tuple[int, int, str, str, tuple[str, ...], int, int]
#: where a ``Part``'s (and an ``Alias``'s) fields are: its offsets in the chunk, the word as
#: written, its fold and its keys (see the module docstring)
START: Final = 0
END: Final = 1
SURFACE: Final = 2
FOLD: Final = 3
KEYS: Final = 4
#: where an ``Alias``'s first and last part are: positions in the chunk's parts
FIRST: Final = 5
LAST: Final = 6

#: the analysis of a chunk: ``(parts, aliases, feats, width, heads, tails, inner)``, read
#: with ``PARTS`` .. ``INNER``
ChunkInfo = tuple[tuple[Part, ...], tuple[Alias, ...], tuple[str, ...], int, tuple[str, ...], tuple[str, ...],
                  tuple[Pair, ...]]
#: where a ``ChunkInfo``'s fields are: its words (``Part``) and joined forms (``Alias``)
PARTS: Final = 0
ALIASES: Final = 1
#: every key and fold of the chunk, each once: what the candidate filter looks up (a tuple
#: of strings, which the collector stops tracking)
FEATS: Final = 2
#: the number of word positions (parts)
WIDTH: Final = 3
#: the folds of the words that start at the chunk's first position, and that end at its
#: last one: what pairs with the neighbouring chunks
HEADS: Final = 4
TAILS: Final = 5
#: the pairs of consecutive positions inside the chunk
INNER: Final = 6
#: the analysis of a chunk without words
_NO_WORDS: ChunkInfo = ((), (), (), 0, (), (), ())


#: the letters ``_EXTRA_FOLD`` maps
_EXTRA_FOLD_CHARS = frozenset(map(chr, _EXTRA_FOLD))
#: the generic combining diacritics block, which ``fold`` strips
_DIACRITICS = re.compile("[\u0300-\u036f]")


def fold(word: str) -> str:
    """Case- and accent-insensitive form: ``Défense`` → ``defense``, ``Straße`` → ``strasse``."""
    word = word.casefold()
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    # only the generic diacritics block: stripping every mark would merge distinct
    # Devanagari or Thai words, whose vowel signs are marks too
    stripped = _DIACRITICS.sub("", decomposed)
    composed = unicodedata.normalize("NFC", stripped)
    # ``str.translate`` with a dictionary raises and clears a KeyError for every character
    # it does not map (most: ~1k instructions a character of a Korean or Greek word); a
    # set's test of the characters costs a tenth, and few words hold one of those letters
    return composed if _EXTRA_FOLD_CHARS.isdisjoint(composed) else composed.translate(_EXTRA_FOLD)


def lemma_language(lang: str | None) -> str:
    """The lemmatiser language for a story language tag (``de-AT`` → ``de``; unknown → ``en``)."""
    if not lang:
        return "en"
    primary = language_code(lang)
    if primary in SUPPORTED_LANGUAGES:
        return primary
    return "en"


def _lemma_tables() -> tuple[dict[str, dict[str, tuple[str, ...]]], dict[str, dict[str, tuple[str, ...]]]] | None:
    """lemminflect's lookup and override tables, or None if this lemminflect lacks them."""
    lemmatizer = Lemmatizer()
    try:
        return lemmatizer._getLemmaDict(), lemmatizer._getOverridesDict()
    except AttributeError:  # pragma: no cover - another lemminflect version
        return None


_TABLES = _lemma_tables()


def english_lemmas(lower: str) -> list[str]:
    """Every lemma lemminflect's ``getAllLemmas`` gives for a lower-case word, any part of speech.

    ``getAllLemmas`` deep-copies its tables' entries on every call, which made it most of the
    cost of a story full of new words; reading the same tables (overrides replacing a part of
    speech's entry, as there) gives the same lemmas without the copies.
    """
    if _TABLES is None:  # pragma: no cover - another lemminflect version
        return [lemma for lemmas in getAllLemmas(lower).values() for lemma in lemmas]
    table, overrides = _TABLES
    word = lower.lower()
    found = table.get(word)
    extra = overrides.get(word)
    if extra:
        found = {**found, **extra} if found else extra
    if not found:
        return []
    return [lemma.lower() for lemmas in found.values() for lemma in lemmas]


def _american(word: str) -> str:
    return str(BRITISH_ENGLISH_SPELLINGS.get(word, word))


@lru_cache(maxsize=200_000)
def word_keys(lower: str, lang: str) -> tuple[str, ...]:
    """Folded lemma keys of a lower-case word in ``lang`` (see the module docstring).

    English uses lemminflect (all lemmas of all parts of speech, so ``left`` may be the
    adjective or the past of *leave*) and breame's British→American spelling table;
    other languages use simplemma's dictionary lemma. The word's own fold is always a key.
    """
    if lang == "en" and lower.isascii() and lower.islower() and _TABLES is not None:
        table = _EN_KEYS if _EN_KEYS is not None else english_key_table()
        return table.get(lower) or (lower,)
    return _analysed_keys(lower, lang)


def _analysed_keys(lower: str, lang: str) -> tuple[str, ...]:
    """``word_keys`` found by asking the lemmatisers (not cached)."""
    own = fold(lower)
    if lower.isascii():
        # no ideographs, and mostly letters only: the tests below in one C call each
        if not lower.isalpha() and not any(c.isalpha() for c in lower):
            return (own,)
    elif _CJK.search(lower) or not any(c.isalpha() for c in lower):
        return (own,)
    keys = {own}
    if lang == "en":
        keys.add(_american(own))
        # breame also lists inflected forms, some ambiguous (analyses → analyzes, the
        # verb), so the word itself is lemmatised too
        for form in {lower, _american(lower)}:
            for lemma in english_lemmas(form):
                keys.add(_american(lemma if lemma.isascii() else fold(lemma)))
        if len(keys) == 1:
            return (own,)
    else:
        with contextlib.suppress(ValueError):
            keys.add(fold(str(simplemma.lemmatize(lower, lang=lang, low_memory=LOW_MEMORY_LEMMAS))))
    return tuple(sorted(keys, key=lambda k: (k != own, k)))


def _english_lemma_keys() -> dict[str, set[str]]:
    """Every lemma key (``english_lemmas``, spelled American) of every lower-case word
    lemminflect's tables hold (the words without a lemma left out)."""
    lemma_dict, overrides = _TABLES or ({}, {})
    american = BRITISH_ENGLISH_SPELLINGS.get
    keyed: dict[str, set[str]] = {}
    for table in (lemma_dict, overrides):
        for form in table:
            if form.islower() and form not in keyed:
                found = lemma_dict.get(form)
                extra = overrides.get(form)
                if extra:
                    found = {**found, **extra} if found else extra
                if found:
                    # plain loops: the tables hold ~70 000 words, and this runs at every start
                    keys = set()
                    for lemmas in found.values():
                        for lemma in lemmas:
                            lower = lemma.lower()
                            if not lower.isascii():
                                lower = fold(lower)
                            keys.add(american(lower, lower))
                    keyed[form] = keys
    return keyed


#: the keys of lemminflect's and breame's tables that are not all ASCII (see
#: ``english_odd_words``); None until first needed
_EN_ODD: frozenset[str] | None = None


def english_odd_words() -> frozenset[str]:
    """The words of lemminflect's lookup and override tables and of breame's spelling table
    that are not all ASCII: a word of other letters that is none of these, and whose fold is
    not a British spelling, has no lemma but itself and no American spelling (see
    ``_analysed_keys``), so its keys are its fold alone. A few hundred words, built once."""
    global _EN_ODD
    if _EN_ODD is None:
        lemma_dict, overrides = _TABLES or ({}, {})
        # ~100 000 words tested in one C-level pass: the first story with a word of other
        # letters builds it, and pays for it
        _EN_ODD = frozenset(filterfalse(str.isascii, chain(lemma_dict, overrides, BRITISH_ENGLISH_SPELLINGS)))
    return _EN_ODD


#: ``word_keys(w, "en")`` of every lower-case ASCII word ``w`` whose keys are more than
#: ``(w,)`` (see ``english_key_table``); None until first needed
_EN_KEYS: dict[str, tuple[str, ...]] | None = None


def english_key_table() -> dict[str, tuple[str, ...]]:
    """``word_keys(w, "en")`` of every lower-case ASCII word ``w`` (``w.islower()``) whose
    keys are not just ``(w,)`` (used only when lemminflect's tables are readable, see
    ``english_lemmas``): any other such word has no lemma but itself and no American
    spelling, so its keys are ``(w,)``. Built once per process (by the first compile, or
    the first English story) from lemminflect's and breame's tables: ~36 000 words, ~0.3 s,
    ~3 MiB. A story of new English words then takes one dictionary lookup per word instead
    of several lemma and spelling lookups.

    Only a word that is a key of one of those tables can have other keys: ``_american``
    changes only breame's keys, and ``english_lemmas`` finds lemmas only for the lookup
    tables' keys (it looks up the word lower-cased, which such a word is). A test holds
    the table to ``_analysed_keys`` over every word of those tables. Builds
    ``english_odd_words`` too.
    """
    global _EN_KEYS
    if _EN_KEYS is not None:
        return _EN_KEYS
    american = BRITISH_ENGLISH_SPELLINGS.get
    keyed = _english_lemma_keys()
    # shared strings: many words have the same lemma
    pool: dict[str, str] = {}
    share = pool.setdefault
    none: frozenset[str] = frozenset()
    out: dict[str, tuple[str, ...]] = {}
    for word in {*keyed, *BRITISH_ENGLISH_SPELLINGS}:
        if not (word.isascii() and word.islower()):
            continue
        spelled = american(word, word)
        if spelled == word:
            # most words: their keys are their lemmas' alone, often just the word itself
            own = keyed.get(word, none)
            if not own or (len(own) == 1 and word in own):
                continue
        keys = {word, spelled}
        keys |= keyed.get(word, none)
        if spelled != word:
            keys |= keyed.get(spelled.lower(), none)
        if len(keys) > 1:
            keys.discard(word)
            out[word] = (word, *[share(k, k) for k in sorted(keys)])
    _EN_KEYS = out
    # the same tables' few words of other letters: ~4 ms, paid here once with the table
    # rather than by the first story that has such a word
    english_odd_words()
    return out


def _split_cjk(start: int, text: str) -> list[tuple[int, int, str]]:
    if not _CJK.search(text):
        return [(start, start + len(text), text)]
    return [(start + m.start(), start + m.end(), m.group()) for m in _CJK_SPLIT.finditer(text)]


def split_chunk(chunk: str) -> tuple[list[tuple[int, int, str]], bool]:
    """Word pieces of one chunk as (start, end, surface), and whether it was a compound.

    ``U.S.`` → ``US``; ``Japan's`` → ``Japan`` (possessive dropped); ``semi-conductor`` →
    ``semi`` + ``conductor`` (compound); ``3.5`` stays one number; ``bbc.co.uk`` → three words.
    """
    core = chunk[:-1] if chunk.endswith(".") else chunk
    tokens = _SPLIT_JOINERS.split(core)
    pieces: list[tuple[int, int, str]] = []
    pos = 0
    joined = False
    for i in range(0, len(tokens), 2):
        piece = tokens[i]
        start = pos
        pos += len(piece)
        sep_before = tokens[i - 1] if i else ""
        if i + 1 < len(tokens):
            pos += len(tokens[i + 1])
        if sep_before in ("'", "’") and piece in ("s", "S") and (i + 2 >= len(tokens)):
            continue  # possessive 's
        if not piece:
            continue
        if sep_before:
            joined = True
        end = start + len(piece)
        if piece.isalpha() and piece.isascii():
            # the expressions below keep a piece of ASCII letters whole (most pieces)
            pieces.append((start, end, piece))
            continue
        if _ABBREV.fullmatch(piece):
            # the stripped final dot belongs to the abbreviation
            span_end = end + 1 if end == len(core) and len(core) < len(chunk) else end
            pieces.append((start, span_end, piece.replace(".", "")))
            continue
        for m in _PIECE.finditer(piece):
            pieces.extend(_split_cjk(start + m.start(), m.group()))
    return pieces, joined and len(pieces) > 1


def visible(text: str) -> str:
    """``text`` without the invisible characters of ``INVISIBLE_RE``."""
    return text if text.isascii() else INVISIBLE_RE.sub("", text)


def _analyse_visible(chunk: str, lang: str) -> ChunkInfo:
    """``analyse_chunk`` of a chunk that holds invisible characters: the analysis of the chunk
    without them, its offsets moved back onto the chunk as written."""
    kept = [i for i, c in enumerate(chunk) if not INVISIBLE_RE.match(c)]
    info = analyse_chunk("".join(chunk[i] for i in kept), lang)
    parts = tuple([(kept[p[START]], kept[p[END] - 1] + 1, *p[SURFACE:]) for p in info[PARTS]])
    aliases = tuple([(kept[a[START]], kept[a[END] - 1] + 1, *a[SURFACE:]) for a in info[ALIASES]])
    return (parts, aliases, *info[FEATS:])


def analyse_chunk(chunk: str, lang: str) -> ChunkInfo:
    """Parts, aliases and candidate-filter features of ``chunk`` (any text without spaces:
    one ``CHUNK_RE`` match or several, with the punctuation around them) in lemmatiser
    language ``lang``. Invisible characters are treated as absent (``INVISIBLE_RE``), but
    the offsets are into ``chunk`` as given."""
    if chunk.isascii():
        if chunk.isalpha() or _ascii_number(chunk):
            return analyse_word(chunk, lang)
    elif chunk.isalpha() and not _CJK.search(chunk):
        return analyse_word(chunk, lang)
    elif INVISIBLE_RE.search(chunk):
        return _analyse_visible(chunk, lang)
    if _JOINED.fullmatch(chunk):
        return analyse_joined(chunk, lang)
    return analyse_pieces(chunk, lang)


def analyse_word(word: str, lang: str) -> ChunkInfo:
    """``analyse_pieces`` of a chunk of letters only (``str.isalpha``) and no character of a
    script written without spaces (``_CJK``), or of ASCII digits only, or an ASCII number
    (``_NUMBER``) (most chunks of most stories, once their punctuation is off): one part, no
    joined form. A new story's words are mostly new to the cache, and this is several times
    cheaper than the expressions ``analyse_pieces`` runs (they find the same: every letter
    is a word character, and no letter is a joiner, a dot or a digit, or invisible; a
    number's dots and commas join its digits into one word, which has no letter)."""
    if not word.isascii():
        folded = fold(word)
        keys = word_keys(word.lower(), lang)
        heads = (folded,)
        feats = keys if folded in keys else (*keys, folded)
        return ((0, len(word), word, folded, keys),), (), feats, 1, heads, heads, ()
    folded = word.lower()
    heads = (folded,)
    if lang == "en" and _TABLES is not None:
        # ``word_keys`` without its cache: most words of a new story are new to it too
        keys = (_EN_KEYS or english_key_table()).get(folded) or heads
    else:
        keys = word_keys(folded, lang)
    # the fold is the first key
    return ((0, len(word), word, folded, keys),), (), keys, 1, heads, heads, ()


#: a compound or contraction of ASCII letters: words joined by single hyphens or apostrophes
#: (``well-known``, ``didn’t``, ``mother-in-law's``), a tenth of a new story's chunks that are
#: not plain words
_JOINED = re.compile("[A-Za-z]+(?:[-'’][A-Za-z]+)+")
_JOINER = re.compile("[-'’]")


def analyse_joined(chunk: str, lang: str) -> ChunkInfo:
    """``analyse_pieces`` of a chunk that ``_JOINED`` matches whole, without the expressions:
    its words are the runs of letters (a last ``s`` after an apostrophe is a possessive,
    dropped), and with more than one of them (and at most six) they are a compound whose
    joined form spans them all (``split_chunk``). A test holds it to ``analyse_pieces``."""
    words = _JOINER.split(chunk)
    if words[-1] in ("s", "S") and chunk[-2] != "-":
        words.pop()
    parts: list[Part] = []
    start = 0
    for word in words:
        lower = word.lower()
        parts.append((start, start + len(word), word, lower, word_keys(lower, lang)))
        start += len(word) + 1
    aliases: list[Alias] = []
    if 1 < len(parts) <= 6:
        surface = "".join(words)
        lower = surface.lower()
        aliases.append((0, parts[-1][END], surface, lower, word_keys(lower, lang), 0, len(parts) - 1))
    return _assembled(parts, aliases)


#: words of ASCII letters or digits joined by single hyphens or apostrophes, or letters and
#: digits run together, with an optional full stop (``_analyse_ascii``)
_ASCII_JOINED = re.compile("[A-Za-z0-9]+(?:[-'’][A-Za-z0-9]+)*\\.?")
_DIGITS = "0123456789"


def _analyse_ascii(chunk: str, keys: Callable[[str], tuple[str, ...] | None]) -> ChunkInfo:
    """``analyse_pieces`` of a chunk that ``_ASCII_JOINED`` matches whole, in English, without
    the expressions, ``keys`` being the English key table's ``get`` (a word it lacks is its
    own key, see ``english_key_table``): its words are the runs between its hyphens and
    apostrophes (a final full stop is no word's, a last ``s`` after an apostrophe is a
    possessive, dropped), a run of digits then letters being two (``split_chunk``); with
    several runs (and at most six words) they are a compound whose joined form spans them
    all. A test holds it to ``analyse_chunk``."""
    end = len(chunk)
    if chunk[-1] == ".":
        end -= 1
    if end > 2 and chunk[end - 1] in "sS" and chunk[end - 2] in "'’":
        end -= 2
    runs = _JOINER.split(chunk[:end]) if end < len(chunk) or not chunk.isalnum() else [chunk]
    parts: list[Part] = []
    start = 0
    for run in runs:
        word = run
        if run[0] in _DIGITS and not run.isdigit():
            # digits then letters: two words (``60fps``), the digits' and the rest's
            word = run.lstrip(_DIGITS)
            digits = run[:len(run) - len(word)]
            parts.append((start, start + len(digits), digits, digits, keys(digits) or (digits,)))
            start += len(digits)
        lower = word.lower()
        parts.append((start, start + len(word), word, lower, keys(lower) or (lower,)))
        start += len(word) + 1
    width = len(parts)
    first = parts[0]
    if width == 1:
        # a word whose only key is its fold (most) has its keys as its heads: one tuple
        heads = first[KEYS] if len(first[KEYS]) == 1 else (first[FOLD],)
        return (first,), (), first[KEYS], 1, heads, heads, ()
    folds = [p[FOLD] for p in parts]
    # the fold is a word's first key: the features are the keys, each once
    feats = dict.fromkeys([k for p in parts for k in p[KEYS]])
    inner = tuple(dict.fromkeys(pairwise(folds)))
    if len(runs) == 1 or width > 6:
        last = parts[-1]
        return (tuple(parts), (), tuple(feats), width, first[KEYS] if len(first[KEYS]) == 1 else (folds[0],),
                last[KEYS] if len(last[KEYS]) == 1 else (folds[-1],), inner)
    surface = "".join([p[SURFACE] for p in parts])
    lower = "".join(folds)
    joined = keys(lower) or (lower,)
    feats.update(dict.fromkeys(joined))
    alias = (0, parts[-1][END], surface, lower, joined, 0, width - 1)
    return tuple(parts), (alias,), tuple(feats), width, (folds[0], lower), (folds[-1], lower), inner


def analyse_pieces(chunk: str, lang: str) -> ChunkInfo:
    """``analyse_chunk`` of a chunk without invisible characters, by the expressions."""
    parts: list[Part] = []
    aliases: list[Alias] = []
    for m in CHUNK_RE.finditer(chunk):
        pieces, compound = split_chunk(m.group())
        base, first = m.start(), len(parts)
        parts += [(base + s, base + e, w, fold(w), word_keys(w.lower(), lang)) for s, e, w in pieces]
        if compound and len(pieces) <= 6:
            own = parts[first:]
            surface = "".join([p[SURFACE] for p in own])
            aliases.append((own[0][START], own[-1][END], surface, fold(surface), word_keys(surface.lower(), lang),
                            first, len(parts) - 1))
    return _assembled(parts, aliases)


def _assembled(parts: list[Part], aliases: list[Alias]) -> ChunkInfo:
    """The analysis of a chunk of word positions ``parts`` and joined forms ``aliases``: its
    features, and the folds and pairs its words make at its ends and inside it."""
    if not parts:
        return _NO_WORDS
    last = len(parts) - 1
    if aliases:
        heads = (parts[0][FOLD], *[a[FOLD] for a in aliases if a[FIRST] == 0])
        tails = (parts[-1][FOLD], *[a[FOLD] for a in aliases if a[LAST] == last])
    else:
        heads, tails = (parts[0][FOLD],), (parts[-1][FOLD],)
    # the pairs of words (parts or joined forms) at consecutive positions inside the chunk
    inner: list[Pair] = [(a[FOLD], b[FOLD]) for a, b in pairwise(parts)]
    if aliases:
        starting: dict[int, list[str]] = {}
        for a in aliases:
            starting.setdefault(a[FIRST], []).append(a[FOLD])
        for a in aliases:
            if a[LAST] < last:
                inner.append((a[FOLD], parts[a[LAST] + 1][FOLD]))
                inner.extend((a[FOLD], f) for f in starting.get(a[LAST] + 1, ()))
            if a[FIRST] > 0:
                inner.append((parts[a[FIRST] - 1][FOLD], a[FOLD]))
    return (tuple(parts), tuple(aliases), _features(parts, aliases), len(parts), heads, tails,
            tuple(dict.fromkeys(inner)))


def _features(parts: list[Part], aliases: list[Alias]) -> tuple[str, ...]:
    """Every key and fold of ``parts`` and ``aliases``, each once, in a fixed order."""
    feats = dict.fromkeys([f for p in parts for f in (*p[KEYS], p[FOLD])])
    if aliases:
        feats.update(dict.fromkeys([f for a in aliases for f in (*a[KEYS], a[FOLD])]))
    return tuple(feats)


#: punctuation that is never part of a word match (``CHUNK_RE``) at the start, or at the
#: end, of a chunk: a word match starts and ends with a word character, or ends with the
#: dot of an abbreviation
_TRAIL = "\"'“”‘’„‚«»‹›()[]{}<>,;:!?…—–-‐‑*#/|&%$@+=~^`\\"
_LEAD = _TRAIL + "."


def _shifted(info: ChunkInfo, shift: int) -> ChunkInfo:
    """``info`` of a chunk preceded by ``shift`` characters of punctuation."""
    parts = tuple([(p[START] + shift, p[END] + shift, *p[SURFACE:]) for p in info[PARTS]])
    aliases = tuple([(a[START] + shift, a[END] + shift, *a[SURFACE:]) for a in info[ALIASES]])
    return (parts, aliases, *info[FEATS:])


#: up to how many new chunks ``LangCache.add_all`` adds one at a time: on the benchmark's cold
#: stories, from 5 to 20 alike, ~2 % of ``add_all`` fewer instructions than with none
_FEW = 8


class LangCache:
    """Chunk analyses of one lemmatiser language, with a reverse index for word lookups.

    ``rev`` maps every key and fold to the chunks that contain it, and once ``surfaced``
    (see ``index_surfaces``) every ``SURFACE_TAG + surface`` too; ``complex`` holds the
    chunks of several words or with a joined form, ``wordless`` those of none.
    """

    __slots__ = ("chunks", "complex", "lang", "rev", "slashed", "surfaced", "wordless")

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.chunks: dict[str, ChunkInfo] = {}
        self.rev: dict[str, tuple[str, ...]] = {}
        self.complex: set[str] = set()
        self.wordless: set[str] = set()
        #: whether ``rev`` files the chunks under their words' surfaces (``index_surfaces``)
        self.surfaced = False
        #: the analyses of what is before the last slash of chunks ``_analysed`` cut there
        #: (``https://news.example/``), each made once (no chunk's, and filed nowhere)
        self.slashed: dict[str, ChunkInfo] = {}

    def index_surfaces(self) -> None:
        """Files every chunk under ``SURFACE_TAG`` + the surface of each of its words (parts
        and joined forms), and from now on each chunk added. Only exact-case terms (``=Word``)
        look these up, and most rule sets have none: until the first such lookup, a new
        chunk is filed without them (one string, one tuple and one entry fewer each)."""
        if self.surfaced:
            return
        self.surfaced = True
        rev = self.rev
        for chunk, info in self.chunks.items():
            surfaces = {SURFACE_TAG + p[SURFACE] for p in info[PARTS]}
            surfaces.update(SURFACE_TAG + a[SURFACE] for a in info[ALIASES])
            _file(rev, surfaces, repeat(chunk))

    def add_all(self, chunks: list[str]) -> None:
        """``add`` of each of ``chunks``, distinct chunks none of which is in the cache yet.

        A new English story's chunks are mostly words of ASCII letters or numbers: those are
        analysed and indexed together, a few C-level passes over them all (``map``, ``zip``)
        instead of a Python-level call of ``add`` each; so are most of the others (see
        ``_add_english_others``). A few chunks (a story's link, a title's new words) take
        ``add`` one at a time: the bulk paths' two dozen passes cost more than they save.
        """
        if self.lang == "en" and _TABLES is not None and len(chunks) > _FEW:
            words = list(filter(_ascii_word, chunks))
            if words:
                self._add_english_words(words)
                if len(words) == len(chunks):
                    return
                chunks = list(filterfalse(self.chunks.__contains__, chunks))
            chunks = self._add_english_others(chunks)
            if chunks:
                chunks = self._add_english_compounds(chunks)
        for chunk in chunks:
            self.add(chunk)

    def _add_english_compounds(self, chunks: list[str]) -> list[str]:
        """Of ``chunks`` (distinct, none in the cache, those ``_add_english_others`` leaves),
        adds those whose core (``_add_other``: the chunk without the quotes, brackets and
        punctuation around it) is words of ASCII letters or digits joined by hyphens or
        apostrophes, or letters and digits run together (``long-term``, ``43-year-old-man``,
        ``109-98``, ``we're``, ``60fps``, ``src0``, ``cost-effectively,``, ``(BD-1),``);
        returns the others, for ``add``. They were more than half of the chunks of a new
        English story that ``add`` took one at a time (on the benchmark's stories, ~6 of
        ~11): each is analysed by ``_analyse_ascii`` (~2.5x cheaper than the expressions),
        and those with punctuation around are filed under their core's analysis moved past
        it, with the core filed too, as ``_add_other`` files them."""
        cores = list(map(str.rstrip, map(str.lstrip, chunks, repeat(_LEAD)), repeat(_TRAIL)))
        # ``_add_english_others`` left every chunk whose core is a word with a full stop or
        # a possessive (``_word_in``), so a core is the stripped chunk; ``fullmatch`` only
        # on a core that starts and ends with a letter, a digit or a full stop
        found = list(map(_ASCII_JOINED.fullmatch, cores))
        if not any(found):
            return chunks
        rest = list(compress(chunks, map(operator.not_, found)))
        cores = list(compress(cores, found))
        chunks = list(compress(chunks, found))
        infos = self.chunks
        get = (_EN_KEYS or english_key_table()).get
        # the cores to analyse: those the cache lacks, each once (a core is often a chunk
        # of the same story too)
        new = list(filterfalse(infos.__contains__, dict.fromkeys(cores)))
        bases = [_analyse_ascii(core, get) for core in new]
        added = dict(zip(new, bases, strict=True))
        # the chunks with punctuation around their core: its analysis, moved past what is before
        shifted = [(chunk, added.get(core) or infos[core], chunk.index(core))
                   for chunk, core in zip(chunks, cores, strict=True) if chunk != core]
        for chunk, info, shift in shifted:
            added[chunk] = _shifted(info, shift) if shift else info
        infos.update(added)
        rev = self.rev
        _file_each(rev, map(_info_feats, added.values()), added)
        if self.surfaced:
            tag = SURFACE_TAG.__add__
            # each surface once (a compound may repeat a word: ``bye-bye``)
            _file_each(rev, [tuple(dict.fromkeys([*[tag(p[SURFACE]) for p in info[PARTS]],
                                                  *[tag(a[SURFACE]) for a in info[ALIASES]]]))
                             for info in added.values()], added)
        self.complex.update(compress(added, [info[WIDTH] > 1 or info[ALIASES] for info in added.values()]))
        return rest

    def _add_english_others(self, chunks: list[str]) -> list[str]:
        """Of ``chunks`` (distinct, none in the cache, none a word of ASCII letters or an
        ASCII number), adds the words of other letters (``Condé``, ``한국``: see
        ``_add_foreign_words``) and those ``add`` makes from a word with a full stop, a comma,
        a possessive or quotes after it, or quotes or brackets before it (``said,``,
        ``Trump’s``, ``mansion.”``, ``1993,``, ``했다.``, ``“Moreover,``); returns the others,
        for ``add``. A new story's chunks are a third of the second kind: their words are
        analysed in bulk, and they are filed in bulk under the analysis of their word (its
        offsets moved past the punctuation before it), as ``_add_other`` files them one by
        one."""
        punctuated = list(filterfalse(str.isalpha, chunks))
        rest: list[str] = []
        if len(punctuated) < len(chunks):
            rest += self._add_foreign_words(list(filter(str.isalpha, chunks)))
        # the word ``_add_other`` finds in each, if any: quotes and brackets off, then a final
        # dot or possessive (never the chunk itself: that is no word of letters or number)
        stripped = list(map(str.lstrip, punctuated, repeat(_LEAD)))
        cores = list(map(_word_in, map(str.rstrip, stripped, repeat(_TRAIL))))
        rest += compress(punctuated, map(operator.not_, cores))
        if not any(cores):
            return rest
        found = list(compress(punctuated, cores))
        words = list(filter(None, cores))
        # the characters before the word (mostly none)
        leads = list(compress(map(operator.sub, map(len, punctuated), map(len, stripped)), cores))
        infos = self.chunks
        new = list(filterfalse(infos.__contains__, dict.fromkeys(words)))
        if new:
            ascii_words = list(filter(str.isascii, new))
            if ascii_words:
                self._add_english_words(ascii_words)
            if len(ascii_words) < len(new):
                for word in self._add_foreign_words(list(filterfalse(str.isascii, new))):
                    self.add(word)
        bases = list(map(infos.__getitem__, words))
        # one word with punctuation (most): filed under its features and its surface; a word
        # of a script written without spaces is several (``_add_other``)
        single = [info[WIDTH] == 1 and not info[ALIASES] for info in bases]
        if not all(single):
            rest += compress(found, map(operator.not_, single))
            found = list(compress(found, single))
            words = list(compress(words, single))
            bases = list(compress(bases, single))
            leads = list(compress(leads, single))
        if any(leads):
            bases = [_shifted(info, lead) if lead else info for info, lead in zip(bases, leads, strict=True)]
        infos.update(zip(found, bases, strict=True))
        _file_each(self.rev, map(_info_feats, bases), found)
        if self.surfaced:
            _file(self.rev, map(SURFACE_TAG.__add__, words), found)
        return rest

    def _add_foreign_words(self, words: list[str]) -> list[str]:
        """``add`` of English-cache words of letters (``str.isalpha``) not all ASCII; returns
        those left to ``add`` (of a script written without spaces, or that a lemma or
        spelling table holds). Any other such word's keys are its fold alone (see
        ``_analysed_keys``), so it takes no lemmatiser call."""
        odd = _EN_ODD if _EN_ODD is not None else english_odd_words()
        american = BRITISH_ENGLISH_SPELLINGS
        cjk = _CJK.search
        left: list[str] = []
        infos, rev, surfaced = self.chunks, self.rev, self.surfaced
        for word in words:
            lower = word.lower()
            # (a word whose lower case is ASCII, ``K`` the kelvin sign, takes the table's keys)
            if lower in odd or lower.isascii() or lower.lower() != lower or cjk(word):
                left.append(word)
                continue
            own = fold(lower)
            if own in american:
                left.append(word)
                continue
            # ``fold`` starts with ``casefold``: a word whose capitals case-fold as its lower
            # case does (most) folds as it does, without the normalisations again
            folded = own if lower == word or word.casefold() == lower.casefold() else fold(word)
            keys = (own,)
            # one tuple for the keys, heads and tails when the fold is the only key (most),
            # rather than three equal ones: fewer for the collection after a cold pass to walk
            heads = keys if own == folded else (folded,)
            infos[word] = (((0, len(word), word, folded, keys),), (), keys if own == folded else (own, folded), 1,
                           heads, heads, ())
            # filed here (one feature, and a surface): a call of ``_file`` a word cost more
            filed = rev.get(own)
            # (a lower-case word filed under its fold as its keys, as ``_file_each`` does)
            rev[own] = (keys if own == word else (word,)) if filed is None else (*filed, word)
            if surfaced:
                tag = SURFACE_TAG + word
                filed = rev.get(tag)
                rev[tag] = (word,) if filed is None else (*filed, word)
        return left

    def _add_english_words(self, words: list[str]) -> None:
        """``add`` of English words of ASCII letters or ASCII numbers, none of them in the
        cache yet: what ``analyse_word`` gives each, and its index entries, in bulk."""
        folds = list(map(str.lower, words))
        heads = list(zip(folds))
        # ``analyse_word``: the table's keys, or the fold alone (the same tuple as heads); the
        # keys are the features too
        keys = list(map((_EN_KEYS or english_key_table()).get, folds, heads))
        # ``zip`` makes the tuples: each word's one part, and its analysis. The parts are
        # made in a pass of their own, before the tuples that hold them (nested, ``zip``
        # makes its tuple before it asks for the items): the collection after a cold pass
        # then stops tracking more of them (measured after the benchmark's, alerts: ~4 000
        # tuples fewer left tracked, for every later full collection to walk)
        parts = list(zip(list(zip(repeat(0), map(len, words), words, folds, keys))))
        infos = zip(parts, repeat(()), keys, repeat(1), heads, heads, repeat(()))
        self.chunks.update(zip(words, infos, strict=True))
        # ``_file_each``, a lower-case word filed first under its own fold as its heads
        # (``("said",)``, equal to ``(chunk,)``), whatever its keys: one tuple fewer for
        # each to keep, and for the collection after a cold pass to walk
        rev = self.rev
        get = rev.get
        for feats, chunk, head in zip(keys, words, heads, strict=True):
            for feature in feats:
                filed = get(feature)
                if filed is None:
                    rev[feature] = head if feature == chunk else (chunk,)
                else:
                    rev[feature] = (*filed, chunk)
        if self.surfaced:
            _file(self.rev, map(SURFACE_TAG.__add__, words), words)

    def add(self, chunk: str) -> ChunkInfo:
        """Analyse ``chunk`` (if new) and index it."""
        info = self.chunks.get(chunk)
        if info is not None:
            return info
        if chunk.isalpha() or _ascii_number(chunk):
            return self._add_word(chunk)
        return self._add_other(chunk)

    def _add_word(self, chunk: str) -> ChunkInfo:
        """``add`` of a new chunk of letters only or an ASCII number: most chunks, one
        word (see ``analyse_word``), unless it holds a script written without spaces."""
        if not chunk.isascii() and _CJK.search(chunk):
            return self._add_other(chunk)
        info = self.chunks[chunk] = analyse_word(chunk, self.lang)
        keys = info[PARTS][0][KEYS]
        _file(self.rev, (*keys, SURFACE_TAG + chunk) if self.surfaced else keys, repeat(chunk))
        self._own_heads(chunk, info[HEADS])
        return info

    def _own_heads(self, chunk: str, heads: tuple[str, ...]) -> None:
        """After a chunk of one word is filed: when it is a lower-case word the index did not
        hold (filed alone under its fold), filed there as its ``heads`` (``("said",)``), one
        tuple fewer to keep and to collect (as ``_add_english_words`` files one)."""
        if heads[0] == chunk and self.rev.get(chunk) == heads:
            self.rev[chunk] = heads

    def _add_other(self, chunk: str) -> ChunkInfo:
        """``add`` of a new chunk that is not one plain word."""
        # "said," and "(said" are "said" with punctuation no word can hold: analysed once
        core = chunk.lstrip(_LEAD).rstrip(_TRAIL)
        core = _word_in(core) or core
        if core and core != chunk:
            base = self.add(core)
            shift = chunk.index(core)
            info = base if not shift else _shifted(base, shift)
        else:
            info = self._analysed(chunk)
        self.chunks[chunk] = info
        width, aliases = info[WIDTH], info[ALIASES]
        if width > 1 or aliases:
            self.complex.add(chunk)
        elif not width:
            self.wordless.add(chunk)
        if width == 1 and not aliases:
            # one word with punctuation: its features and its surface
            surface = (SURFACE_TAG + info[PARTS][0][SURFACE],) if self.surfaced else ()
            _file(self.rev, (*info[FEATS], *surface), repeat(chunk))
            self._own_heads(chunk, info[HEADS])
            return info
        features = set(info[FEATS])
        if self.surfaced:
            features.update(SURFACE_TAG + p[SURFACE] for p in info[PARTS])
            features.update(SURFACE_TAG + a[SURFACE] for a in aliases)
        _file(self.rev, features, repeat(chunk))
        return info

    def _analysed(self, chunk: str) -> ChunkInfo:
        """``analyse_chunk`` of ``chunk``; an ASCII chunk with a slash before its last
        character (a link, ``https://news.example/17``: a story's own is one, new with every
        story, and ~60 us by the expressions) as the analysis of what is before its last
        slash, made once for every chunk that starts so (``slashed``), and of what is after.
        No word match holds a slash (``CHUNK_RE``): the expressions find the words of each
        side as they find them in the whole, those after it numbered on from those before.
        A test holds it to ``analyse_chunk``."""
        cut = chunk.rfind("/") + 1 if chunk.isascii() else 0
        if not cut or cut == len(chunk):
            return analyse_chunk(chunk, self.lang)
        head = chunk[:cut]
        before = self.slashed.get(head)
        if before is None:
            if len(self.slashed) >= _MAX_SLASHED:
                self.slashed.clear()
            # ASCII with a slash: neither a word nor a compound, so ``analyse_chunk`` of it is this
            before = self.slashed[head] = analyse_pieces(head, self.lang)
        return _joined_infos(before, analyse_chunk(chunk[cut:], self.lang), cut)


#: how many ``LangCache.slashed`` analyses are kept before they start afresh
_MAX_SLASHED = 1000


def _joined_infos(before: ChunkInfo, after: ChunkInfo, shift: int) -> ChunkInfo:
    """The analysis of a chunk whose words are those of ``before`` then those of ``after``
    (analysed apart, with no word across the cut), ``after`` starting ``shift`` characters
    into the chunk: what ``analyse_pieces`` gives the whole."""
    if not after[WIDTH]:
        return before
    if not before[WIDTH]:
        return _shifted(after, shift)
    width = before[WIDTH]
    parts = [*before[PARTS], *[(p[START] + shift, p[END] + shift, p[SURFACE], p[FOLD], p[KEYS]) for p in after[PARTS]]]
    aliases = [*before[ALIASES], *[(a[START] + shift, a[END] + shift, a[SURFACE], a[FOLD], a[KEYS],
                                    a[FIRST] + width, a[LAST] + width) for a in after[ALIASES]]]
    return _assembled(parts, aliases)


def _file(rev: dict[str, tuple[str, ...]], features: Iterable[str], chunks: Iterable[str]) -> None:
    """Files each chunk of ``chunks`` under the feature of ``features`` at the same place:
    appended to the tuple of chunks ``rev`` maps it to.

    Tuples rather than lists: once the cyclic collector has seen a tuple of strings it stops
    tracking it, so the index's tens of thousands of entries are not walked again by every
    later collection. A feature lists a few chunks (a word with its capitals and
    punctuation), so the copy each filing makes is short; this plain loop costs less than
    appending to lists through ``map`` did."""
    get = rev.get
    for feature, chunk in zip(features, chunks, strict=False):
        filed = get(feature)
        rev[feature] = (chunk,) if filed is None else (*filed, chunk)


def _file_each(rev: dict[str, tuple[str, ...]], features: Iterable[tuple[str, ...]], chunks: Iterable[str]) -> None:
    """``_file`` of each chunk of ``chunks`` under each of the features at the same place of
    ``features``: one loop over the pairs, rather than a ``repeat`` of each chunk as many
    times as it has features (an object made, and its arguments parsed, for every new word)."""
    get = rev.get
    for feats, chunk in zip(features, chunks, strict=False):
        for feature in feats:
            filed = get(feature)
            if filed is None:
                # a lower-case word whose one feature is itself (``said``, features
                # ``("said",)``) is filed under it as that tuple, the analysis's own: equal
                # to ``(chunk,)``, and one tuple fewer to keep and to collect
                rev[feature] = feats if feature == chunk and len(feats) == 1 else (chunk,)
            else:
                rev[feature] = (*filed, chunk)


#: a ``ChunkInfo``'s features
_info_feats = itemgetter(FEATS)


def _ascii_word(chunk: str) -> bool:
    """Whether ``chunk`` is a word of ASCII letters, or an ASCII number (``analyse_word``)."""
    # ``_ascii_number`` inline: a call fewer for each chunk with punctuation (a third of a
    # new story's, which ``LangCache.add_all`` filters through this)
    return chunk.isascii() and (chunk.isalpha() or chunk.isdigit() or (
        chunk[:1].isdigit() and _NUMBER.fullmatch(chunk) is not None))


def _ascii_number(chunk: str) -> bool:
    """Whether ``chunk`` is ASCII digits, or a number of them in groups (``_NUMBER``; the
    expression runs only on a chunk that starts with a digit)."""
    return chunk.isascii() and (chunk.isdigit() or (chunk[:1].isdigit() and _NUMBER.fullmatch(chunk) is not None))


#: what a word of letters may end with and still be that word alone: a full stop (only a
#: dot inside makes an abbreviation, ``U.S.``), or a possessive (dropped, see ``split_chunk``)
_WORD_ENDS = (".", "'s", "’s", "'S", "’S")


def _word_in(core: str) -> str:
    """The word of letters or ASCII number that ``core`` is, alone or with a full stop or a
    possessive after it (``said`` or ``said.`` → ``said``, ``3.5.`` → ``3.5``, ``Trump’s`` →
    ``Trump``), whose analysis is the chunk's (its offsets moved past what is before it);
    ``""`` if there is none."""
    if core.endswith(_WORD_ENDS):
        core = core[:-1] if core[-1] == "." else core[:-2]
    return core if core.isalpha() or _ascii_number(core) else ""


_CACHES: dict[str, LangCache] = {}


def lang_cache(lang: str) -> LangCache:
    """The shared cache of a lemmatiser language; replaced by an empty one when it holds
    more than ``_MAX_CACHE`` chunks (documents still holding the old one keep working)."""
    cache = _CACHES.get(lang)
    if cache is None or len(cache.chunks) > _MAX_CACHE:
        cache = _CACHES[lang] = LangCache(lang)
    return cache


def cached_chunks() -> int:
    """How many chunks the shared word caches hold, all languages together: what they have
    learnt since they were last renewed (it drops when one is, see ``lang_cache``)."""
    return sum(len(cache.chunks) for cache in list(_CACHES.values()))


def analyse_words(text: str, lang: str = "en") -> list[Part]:
    """All parts of ``text`` with absolute character offsets (used for query words and tests)."""
    out: list[Part] = []
    for m in CHUNK_RE.finditer(text):
        info = analyse_chunk(m.group(), lang)
        base = m.start()
        out.extend([(p[START] + base, p[END] + base, *p[SURFACE:]) for p in info[PARTS]])
    return out
