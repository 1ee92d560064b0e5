"""Snippets: the sentence (at most ``MAX_CHARS`` characters) around a match's hits."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import compress, repeat
from operator import is_, itemgetter
from typing import TypeVar

from monitor.models import Hit, Snippet
from monitor.rules.encoding import FIELD_NAMES, FIELD_OF, TEXT

MAX_CHARS = 300
_CONTEXT = 80
_REACH = 600
#: a sentence ends at ., ! or ? (with closing quotes/brackets) followed by space and a
#: capital, digit or opening quote; or at a line break
#: (possessive quantifiers and the look-behind keep it linear on runs of dots or spaces;
#: the look-behind comes after the first mark, "the character before it is not one",
#: so that the pattern starts with a character set and the engine skips ahead to candidates)
_BOUNDARY = re.compile(r"[.!?…](?<![.!?…].)[.!?…]*+[\"'”’)\]]*+\s++(?=[\"“‘'(\[]?[^\W_a-z])|\n\s*+")
#: words after which a dot rarely ends a sentence
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "st", "gen", "sen", "rep", "gov", "prof", "jr", "sr", "no", "inc",
    "co", "corp", "ltd", "vs", "lt", "col", "sgt", "capt", "rev", "mt", "ft", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})


def _is_boundary(text: str, m: re.Match[str]) -> bool:
    """Whether the mark matched by ``_BOUNDARY`` ends a sentence: a dot right after an
    abbreviation (``Mr.``, ``Jan.``) or a single letter (``U.S.``, ``J. Smith``) does not."""
    group = m.group()
    if "\n" in group or group[0] != ".":
        return True
    # the word that ends at the dot (at most 13 characters back: longer is no abbreviation);
    # ``\w`` is what ``str.isalnum`` accepts, and the underscore
    end = m.start()
    word = _WORD_BEFORE.search(text, max(0, end - 13), end).group()  # type: ignore[union-attr]
    return not word or (len(word) > 1 and word.lower() not in _ABBREVIATIONS)


#: the word characters that end where the search ends (perhaps none: it always matches)
_WORD_BEFORE = re.compile(r"\w*\Z")
# every abbreviation is short: ``_is_boundary`` reads at most 13 characters before a dot
assert max(map(len, _ABBREVIATIONS)) < 6, "an abbreviation of 6 letters or more"


def _sentence_end() -> re.Pattern[str]:
    """``_BOUNDARY`` with ``_is_boundary`` written into it: what it matches where that finds a
    boundary, and nothing else (``sentence_starts`` is then one C-level scan of the text).

    It starts with one character set (a mark or a line break), so that the engine skips
    ahead to the marks in C; the rest says which mark it was. After a dot, look-behinds
    rule out a lone letter and each abbreviation, a word that starts after a character
    that is not a word character (``_WORD_BEFORE`` and ``str.lower``: the letters are
    written in both cases, and the Kelvin sign is the one other character that lowers to
    an ASCII letter), unless the blanks after it hold a line break."""
    lowers = {"k": "K\u212a"}
    by_length: dict[int, list[str]] = {}
    for word in sorted(_ABBREVIATIONS):
        by_length.setdefault(len(word), []).append("".join(f"[{c}{lowers.get(c, c.upper())}]" for c in word))
    words = "".join(rf"(?<!(?<!\w)(?:{'|'.join(forms)})\.)" for _, forms in sorted(by_length.items()))
    tail = r"[.!?…]*+[\"'”’)\]]*+\s++(?=[\"“‘'(\[]?[^\W_a-z])"
    return re.compile(
        r"[.!?…\n](?:(?<=\n)\s*+"
        rf"|(?<=[!?…])(?<![.!?…].){tail}"
        rf"|(?<=\.)(?<![.!?…]\.)(?:(?<!(?<!\w)\w\.){words}|(?=[.!?…]*+[\"'”’)\]]*+[^\S\n]*+\n)){tail})"
    )


#: a sentence's end: ``_BOUNDARY`` where ``_is_boundary`` holds (see ``_sentence_end``)
_SENTENCE_END = _sentence_end()
_end_of = re.Match.end


def sentence_starts(text: str) -> list[int]:
    """Offsets at which sentences start (always including 0)."""
    # (where ``_BOUNDARY`` matches and ``_is_boundary`` holds; the tests hold the two to each
    # other.) Where the marks are, found by ``str.find`` (a scan of the text in C that costs
    # a fraction of the expression's, which tests every character against its first set),
    # then the expression tried at each: a story's text has a mark every fifty characters
    # or so. A text dense with marks is scanned by the expression (a try costs about what
    # testing twenty characters does).
    marks = _marks(text)
    if len(marks) > len(text) >> 5:
        return _starts_by_scan(text)
    return _starts_at(text, marks)


def _starts_by_scan(text: str) -> list[int]:
    """``sentence_starts`` by one pass of the expression in C, with no call per mark."""
    return [0, *map(_end_of, _SENTENCE_END.finditer(text))]


#: the characters a match of ``_SENTENCE_END`` starts with (its first set)
_MARKS = ".!?…\n"


def _marks(text: str) -> list[int]:
    """The offsets of the characters of ``_MARKS`` in ``text``, ascending."""
    marks: list[int] = []
    append = marks.append
    find = text.find
    for c in _MARKS:
        i = find(c)
        while i >= 0:
            append(i)
            i = find(c, i + 1)
    marks.sort()
    return marks


def _starts_at(text: str, marks: list[int]) -> list[int]:
    """``sentence_starts`` from the offsets of the marks: ``finditer`` tries the expression
    at each offset from where it stands, and a match starts with a mark, so trying it at
    each mark not inside the last match (its look-behinds see the text before, as there)
    finds the same matches."""
    match = _SENTENCE_END.match
    out = [0]
    done = 0
    for i in marks:
        if i >= done:
            found = match(text, i)
            if found is not None:
                done = found.end()
                out.append(done)
    return out


#: the characters a match of ``_SENTENCE_END`` takes, besides blanks (``\s``, what
#: ``str.isspace`` accepts): marks, then closing quotes and brackets. It takes nothing else
_TAKEN = frozenset(".!?…\n\"'”’)]")
_search_end = _SENTENCE_END.search
#: how far before a position ``sentence_bounds`` starts looking for the end of the sentence
#: before it (then twice as far, and so on)
_BACK = 256


def sentence_bounds(text: str, position: int) -> tuple[int, int]:
    """Where the sentence holding character ``position`` starts, and where the next one does
    (or the end of the text): the two ``sentence_starts(text)`` around it, found from the
    text near it.

    The matches of ``_SENTENCE_END`` (ends of sentences) take only ``_TAKEN`` characters and
    blanks, so none runs across a character that is neither: from the offset after one,
    searching the expression finds what ``sentence_starts`` does past it (which tries it at
    each mark from the end of its last match, ``_starts_at``), whatever comes before. So the
    sentence of a hit is found from a little before it, not by splitting all the text: a
    story's matches read a few of its sentences (two searches or so each), where splitting
    tries the expression at every mark of the text (as many as a tenth of the instructions
    of reading every match of a story)."""
    low = position
    back = _BACK
    while True:
        # twice as far back each time: a long text without a sentence end before the hit
        # costs a few searches, not one for every ``_BACK`` characters of it
        low = max(0, low - back)
        back *= 2
        # (a step or two back: the blank before a word)
        while low and (text[low - 1] in _TAKEN or text[low - 1].isspace()):
            low -= 1
        begin, finish = _bounds_from(text, low, 0 if not low else -1, position)
        if begin >= 0:
            return begin, finish


def _bounds_from(text: str, at: int, begin: int, position: int) -> tuple[int, int]:
    """``sentence_bounds(text, position)`` searched from offset ``at`` (where a search finds
    what ``sentence_starts`` does: see there), ``begin`` the start of the sentence there
    (-1: not known, and then, when no sentence ends between ``at`` and ``position``, -1)."""
    found = _search_end(text, at)
    while found is not None:
        end = found.end()
        if end > position:
            return begin, end
        begin = end
        found = _search_end(text, end)
    return begin, len(text)


def sentence_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence holding ``text[start:end]``, whitespace-trimmed. Only ``_REACH``
    characters either side are examined, so a very long sentence is cut there."""
    begin = lo = max(0, start - _REACH)
    # the boundary's look-ahead needs to see the first characters of the next sentence
    for m in _BOUNDARY.finditer(text, lo, start + 2):
        if m.end() <= start and _is_boundary(text, m):
            begin = m.end()
    finish = min(len(text), end + _REACH)
    for m in _BOUNDARY.finditer(text, end, finish):
        if _is_boundary(text, m):
            # the sentence keeps its final punctuation and closing quotes
            finish = m.start() + len(m.group().rstrip())
            break
    return _trimmed(text, begin, finish, end)


def _trimmed(text: str, begin: int, finish: int, end: int) -> tuple[int, int]:
    """``text[begin:finish]`` without blanks at either end, as offsets, reaching at least
    to ``end`` (the end of the hit). Both ways of finding a sentence end here, so that
    they give the same snippet."""
    while finish > begin and text[finish - 1].isspace():
        finish -= 1
    while begin < finish and text[begin].isspace():
        begin += 1
    return begin, max(finish, end)


def _cut(text: str, begin: int, end: int, first: int) -> tuple[int, int]:
    """Where the window of a sentence [begin, end) longer than MAX_CHARS starts and stops
    when its first hit starts at ``first``: some context before the hit, cut at spaces."""
    start = max(begin, first - _CONTEXT)
    if start > begin:
        space = text.find(" ", start, first)
        start = space + 1 if space >= 0 else start
    stop = min(end, start + MAX_CHARS - 2)
    if stop < end:
        space = text.rfind(" ", start, stop)
        stop = space if space > start else stop
    return start, stop


def _window(text: str, begin: int, end: int, hits: Sequence[tuple[int, int]], field: str) -> Snippet:
    """Cut [begin, end) to at most MAX_CHARS around the hits, marking cuts with "…"."""
    if len(hits) == 1:
        # one hit (most snippets): no generator, list or sort
        return _window_of_one(text, begin, end, hits[0], field)
    if end - begin > MAX_CHARS:
        start, stop = _cut(text, begin, end, min(s for s, _ in hits))
        lead = "…" if start > begin else ""
        tail = "…" if stop < end else ""
        body = text[start:stop]
        shift = start - len(lead)
        limit = stop
    else:
        lead = tail = ""
        body = text[begin:end]
        shift = begin
        limit = end
    spans = tuple(sorted([(s - shift, e - shift) for s, e in hits if s >= shift + len(lead) and e <= limit]))
    # made as ``reports`` makes hits: the frozen dataclass's ``__init__`` would set each slot
    # through ``object.__setattr__``, a Python frame and three calls more (a story cuts dozens)
    snippet: Snippet = _new(Snippet)
    _set_text(snippet, lead + body + tail)
    _set_spans(snippet, spans)
    _set_field(snippet, field)
    return snippet


def _window_of_one(text: str, begin: int, end: int, hit: tuple[int, int], field: str) -> Snippet:
    """``_window`` of one hit."""
    first, last = hit
    if end - begin > MAX_CHARS:
        start, stop = _cut(text, begin, end, first)
        lead = "…" if start > begin else ""
        tail = "…" if stop < end else ""
        shift = start - len(lead)
        shown = text[start:stop]
        if lead or tail:
            shown = lead + shown + tail
        # the hit's span, when it is inside the window
        spans = ((first - shift, last - shift),) if first >= start and last <= stop else ()
    else:
        shown = text[begin:end]
        spans = ((first - begin, last - begin),) if first >= begin and last <= end else ()
    snippet: Snippet = _new(Snippet)
    _set_text(snippet, shown)
    _set_spans(snippet, spans)
    _set_field(snippet, field)
    return snippet


_new = object.__new__
_SNIPPET_FIELDS = ("text", "spans", "field")
_set_text, _set_spans, _set_field = (getattr(Snippet, name).__set__ for name in _SNIPPET_FIELDS)
if tuple(Snippet.__dataclass_fields__) != _SNIPPET_FIELDS:  # pragma: no cover - a guard for whoever changes Snippet
    raise ImportError(f"monitor.rules.snippets makes snippets of the fields {_SNIPPET_FIELDS}: Snippet has changed")


class Sentences:
    """The sentences of a story's text, found once and shared by all its matches: where
    they start, and the (trimmed) sentence of each hit looked up so far."""

    __slots__ = ("around", "starts")

    def __init__(self) -> None:
        self.starts: list[int] | None = None
        self.around: dict[tuple[int, int], tuple[int, int]] = {}

    def of(self, text: str, start: int, end: int) -> tuple[int, int]:
        """The sentence of ``text`` holding ``text[start:end]``, whitespace-trimmed."""
        found = self.around.get((start, end))
        if found is None:
            starts = self.starts
            if starts is None:
                starts = self.starts = sentence_starts(text)
            i = bisect_right(starts, start) - 1
            finish = starts[i + 1] if i + 1 < len(starts) else len(text)
            # trimmed at both ends: the first sentence starts at 0 even when the text starts
            # with blanks (the others start after the blanks their boundary takes)
            found = self.around[(start, end)] = _trimmed(text, starts[i], finish, end)
        return found


#: where a hit's snippet may be taken from: (field name, begin, end) of its sentence
Place = tuple[str, int, int]
#: cuts one snippet: (texts, place, the spans of its hits) → snippet
Cut = Callable[[dict[str, str], Place, list[tuple[int, int]]], Snippet]


#: the text field, split into sentences; a snippet of another field is all of it
_TEXT = FIELD_NAMES[TEXT]
#: where a field of unknown name goes among snippets: after all the others
_UNKNOWN_LAST = len(FIELD_NAMES)


def _text_order(group: tuple[Place, object]) -> tuple[int, int]:
    """Sort key of a sentence's hits, ((field name, begin, end), hits): fields in ``Field``
    order, then sentences in text order."""
    (field, begin, _), _ = group
    return FIELD_OF.get(field, _UNKNOWN_LAST), begin


def make_snippets(
    texts: dict[str, str], hits: Sequence[Hit], limit: int = 2, sentences: Sentences | None = None
) -> tuple[Snippet, ...]:
    """One or two snippets for ``hits`` (from fields whose text is in ``texts``).

    The sentence holding the most distinct matched terms comes first; a second one is added
    only when it shows a term the first does not. Snippets are returned in text order,
    title before text. ``sentences`` is the story text's sentences, shared by
    the matches of one story: with it, the text is split into sentences once; without it,
    only the neighbourhood of each hit is examined.
    """
    groups: dict[Place, list[Hit]] = {}
    for hit in hits:
        text = texts.get(hit.field)
        if not text:
            continue
        begin, end = _sentence(text, hit, sentences)
        groups.setdefault((hit.field, begin, end), []).append(hit)
    return _chosen(texts, groups, hits, limit, _window_of)


#: a sentence's hits, or their spans
_G = TypeVar("_G")

def _covering(ranked: list[tuple[Place, set[str], _G]], limit: int) -> list[tuple[Place, _G]]:
    """Of sentences ``(place, terms, group)`` in rank order, those the snippets show: the
    first, then each that shows a term none chosen before shows, at most ``limit``."""
    chosen: list[tuple[Place, _G]] = []
    seen: set[str] = set()
    for place, terms, group in ranked:
        if chosen and terms <= seen:
            continue
        chosen.append((place, group))
        seen |= terms
        if len(chosen) >= limit:
            break
    return chosen


def _window_of(texts: dict[str, str], place: Place, spans: list[tuple[int, int]]) -> Snippet:
    field, begin, end = place
    return _window(texts[field], begin, end, spans, field)


def _chosen(texts: dict[str, str], groups: dict[Place, list[Hit]], hits: Sequence[Hit], limit: int,
            cut: Cut) -> tuple[Snippet, ...]:
    """The snippets of ``hits`` grouped by sentence (``groups``, in the order of their first
    hits): see ``make_snippets``."""
    if len(groups) == 1:
        # one sentence: nothing to rank or choose
        [(place, group)] = groups.items()
        return (cut(texts, place, [(h.start, h.end) for h in group]),)
    if len({h.term for h in hits}) == 1:
        # one term: every sentence shows it, the first one (title first) is the snippet
        place, group = min(groups.items(), key=_text_order)
        return (cut(texts, place, [(h.start, h.end) for h in group]),)
    # the most distinct terms first, then as ``_text_order``, then in the order of ``groups``
    # (a stable sort's); the order numbers are distinct, so the tuples compare in C and
    # never reach the hits
    field_of = FIELD_OF.get
    ranked = sorted([(-len(terms), field_of(place[0], _UNKNOWN_LAST), place[1], i, place, terms, group)
                     for i, (place, group) in enumerate(groups.items()) for terms in ({h.term for h in group},)])
    chosen = _covering([r[4:] for r in ranked], limit)
    chosen.sort(key=_text_order)
    return tuple([cut(texts, place, [(h.start, h.end) for h in group]) for place, group in chosen])


#: a hit made ready for its snippet: (the hit, its place, its character span, its term)
Mark = tuple[Hit, Place, tuple[int, int], str]
_first = itemgetter(0)


class StorySnippets:
    """``make_snippets`` for the many hit lists of one story's matches: the text is split
    into sentences once, each sentence trimmed once, each snippet cut once, however many
    matches show it. Rules that share words share sentences and snippets.

    A hit is given by the columns of its ``Mark`` (see ``place``), made once per story and
    shared by every match that reports the hit: the hits are then grouped by sentence
    without a call per hit."""

    __slots__ = ("_alone", "_cuts", "_places", "_trims", "texts")

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts
        #: where a sentence starts → its place (its bounds, whitespace-trimmed), one of
        #: ``_places`` (sentences found near the hits: see ``sentence_bounds``)
        self._trims: dict[int, Place] = {}
        #: every place given out, so that equal places are one object (compared by identity
        #: before their values)
        self._places: dict[Place, Place] = {}
        self._cuts: dict[tuple[Place, tuple[tuple[int, int], ...]], Snippet] = {}
        #: the snippet of a hit alone, by the id of its mark (see ``alone``)
        self._alone: dict[int, Snippet] = {}

    def place(self, field: str, start: int, end: int) -> Place | None:
        """Where the snippet of a hit at ``start``..``end`` (character offsets) of ``field``
        may be taken from: its sentence of the text, or the whole of a short field; None
        when the field has no text. What ``make_snippets`` groups hits by."""
        return self.places(field, ((start, end),))[0]

    def places(self, field: str, spans: Sequence[tuple[int, int]]) -> list[Place | None]:
        """``place`` of each span ``(start, end)`` of ``field``: one call for all the hits of a
        story's matches in the field, not one a hit."""
        text = self.texts.get(field)
        if not text:
            return [None] * len(spans)
        known = self._places
        if field != _TEXT:
            whole = (field, 0, len(text))
            return [known.setdefault(whole, whole)] * len(spans)
        trims = self._trims
        out: list[Place | None] = []
        append = out.append
        # the bounds of the last span's sentence (see ``sentence_bounds``) and its place; the
        # spans come in text order (a story's hits do), and a span a little after the last
        # sentence is searched for from where that ends, as ``sentence_starts`` would go on
        # (bounds (0, 0): from the start of the text)
        low = high = 0
        sentence: Place = (field, 0, 0)
        for start, end in spans:
            if not low <= start < high:
                if high <= start < high + _BACK:
                    low, high = _bounds_from(text, high, high, start)
                else:
                    low, high = sentence_bounds(text, start)
                found = trims.get(low)
                if found is None:
                    # as ``Sentences.of``; how a sentence is trimmed does not depend on the hit
                    begin, finish = _trimmed(text, low, high, 0)
                    found = (field, begin, finish)
                    found = trims[low] = known.setdefault(found, found)
                sentence = found
            place = sentence
            if place[2] < end:
                # a hit that runs past its sentence's end (a phrase across it) takes the rest
                place = (field, place[1], end)
                place = known.setdefault(place, place)
            append(place)
        return out

    def of_marks(self, places: Sequence[Place], spans: Sequence[tuple[int, int]], terms: Sequence[str],
                 limit: int = 2) -> tuple[Snippet, ...]:
        """What ``make_snippets(texts, hits, limit, Sentences())`` gives, for ``hits`` given
        as the columns of their marks: each one's place, character span and term. The hits
        must be in text order (by field, then word position), as a match's hits are, and
        have places.

        Columns, not marks: they are cut from a match's marks in one C-level pass
        (``zip(*marks)``), where taking a field of every mark costs a call per mark each time."""
        if not places:
            return ()
        first = places[0]
        if places.count(first) == len(places):
            # one sentence: nothing to rank or choose
            return (self._cut(first, spans),)
        if len(places) == 2 and limit >= 2:
            # two hits in two sentences (most rules of two rare words): as below, without
            # the sets; with one term, the first sentence shows it
            if terms[0] == terms[1]:
                return (self._cut(first, spans[:1]),)
            return self._cut(first, spans[:1]), self._cut(places[1], spans[1:])
        kinds = set(terms)
        if len(kinds) > 2 or limit < 2:
            return self._ranked(places, spans, terms, limit)
        # one or two terms (most matches), chosen as ``_ranked`` would in C-level passes. The
        # sentences are in text order (see ``_ranked``): with one term, the first shows it.
        # Equal places are one object (see ``place``): compared by identity
        if len(kinds) == 2:
            one = terms[0]
            kinds.discard(one)
            other = kinds.pop()
            # the sentences that show both: the first of them is the snippet
            both = set(compress(places, map(one.__eq__, terms))).intersection(
                compress(places, map(other.__eq__, terms)))
            if both:
                first = next(filter(both.__contains__, places))
            else:
                # the first sentence, and the first that shows the other term
                second = places[terms.index(other)]
                return (self._cut(first, list(compress(spans, map(is_, repeat(first), places)))),
                        self._cut(second, list(compress(spans, map(is_, repeat(second), places)))))
        return (self._cut(first, list(compress(spans, map(is_, repeat(first), places)))),)

    def alone(self, mark: Mark) -> Snippet:
        """``of_marks`` of the one hit of ``mark`` (and the snippet of the first of two hits in
        two sentences, and of each when their terms differ): cut once per story and kept by
        the mark, which ``reports`` makes once per story for every match that reports the hit."""
        snippet = self._alone.get(id(mark))
        if snippet is None:
            # ``_cut`` and ``_window`` of one span written out (a story cuts dozens)
            place, span = mark[1], mark[2]
            key = (place, (span,))
            snippet = self._cuts.get(key)
            if snippet is None:
                field, begin, end = place
                snippet = self._cuts[key] = _window_of_one(self.texts[field], begin, end, span, field)
            # (the mark is kept alive by the caller as long as this object: its id names it)
            self._alone[id(mark)] = snippet
        return snippet

    def _ranked(self, places: Sequence[Place], spans: Sequence[tuple[int, int]], terms: Sequence[str],
                limit: int) -> tuple[Snippet, ...]:
        """``of_marks`` of hits in several sentences, as ``_chosen``.

        The hits are in text order, so the sentences are too, in the order of their first
        hits (``_text_order`` never puts a later one first; it ties a sentence with the one
        of a phrase that runs past its end, which comes later): ranking them by number of
        terms, then text order, is a stable sort by number of terms. Loops, not
        comprehensions: each of those is a call, and most lists are short."""
        spans_at: dict[Place, list[tuple[int, int]]] = {}
        terms_at: dict[Place, set[str]] = {}
        get = spans_at.get
        for place, span, term in zip(places, spans, terms):  # noqa: B905 - as long, and a hot loop
            group = get(place)
            if group is None:
                spans_at[place] = [span]
                terms_at[place] = {term}
            else:
                group.append(span)
                terms_at[place].add(term)
        ranked: list[tuple[int, Place, set[str], list[tuple[int, int]]]] = []
        for place, group in spans_at.items():
            shown = terms_at[place]
            ranked.append((-len(shown), place, shown, group))
        ranked.sort(key=_first)
        chosen = _covering([r[1:] for r in ranked], limit)
        if len(chosen) == 1:
            place, group = chosen[0]
            return (self._cut(place, group),)
        return self._in_text_order(chosen)

    def _in_text_order(self, chosen: list[tuple[Place, list[tuple[int, int]]]]) -> tuple[Snippet, ...]:
        """The snippets of the sentences ``chosen`` (each with the spans of its hits) in
        ``_text_order``."""
        if len(chosen) == 2:
            # ``chosen.sort(key=_text_order)`` of two, without a call per key
            (first, one), (second, other) = chosen
            if (FIELD_OF.get(second[0], _UNKNOWN_LAST), second[1]) < (FIELD_OF.get(first[0], _UNKNOWN_LAST), first[1]):
                first, one, second, other = second, other, first, one
            return (self._cut(first, one), self._cut(second, other))
        chosen.sort(key=_text_order)
        out: list[Snippet] = []
        for place, group in chosen:
            out.append(self._cut(place, group))
        return tuple(out)

    def _cut(self, place: Place, spans: Sequence[tuple[int, int]]) -> Snippet:
        """The snippet of ``place`` with ``spans`` marked, cut once per story."""
        key = (place, tuple(spans))
        snippet = self._cuts.get(key)
        if snippet is None:
            field, begin, end = place
            snippet = self._cuts[key] = _window(self.texts[field], begin, end, key[1], field)
        return snippet


def _sentence(text: str, hit: Hit, sentences: Sentences | None) -> tuple[int, int]:
    """Where the snippet of ``hit`` may be taken from: its sentence of the text, or a whole
    short field."""
    if hit.field != _TEXT:
        return 0, len(text)
    if sentences is None:
        return sentence_around(text, hit.start, hit.end)
    return sentences.of(text, hit.start, hit.end)
