"""How often words occur in running text of a language: what the candidate filter files a
rule under (pure, no I/O beyond reading a packaged list once per language).

The filter looks a rule up under the two words a story is least likely to hold. How rare a
word is in the rule's own text says nothing about that (*calling* is rare in most texts but
its lemma *call* is in every other story), and neither does its length; how often the word
occurs in news text of the story's language does. The rates come from wordfreq's "small"
lists: about 30 000 words per language, each occurring at least once per million words, in
42 languages, built from news, Wikipedia, books, subtitles and the web (code Apache-2.0,
lists CC-BY-SA 4.0). The lists are read straight from the files the package ships: importing
wordfreq itself pulls in ftfy and langcodes (~0.26 s), while one list loads in ~0.04 s. A
word absent from its language's list is rarer than every word in it; a language wordfreq has
no list for gives every word that rate, so the filter falls back to preferring longer words.
"""

from __future__ import annotations

import gzip
import importlib.util
import re
from bisect import bisect_left
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import NamedTuple

import msgpack

from monitor.rules.text import fold

#: what every word absent from its language's list is taken to occur at, per word of text:
#: the lists hold every word at 1e-6 or more
UNLISTED = 1e-7
#: the list's name in wordfreq (``small_en.msgpack.gz`` ...)
_LIST = "small"
_DIGIT = re.compile(r"\d")
#: the highest code point: ``prefix + _LAST`` sorts after every word that starts with ``prefix``
_LAST = "\U0010ffff"


class Rates(NamedTuple):
    """The word rates of one language: folded word → occurrences per word of running text,
    and the same words sorted with running sums of their rates (for wildcard prefixes)."""

    by_word: dict[str, float]
    words: list[str]
    sums: list[float]


def _list_path(lang: str) -> Path | None:
    """The wordfreq list file of ``lang``, or None when wordfreq (or its list) is missing."""
    spec = importlib.util.find_spec("wordfreq")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"{_LIST}_{lang}.msgpack.gz"
    return path if path.is_file() else None


def read_list(path: Path) -> dict[str, float]:
    """A wordfreq "cB pack": word → rate. The file is gzipped msgpack, a header then one
    list of words per centibel of frequency (index i holds the words at 10^(-i/100)); this
    is what wordfreq's ``get_frequency_dict`` reads. Raises ValueError for another format."""
    with gzip.open(path, "rb") as file:
        data = msgpack.unpack(file, raw=False)
    header = data[0] if isinstance(data, list) and data else None
    if not isinstance(header, dict) or header.get("format") != "cB" or header.get("version") != 1:
        raise ValueError(f"{path}: not a wordfreq list (header {header!r})")
    out: dict[str, float] = {}
    for index, bucket in enumerate(data[1:]):
        rate = 10 ** (-index / 100)
        for word in bucket:
            out[word] = rate
    return out


@cache
def rates(lang: str) -> Rates:
    """The word rates of lemmatiser language ``lang`` (folded: words that fold alike add up);
    empty when there is no list for it. Read once per process."""
    path = _list_path(lang)
    by_word: dict[str, float] = {}
    if path is not None:
        for word, rate in read_list(path).items():
            key = fold(word)
            forms = [key]
            if "'" in key:
                # the lists keep "aren't" whole; a story's words are its parts and their join
                parts = [part for part in key.split("'") if part]
                forms += [*parts, "".join(parts)]
            for form in dict.fromkeys(forms):
                by_word[form] = by_word.get(form, 0.0) + rate
    words = sorted(by_word)
    return Rates(by_word, words, [0.0, *accumulate(by_word[w] for w in words)])


def word_rate(word: str, table: Rates) -> float:
    """How often the folded ``word`` occurs per word of text. A number is looked up with its
    digits as zeros, as wordfreq lists them (``2019`` as ``0000``: every four-digit number),
    which overstates it: a rule is never filed under a number taken for rare."""
    rate = table.by_word.get(word)
    if rate is None and _DIGIT.search(word):
        rate = table.by_word.get(_DIGIT.sub("0", word))
    return rate if rate is not None else UNLISTED


def prefix_rate(prefix: str, table: Rates) -> float:
    """How often some word starting with the folded ``prefix`` occurs per word of text."""
    lo = bisect_left(table.words, prefix)
    hi = bisect_left(table.words, prefix + _LAST, lo)
    return table.sums[hi] - table.sums[lo] + UNLISTED
