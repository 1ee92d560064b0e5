"""A story prepared for matching: tokenised once, word positions looked up only on demand.

Construction does what every story needs: cutting each field into chunks at its spaces
(one C-level ``str.split``), analysing the chunks the shared per-language cache has never
seen, and collecting the candidate-filter features of its distinct chunks (for a matcher,
from its notes: one lookup per distinct chunk). Exact evaluation then asks for the
positions of particular words; those are found through the cache's reverse index
(feature → chunks), so a story pays per looked-up word, not per token, beyond one pass
that records where each distinct chunk occurs.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Container, Iterable
from collections.abc import Set as AbstractSet
from itertools import accumulate, chain, compress, filterfalse, product, repeat
from operator import getitem, is_, itemgetter, not_
from typing import NamedTuple, cast

from monitor.models import STORY_TEXT_LIMIT, STORY_TITLE_LIMIT, STORY_URL_LIMIT, Story, clip
from monitor.rules.encoding import (
    ALL_FIELDS,
    LANG_TAG,
    LAST_TAG,
    PREFIX_TAG,
    SOURCE,
    TEXT,
    TITLE,
    URL,
    Feature,
    Field,
    Pair,
    WordForm,
    language_code,
)
from monitor.rules.text import (
    ALIASES,
    CHUNK_SPLIT_RE,
    END,
    FEATS,
    FIRST,
    FOLD,
    HEADS,
    INNER,
    KEYS,
    LAST,
    PARTS,
    START,
    SURFACE,
    TAILS,
    WIDTH,
    ChunkInfo,
    LangCache,
    lang_cache,
    lemma_language,
)

Span = tuple[int, int]
# read on every call of ``FieldDoc.spans``: a module global costs a tenth of ``WordForm.X``
_KEYS, _FOLD, _SURFACE = WordForm.KEYS, WordForm.FOLD, WordForm.SURFACE
#: the longest chunk of text cut at its spaces (see ``FieldDoc``)
MAX_CHUNK = 64
#: chunk indices made once: a field's chunk → index dictionaries then take existing ints
#: rather than make (and free) one per chunk past 256, a sixth of building them
_INDICES = list(range(8192))


def _upward(n: int) -> list[int] | range:
    """The indices ``0 .. n - 1`` in order, and possibly more after them (zip them with
    ``strict=False``)."""
    return _INDICES if n <= len(_INDICES) else range(n)


def _downward(n: int) -> list[int] | range:
    """The indices ``n - 1 .. 0`` in order."""
    return _INDICES[n - 1 :: -1] if 0 < n <= len(_INDICES) else range(n - 1, -1, -1)


def _spaced(text: str) -> str:
    """``text`` with line breaks, tabs and no-break spaces made spaces (same length, so
    offsets hold): chunks never join the words either side of a paragraph break, which
    would make every such pair a chunk of its own."""
    for blank in _BLANKS:
        if blank in text:
            text = text.replace(blank, " ")
    return text


#: separators as common as the space in extracted text
_BLANKS = ("\n", "\t", "\r", "\xa0")


class _Irregular(NamedTuple):
    """The chunks of a field that are not exactly one word."""

    #: their indices in ``FieldDoc.chunks``, ascending
    indices: list[int]
    #: their numbers of word positions
    widths: list[int]
    #: the word positions where they start
    starts: list[int]
    #: ``shift[k]``: the positions gained before the k-th of them (so chunk ``i`` starts at
    #: ``i + shift[k]``, k the number of them before ``i``)
    shift: list[int]


class FieldDoc:
    """One field of a story: its text, its chunks, and lazily where each chunk occurs.

    The chunks are the text cut at its spaces and line breaks (``str.split(" ")``, so chunk
    ``i`` starts at the lengths of the chunks before it plus ``i``). A chunk longer than
    ``MAX_CHUNK`` (text without spaces, such as Chinese or Japanese, or a long URL) is never
    cached: a field with one is cut by ``CHUNK_RE`` instead (``cut_by_expression``), with
    the separators between its chunks kept in ``pieces``.
    """

    __slots__ = ("_distinct", "_ends", "_firsts", "_irregular_", "_looked", "_positions", "_where", "_wordless", "cache",
                 "chunks", "lang", "noted", "pieces", "text")

    def __init__(self, text: str, lang: str, cache: LangCache) -> None:
        self.text = text
        self.lang = lang
        self.cache = cache
        #: separators and chunks alternate: pieces[1::2] are the chunks (None: cut at spaces)
        self.pieces: list[str] | None = None
        self._index(_spaced(text).split(" ") if text else [])

    def _index(self, chunks: list[str]) -> None:
        self.chunks = chunks
        #: (``distinct``, made when first asked for)
        self._distinct: dict[str, int] | None = None
        self._firsts: dict[str, int] | None = None
        self._where: dict[str, list[int]] = {}
        self._irregular_: _Irregular | None = None
        #: the chunks without words among ``distinct`` (found with ``_irregular_``)
        self._wordless: set[str] | None = None
        self._positions: list[int] | None = None
        #: chunk indices turned into word positions by bisection (see ``_at``)
        self._looked = 0
        self._ends: list[int] | None = None
        #: of a field made with a matcher's notes (``note``): the note of each chunk whose
        #: note is not the plain one (see ``ChunkNotes``), in the order of their first
        #: occurrences; None for a field made without notes
        self.noted: dict[str, Note] | None = None

    @property
    def distinct(self) -> dict[str, int]:
        """Chunk → index of its last occurrence: the distinct chunks (built in C, when first
        asked for: a field with notes is placed without them, see ``note``)."""
        found = self._distinct
        if found is None:
            chunks = self.chunks
            found = self._distinct = dict(zip(chunks, _upward(len(chunks)), strict=False))
        return found

    def note(self, notes: list[Note]) -> dict[str, Note]:
        """Takes ``notes``, the matcher's note of each chunk (in the order of ``chunks``), and
        places every chunk whose note is not the plain one (``noted``): a chunk with a feature
        some rule looks up, a word under a wildcard or one that starts a rule's word pair,
        and every chunk that is not one word (``ChunkNotes._add_chunk``), a few hundred of a
        story's thousand chunks. One C-level pass over the notes finds them and one loop
        over their occurrences files them: a word a rule looks up, and the chunks that shift
        word positions, are then where ``where`` finds them, and the rest of the field is
        never looked at again (a dictionary of every distinct chunk, then of their first
        occurrences for ``where``, each cost more than that). Returns ``noted``."""
        chunks = self.chunks
        # (the plain note is the empty tuple: ``compress`` tests each note's truth itself,
        # with no call a chunk)
        at = list(compress(_upward(len(chunks)), notes))
        where = self._where
        noted = self.noted = {}
        for i in at:
            chunk = chunks[i]
            found = where.get(chunk)
            if found is None:
                where[chunk] = [i]
                noted[chunk] = notes[i]
            else:
                found.append(i)
        return noted

    def cut_by_expression(self) -> None:
        """Cuts the field into the ``CHUNK_RE`` matches instead of at its spaces."""
        if self.pieces is None:
            self.pieces = CHUNK_SPLIT_RE.split(self.text)
            self._index(self.pieces[1::2])

    def occurrences(self) -> dict[str, int]:
        """Chunk → index (in ``chunks``) of its last occurrence: the field's distinct chunks."""
        return self.distinct

    def where(self, chunk: str) -> list[int]:
        """Indices (in ``chunks``) where ``chunk``, one of ``occurrences()``, occurs; ascending."""
        found = self._where.get(chunk)
        if found is None:
            # (in a field with notes, a chunk with a plain note: see ``note``)
            firsts = self._firsts
            if firsts is None:
                n = len(self.chunks)
                firsts = self._firsts = dict(zip(reversed(self.chunks), _downward(n), strict=True))
            first, last = firsts[chunk], self.occurrences()[chunk]
            found = [first]
            if first != last:
                # list.index compares in C, a third of comparing through map and compress
                # (a common word occurs from the first paragraph to the last)
                index = self.chunks.index
                i = first
                while i < last:
                    i = index(chunk, i + 1, last + 1)
                    found.append(i)
            self._where[chunk] = found
        return found

    def pairs(self, starters: AbstractSet[str]) -> set[Pair]:
        """The folds of every two words (parts or joined forms) at consecutive positions
        that start in one of the chunks ``starters``; possibly a few more pairs (a superset
        is harmless to a necessary condition)."""
        cache = self.cache
        infos = cache.chunks
        chunks = self.chunks
        n = len(chunks)
        if self.noted is not None:
            # (the starters are placed: see ``note``)
            if self._irregular_ is None:
                self._irregular()
            wordless: AbstractSet[str] = self._wordless or _NO_CHUNKS
        else:
            wordless = cache.wordless if not cache.wordless.isdisjoint(self.distinct) else _NO_CHUNKS
        out: set[Pair] = set()
        where = self.where
        for chunk in starters:
            info = infos[chunk]
            if info[INNER]:
                out.update(info[INNER])
            tails = info[TAILS]
            # chunks without words take no position, so the words either side of them are
            # adjacent
            for i in where(chunk):
                j = i + 1
                if wordless:
                    while j < n and chunks[j] in wordless:
                        j += 1
                if j < n:
                    heads = infos[chunks[j]][HEADS]
                    if len(heads) == 1 and len(tails) == 1:
                        out.add((tails[0], heads[0]))
                    else:
                        out.update(product(tails, heads))
        return out

    def _irregular(self) -> _Irregular:
        """The chunks that are not exactly one word (see ``_Irregular``)."""
        irregular = self._irregular_
        if irregular is None:
            infos = self.cache.chunks
            noted = self.noted
            if noted is not None:
                # they are among the placed chunks (see ``note``), found where they are
                wordless = self._wordless = set(filter(self.cache.wordless.__contains__, noted))
                found = set(filter(self.cache.complex.__contains__, noted))
                found.update(wordless)
                indices = sorted(chain.from_iterable(map(self._where.__getitem__, found))) if found else []
            else:
                occ = self.occurrences()
                # (a view's ``&`` looks up the few wordless chunks in the field, where the
                # set's ``intersection`` would look up every chunk of the field in them)
                wordless = self._wordless = occ.keys() & self.cache.wordless
                found = self.cache.complex.intersection(occ)
                found.update(wordless)
                # (a story without a matcher's notes) a story may have dozens of such
                # chunks (dashes, paragraph breaks), a few of them distinct: where each
                # occurs costs less than a pass over every chunk
                indices = sorted(chain.from_iterable(map(self.where, found))) if found else []
            widths = [infos[self.chunks[i]][WIDTH] for i in indices]
            shift = [0, *accumulate(w - 1 for w in widths)]
            starts = [i + shift[k] for k, i in enumerate(indices)]
            irregular = self._irregular_ = _Irregular(indices, widths, starts, shift)
        return irregular

    def first_position(self, index: int) -> int:
        """Word position of the first part of chunk ``index``."""
        indices, _, _, shift = self._irregular_ or self._irregular()
        return index + shift[bisect_left(indices, index)] if indices else index

    def _first_positions(self) -> list[int]:
        """``first_position`` of every chunk (and, last, the number of positions), made in
        C-level passes the first time: a story looks up a few hundred."""
        found = self._positions
        if found is None:
            widths = [1] * len(self.chunks)
            irregular = self._irregular_ or self._irregular()
            for i, width in zip(irregular.indices, irregular.widths, strict=True):
                widths[i] = width
            found = self._positions = list(accumulate(widths, initial=0))
        return found

    def chunks_around(self, first: int, last: int) -> list[str]:
        """The chunks that hold a word position from ``first`` to ``last`` (either may lie
        outside the field), with the wordless chunks between them: a word at one of those
        positions is a part or an alias of one of them. A NEAR rules a word out by looking
        for it among these chunks, without finding where it is."""
        irregular = self._irregular_ or self._irregular()
        first, last = max(first, 0), min(last, len(self.chunks) + irregular.shift[-1] - 1)
        if first > last:
            return []
        return self.chunks[self._holding(first, irregular):self._holding(last, irregular) + 1]

    @staticmethod
    def _holding(position: int, irregular: _Irregular) -> int:
        """The index of the chunk that holds word ``position`` (the inverse of
        ``first_position``), found by bisection of the chunks that are not one word."""
        starts = irregular.starts
        k = bisect_right(starts, position)
        if not k:
            return position
        # the last of them starting at or before it: it holds it, or it is that many
        # one-word chunks after its end
        k -= 1
        end = starts[k] + irregular.widths[k]
        index = irregular.indices[k]
        return index if position < end else index + 1 + position - end

    def placed(self) -> Container[str]:
        """The chunks ``spans`` looks among for a word's keys or fold: in a field with
        notes, the placed ones (see ``note``), else every chunk."""
        return self._where if self.noted is not None else self.distinct

    def one_word_at(self, position: int) -> str | None:
        """The chunk that holds word ``position`` when it is one word (no joined form, not
        wordless); None when the position is in a chunk of several words or beyond the
        field. A phrase's next word is then told by that chunk alone (see
        ``evaluate._seq_spans``), without finding every position of the word."""
        irregular = self._irregular_ or self._irregular()
        starts = irregular.starts
        k = bisect_right(starts, position)
        if k:
            # ``_holding`` written out, which also says whether the chunk is irregular
            k -= 1
            end = starts[k] + irregular.widths[k]
            if position < end:
                return None
            index = irregular.indices[k] + 1 + position - end
        else:
            index = position
        chunks = self.chunks
        return chunks[index] if 0 <= index < len(chunks) else None

    def _simple(self) -> bool:
        """Whether every chunk is one word, so that chunk index and word position agree."""
        return not (self._irregular_ or self._irregular()).indices

    def _at(self, found: list[int]) -> list[int]:
        """``first_position`` of each of the chunk indices ``found`` (in a field that is not
        ``_simple``): by bisection while few have been looked up, which costs less than the
        pass over every chunk that ``_first_positions`` makes, and from that list after."""
        positions = self._positions
        if positions is None:
            self._looked += len(found)
            if self._looked <= len(self.chunks) >> 1:
                indices, _, _, shift = self._irregular_ or self._irregular()
                return [i + shift[bisect_left(indices, i)] for i in found]
            positions = self._first_positions()
        return list(map(positions.__getitem__, found))

    def spans(self, feature: str, test: str, form: WordForm) -> list[Span]:
        """Spans (first and last word position, inclusive) of the parts and aliases whose
        ``form`` contains (KEYS) or equals (FOLD, SURFACE) ``test``, among the chunks the
        reverse index lists under ``feature``; sorted."""
        if form is _SURFACE and not self.cache.surfaced:
            self.cache.index_surfaces()
        chunks = self.cache.rev.get(feature)
        if not chunks:
            return []
        # in a field with notes, every chunk filed under a feature a rule looks up (or under
        # the fold of a word under a wildcard) is placed: the others are not looked for
        present = list(filter(self._where.__contains__ if self.noted is not None and form is not _SURFACE
                              else self.distinct.__contains__, chunks))
        if not present:
            return []
        # ``_simple`` written out: the evidence of every match asks for the positions of its words
        simple = not (self._irregular_ or self._irregular()).indices
        out: list[Span] = []
        infos = self.cache.chunks
        complex_ = self.cache.complex
        by_fold = form is _FOLD
        keyed = form is _KEYS
        # where a word's form is (in a ``Part`` or an ``Alias``), when it is compared whole
        field = FOLD if by_fold else SURFACE
        unsorted = len(present) > 1
        known = self._where
        for chunk in present:
            if chunk not in complex_ and (not by_fold or infos[chunk][PARTS][0][FOLD] == test):
                # one word and no joined form, listed for its keys (which include its fold)
                # or its surface: that word is the match
                found = known.get(chunk) or self.where(chunk)
                if not simple:
                    found = self._at(found)
                out += zip(found, found, strict=True)
                continue
            unsorted = True
            info = infos[chunk]
            if keyed:
                offsets = [(a[FIRST], a[LAST]) for a in info[ALIASES] if test in a[KEYS]]
                offsets += [(j, j) for j, p in enumerate(info[PARTS]) if test in p[KEYS]]
            else:
                offsets = [(a[FIRST], a[LAST]) for a in info[ALIASES] if a[field] == test]
                offsets += [(j, j) for j, p in enumerate(info[PARTS]) if p[field] == test]
            for base in self.where(chunk) if simple else self._at(self.where(chunk)):
                out += [(base + a, base + b) for a, b in offsets]
        if unsorted:
            out.sort()
        return out

    def word_spans(self, keys: tuple[str, ...], feats: AbstractSet[str]) -> list[Span]:
        """The spans of a word of the lemma mode whose keys are ``keys`` (those of the
        field's features ``feats`` looked up): ``spans(k, k, KEYS)`` of each, merged.

        Most words (every word of a match whose evidence is read) are found in chunks that
        are one word each: then the spans are the positions of those chunks, found once for
        all the word's keys (its keys share chunks: ``studies`` is listed under ``studies``
        and ``study``) with no list a key to merge; a word in a chunk of several words
        takes ``spans`` of each key.

        In a field with notes, the chunks are looked up among the placed ones (as in
        ``spans``): a key in ``feats`` is a feature some rule looks up, and every chunk
        with one is placed (``note``). ``distinct``, a dictionary of every chunk of the
        field, is then never made: making it was a twentieth of the cost of a story's
        evidence (mix)."""
        rev = self.cache.rev
        inside = self._where if self.noted is not None else self.distinct
        chunks: list[str] = []
        for k in keys:
            if k in feats:
                listed = rev.get(k)
                if listed:
                    chunks += filter(inside.__contains__, listed)
        if not chunks:
            return []
        complex_ = self.cache.complex
        chunk = chunks[0]
        if len(chunks) == 1 or chunks.count(chunk) == len(chunks):
            # one chunk, perhaps listed under several keys (``studies`` under ``studies`` and
            # ``study``)
            if chunk not in complex_:
                return self._lone_word_spans(chunk)
        elif complex_.isdisjoint(chunks):
            simple = not (self._irregular_ or self._irregular()).indices
            positions: set[int] = set()
            for chunk in set(chunks):
                found = self._where.get(chunk) or self.where(chunk)
                positions.update(found if simple else self._at(found))
            ordered = sorted(positions)
            return list(zip(ordered, ordered))  # noqa: B905 - the same list
        return self._merged_spans(keys, feats)

    def word_occs(self, keys: tuple[str, ...], feats: AbstractSet[str], field: Field) -> list[tuple[Field, int, int]]:
        """``word_spans(keys, feats)`` as occurrences ``(field, first, last)``, ``field`` this
        field's number: what ``Evaluation.term_occ`` makes of them.

        The common case of the evidence of a match, a word found in one chunk that is that
        word alone, is written out (``word_spans`` and ``_lone_word_spans`` in one call): its
        occurrences are made from the chunk's positions at once, without the spans in
        between (about 40 terms a story whose matches are read, each found once)."""
        rev = self.cache.rev
        inside = self._where if self.noted is not None else self.distinct
        chunk = None
        for k in keys:
            if k in feats:
                listed = rev.get(k)
                if listed:
                    for c in filter(inside.__contains__, listed):
                        if chunk is None:
                            chunk = c
                        elif c != chunk:
                            # several chunks: as ``word_spans``
                            return list(map(tuple.__add__, repeat((field,)), self.word_spans(keys, feats)))  # type: ignore[arg-type]
        if chunk is None:
            return []
        if chunk in self.cache.complex:
            return list(map(tuple.__add__, repeat((field,)), self._merged_spans(keys, feats)))  # type: ignore[arg-type]
        found = self._lone_positions(chunk)
        return list(zip(repeat(field), found, found))

    def _lone_word_spans(self, chunk: str) -> list[Span]:
        """``word_spans`` of a word found in one chunk, that word alone: the positions where
        the chunk occurs."""
        found = self._lone_positions(chunk)
        return list(zip(found, found))  # noqa: B905 - the same list

    def _lone_positions(self, chunk: str) -> list[int]:
        """The word positions where ``chunk``, a chunk of one word, occurs. ``where`` and
        ``_at`` written out for a chunk that occurs once (the words of most matches whose
        evidence is read are rare)."""
        found = self._where.get(chunk)
        if found is None:
            firsts = self._firsts
            if firsts is None or firsts[chunk] != self.distinct[chunk]:
                found = self.where(chunk)
            else:
                found = self._where[chunk] = [firsts[chunk]]
        indices, _, _, shift = self._irregular_ or self._irregular()
        if indices:
            if len(found) == 1 and self._positions is None and self._looked < len(self.chunks) >> 1:
                # (``_at`` by bisection, which counts what it looked up)
                self._looked += 1
                i = found[0]
                return [i + shift[bisect_left(indices, i)]]
            found = self._at(found)
        return found

    def _merged_spans(self, keys: tuple[str, ...], feats: AbstractSet[str]) -> list[Span]:
        """``word_spans`` of a word in chunks of several words: each key's spans, merged."""
        spans: list[Span] = []
        for k in keys:
            if k in feats:
                found_spans = self.spans(k, k, _KEYS)
                if found_spans:
                    spans = sorted(set(spans).union(found_spans)) if spans else found_spans
        return spans

    def prefix_spans(self, words: list[str]) -> list[Span]:
        """Spans of the parts and aliases whose fold is one of ``words`` (the story's
        features that start with a wildcard's prefix); sorted."""
        out: list[Span] = []
        for f in words:
            out.extend(self.spans(f, f, _FOLD))
        out.sort()
        return out

    def char_span(self, start: int, end: int) -> Span:
        """Character offsets of the word positions ``start``..``end`` (inclusive)."""
        # one call, no helpers: the evidence of every match asks for its hits' offsets
        firsts = self._positions or self._first_positions()
        ends = self._ends
        pieces = self.pieces
        if ends is None:
            ends = self._ends = (list(accumulate(map(len, pieces))) if pieces is not None
                                 else list(accumulate(map(len, self.chunks), initial=0)))
        infos, chunks = self.cache.chunks, self.chunks
        # the chunk of a position: the last one starting at or before it (a chunk without
        # words starts where the next one does)
        first = bisect_right(firsts, start) - 1
        last = first if end == start else bisect_right(firsts, end) - 1
        begin = infos[chunks[first]][PARTS][start - firsts[first]][START]
        finish = infos[chunks[last]][PARTS][end - firsts[last]][END]
        if pieces is not None:
            # the separators and chunks before it
            return ends[2 * first] + begin, ends[2 * last] + finish
        # the chunks before it, and one space after each
        return ends[first] + first + begin, ends[last] + last + finish

    def char_spans(self, occs: Iterable[tuple[int, int, int]]) -> list[Span]:
        """``char_span(s, e)`` of each occurrence ``(field, s, e)`` of this field, in text
        order: one call for all the hits of a story's matches (``reports.StoryReports``).

        Without the lists ``char_span`` makes (a word position and a character offset for
        every chunk, two passes that make an int object a chunk) unless made: the chunk of a
        position is found by bisection of the chunks that are not one word, and the offsets
        of the few chunks with hits by the lengths of the chunks between them, joined in C."""
        firsts = self._positions
        indices, widths, starts, _ = self._irregular_ or self._irregular()
        # (chunk, part) of the first and last word of each occurrence: with ``firsts``, the
        # last chunk starting at or before it; else as ``_holding`` (written out: no call a
        # word), the chunk that holds it, or a one-word chunk that many after the end of
        # the last chunk that is not one word before it
        ends_at: list[tuple[int, int, int, int]] = []
        append = ends_at.append
        for _, start, end in occs:
            if firsts is not None:
                first = bisect_right(firsts, start) - 1
                last = first if end == start else bisect_right(firsts, end) - 1
                append((first, start - firsts[first], last, end - firsts[last]))
                continue
            k = bisect_right(starts, start) - 1
            if k < 0:
                first, i = start, 0
            elif start < starts[k] + widths[k]:
                first, i = indices[k], start - starts[k]
            else:
                first, i = indices[k] + 1 + start - starts[k] - widths[k], 0
            if end == start:
                append((first, i, first, i))
                continue
            k = bisect_right(starts, end) - 1
            if k < 0:
                append((first, i, end, 0))
            elif end < starts[k] + widths[k]:
                append((first, i, indices[k], end - starts[k]))
            else:
                append((first, i, indices[k] + 1 + end - starts[k] - widths[k], 0))
        # the offset of each chunk named
        at = self._offsets(sorted(set(map(_first, ends_at)).union(map(_third, ends_at))))
        infos, chunks = self.cache.chunks, self.chunks
        # (a word alone, most hits: its chunk's offset and its part looked up once)
        return [((a := at[first]) + (p := infos[chunks[first]][PARTS][i])[START], a + p[END])
                if first == last and i == j else
                (at[first] + infos[chunks[first]][PARTS][i][START], at[last] + infos[chunks[last]][PARTS][j][END])
                for first, i, last, j in ends_at]

    def _offsets(self, named: list[int]) -> dict[int, int]:
        """The character offset of each chunk of ``named`` (ascending indices), from the
        offsets ``char_span`` made, else by joining the chunks between them in C."""
        pieces = self.pieces
        known = self._ends
        at: dict[int, int] = {}
        if known is not None:
            for c in named:
                at[c] = known[2 * c] if pieces is not None else known[c] + c
        elif pieces is not None:
            # separators and chunks alternate: chunk c is piece 2c + 1
            done = offset = 0
            for c in named:
                offset += len("".join(pieces[done:2 * c + 1]))
                done = 2 * c + 1
                at[c] = offset
        else:
            chunks = self.chunks
            done = offset = 0
            for c in named:
                # the chunks before it, and one space after each
                offset += len("".join(chunks[done:c])) + c - done
                done = c
                at[c] = offset
        return at


#: the last chunk of a ``char_spans`` occurrence's (chunk, part, chunk, part)
_third = itemgetter(2)


def _analyse_new(fd: FieldDoc, cache: LangCache) -> None:
    """Adds the chunks of ``fd`` the cache lacks; a field with a new chunk longer than
    ``MAX_CHUNK`` is cut by expression first."""
    infos = cache.chunks
    new = list(filterfalse(infos.__contains__, fd.distinct))
    if new and fd.pieces is None and max(map(len, new)) > MAX_CHUNK:
        fd.cut_by_expression()
        new = list(filterfalse(infos.__contains__, fd.distinct))
    cache.add_all(new)


def _add_missing(fd: FieldDoc, cache: LangCache, notes: ChunkNotes, got: list[Note | None]) -> list[Note]:
    """For a field some of whose chunks ``notes`` lacks (``got``: the note of each chunk, None
    for those): adds them to the cache (``_analyse_new``) and to the notes, and returns the
    note of each chunk. The chunks lacking a note are found from ``got``, in the order of
    their first occurrences as in ``distinct``, without the dictionary of every chunk of
    the field that ``distinct`` is (a cold story's field has a few hundred such chunks
    among a thousand); and when they occur at few places, only those places are looked up
    again."""
    chunks = fd.chunks
    holes = list(compress(_upward(len(chunks)), map(is_, got, repeat(None))))
    missing = list(dict.fromkeys(map(chunks.__getitem__, holes)))
    infos = cache.chunks
    new = list(filterfalse(infos.__contains__, missing))
    if new and fd.pieces is None and max(map(len, new)) > MAX_CHUNK:
        # (``_analyse_new``) the field is cut anew: every chunk is looked up again
        fd.cut_by_expression()
        _analyse_new(fd, cache)
        known = notes.notes
        notes.add_all(list(filterfalse(known.__contains__, fd.distinct)))
        return list(map(known.__getitem__, fd.chunks))
    cache.add_all(new)
    notes.add_all(missing)
    known = notes.notes
    if len(holes) * 2 > len(chunks):
        return list(map(known.__getitem__, chunks))
    for i in holes:
        got[i] = known[chunks[i]]
    return cast("list[Note]", got)


#: what a matcher knows of one chunk (see ``ChunkNotes``). The features are a frozenset, which
#: keeps its members' hashes: a story's features are merged from its chunks' notes without
#: reading a string (a tuple of them costs ~7x as much, ~30 µs a story). Most chunks have no
#: feature a rule looks up and share one of two note objects (``_SHARED_NOTES``).
Note = tuple[frozenset[str], bool, tuple[tuple[str, str], ...]] | tuple[()]
_note_feats = itemgetter(0)
_note_starts = itemgetter(1)
_note_prefixed = itemgetter(2)
_info_parts = itemgetter(PARTS)
_info_feats = itemgetter(FEATS)
_info_heads = itemgetter(HEADS)
_first = itemgetter(0)
_part_fold = itemgetter(FOLD)
_NONE: frozenset[str] = frozenset()
_NO_CHUNKS: frozenset[str] = frozenset()
#: the note of a chunk with no feature a rule looks up, no word under a wildcard prefix and
#: none that starts a word pair (most chunks): the empty tuple, the one falsy note, so that
#: ``FieldDoc.note`` finds a field's other chunks by ``compress``'s own truth test of each
#: note, with no call a chunk (an ``is_not`` of each cost more than the rest of placing)
_PLAIN: Note = ()
#: the notes of such chunks as made (``_PLAIN`` for the one that starts no word pair), each
#: mapped to the object a matcher files: shared objects rather than a new tuple a chunk, so
#: that the first collection after a story full of new words has fewer objects to walk
_STARTS: Note = (_NONE, True, ())
_SHARED_NOTES: dict[Note, Note] = {(_NONE, False, ()): _PLAIN, _STARTS: _STARTS}
#: the two shared notes, by whether the chunk starts a word pair (``False``, ``True``)
_PLAIN_BY_START: tuple[Note, Note] = (_PLAIN, _STARTS)
#: the plain note of a chunk that is not one word: truthy, so that a field's chunks that
#: shift word positions are placed (``FieldDoc.note``)
_PLAIN_IRREGULAR: Note = (_NONE, False, ())
#: the highest code point, a noncharacter no word holds: ``prefix + _LAST_CHARACTER`` sorts
#: after every word that starts with ``prefix``
_LAST_CHARACTER = "\U0010ffff"


class ChunkNotes:
    """What a matcher needs of each chunk of one lemmatiser language, found once per chunk.

    A note is the chunk's features that some rule may look up (among its keys and folds,
    those in ``words``, plus ``PREFIX_TAG + p`` for each wildcard prefix ``p`` one of its words
    starts with), whether one of its words starts a rule's word pair, and (prefix, word) for
    each of its words under a wildcard prefix. One lookup per
    distinct chunk then gives a story everything the candidate filter needs. Notes are
    valid for the ``cache`` they were made from (the chunks they name are in it).
    """

    __slots__ = ("cache", "head", "lens", "notes", "pair_firsts", "prefixes", "shared", "tags", "words")

    def __init__(self, cache: LangCache, pair_firsts: AbstractSet[str], prefixes: AbstractSet[str],
                 words: frozenset[str]) -> None:
        self.cache = cache
        self.words = words
        self.pair_firsts = pair_firsts
        self.prefixes = prefixes
        #: the shortest prefix length, and for each prefix's first ``head`` characters the
        #: lengths of the prefixes that start with them: most words start no prefix, and
        #: one lookup tells
        self.head = min(map(len, prefixes), default=0)
        lens: dict[str, set[int]] = {}
        for p in prefixes:
            lens.setdefault(p[: self.head], set()).add(len(p))
        self.lens = {start: tuple(sorted(found)) for start, found in lens.items()}
        #: each prefix's feature (``PREFIX_TAG + prefix``), made once (its hash is kept)
        self.tags = {p: PREFIX_TAG + p for p in prefixes}
        self.notes: dict[str, Note] = {}
        #: each distinct note made so far, mapped to itself (from the start, the two of
        #: ``_SHARED_NOTES``, the plain one to ``_PLAIN``): chunks of equal notes (``said``,
        #: ``Said``, ``said,``, often ``says``) share one note and one frozenset. A cold
        #: story's chunks with features a rule looks up make half as many objects to keep,
        #: and for the collector to walk, that way
        self.shared: dict[Note, Note] = dict(_SHARED_NOTES)

    def add_all(self, chunks: list[str]) -> None:
        """``add`` of each of ``chunks``; those of one word (most chunks) together, in a few
        C-level passes over them all."""
        cache = self.cache
        # the chunks of several words, with a joined form, or of none (a few a story): two
        # set intersections, C loops with no call a chunk, rather than filters over them all
        odd = cache.complex.intersection(chunks)
        wordless = cache.wordless.intersection(chunks)
        words = chunks
        if odd or wordless:
            for chunk in chain(filter(odd.__contains__, chunks), filter(wordless.__contains__, chunks)):
                self._add_chunk(chunk, cache.chunks[chunk])
            words = list(filterfalse(odd.union(wordless).__contains__, chunks))
        infos = list(map(cache.chunks.__getitem__, words))
        # each word's fold (``info[PARTS][0][FOLD]``), read as its only head: two C-level
        # passes rather than three (a third the fewer calls; flattening the heads with
        # ``chain`` cost more, an iterator a word)
        folds = list(map(_first, map(_info_heads, infos)))
        # and its features some rule may look up:
        # most chunks have none: telling costs less than making (and freeing) an empty set,
        # and a loop over the others only, less than one over every chunk
        feats = list(map(_info_feats, infos))
        n = len(words)
        mine = [_NONE] * n
        # the words whose note is not one of the two shared ones (``_PLAIN_BY_START``): with a
        # feature some rule looks up, or under a wildcard prefix
        special: list[int] = []
        rule_words = self.words
        # first one test of all their features together (a C loop, no call a feature): a
        # small field's new words often have none
        if not rule_words.isdisjoint(chain.from_iterable(feats)):
            special += compress(range(n), map(not_, map(rule_words.isdisjoint, feats)))
            intersection = rule_words.intersection
            for i in special:
                mine[i] = intersection(feats[i])
        found: list[tuple[tuple[str, str], ...]] | None = None
        if self.lens:
            found, under = self._under_prefixes(folds, mine)
            special += under
        pair_firsts = self.pair_firsts
        if len(special) * 4 > n:
            # (thousands of wildcards: half the words are under one) a note made for each
            # word and shared through ``shared``, in C-level passes
            made = list(zip(mine, map(pair_firsts.__contains__, folds), found or repeat(()), strict=False))
            self.notes.update(zip(words, map(self.shared.setdefault, made, made), strict=True))
            return
        # most words' notes are shared ones, picked by whether the word starts a pair: no
        # note made, hashed and looked up for each; the few that start one (~6 %) are set
        # by a loop over them only (a Python-level loop makes the special ones' notes)
        notes = [_PLAIN] * n
        for i in compress(range(n), map(pair_firsts.__contains__, folds)):
            notes[i] = _STARTS
        if special:
            shared = self.shared
            # (a word may be in ``special`` twice: a feature and a prefix)
            for i in special:
                note: Note = (mine[i], folds[i] in pair_firsts, found[i] if found is not None else ())
                notes[i] = shared.setdefault(note, note)
        self.notes.update(zip(words, notes, strict=True))

    def _under_prefixes(self, folds: list[str],
                        mine: list[frozenset[str]]) -> tuple[list[tuple[tuple[str, str], ...]], list[int]]:
        """For ``add_all``: (prefix, word) for each wildcard prefix each word of ``folds``
        starts with, and the positions of the words under one; the prefixes' features are
        added to the word's in ``mine``."""
        # the lengths of the prefixes that start as each word does: mostly none
        heads = map(getitem, folds, repeat(slice(0, self.head)))
        lens: list[tuple[int, ...] | None] = list(map(self.lens.get, heads))  # type: ignore[arg-type]
        found: list[tuple[tuple[str, str], ...]] = [()] * len(folds)
        hits: list[int] = []
        prefixes, tags = self.prefixes, self.tags
        # one loop, no call a word: in a rule set of thousands of wildcards, a third of a
        # story's words start as one does
        for i in compress(range(len(folds)), lens):
            word = folds[i]
            size = len(word)
            # a plain loop: a comprehension is a call, and most words try one length
            under: list[str] | None = None
            for n in lens[i]:  # type: ignore[union-attr]
                if n <= size:
                    start = word[:n]
                    if start in prefixes:
                        if under is None:
                            under = [start]
                        else:
                            under.append(start)
            if under is not None:
                found[i] = tuple(zip(under, repeat(word)))
                mine[i] = mine[i].union(map(tags.__getitem__, under))
                hits.append(i)
        return found, hits

    def add(self, chunk: str) -> Note:
        """The note of ``chunk``, which must be in ``cache``."""
        info = self.cache.chunks[chunk]
        if info[WIDTH] == 1 and not info[ALIASES]:
            return self._add_word(chunk, info[PARTS][0][FOLD], info[FEATS])
        return self._add_chunk(chunk, info)

    def _add_chunk(self, chunk: str, info: ChunkInfo) -> Note:
        """``add`` of any chunk."""
        # (one map over both: two list comprehensions were two calls)
        folds = dict.fromkeys(map(_part_fold, chain(info[PARTS], info[ALIASES])))
        # only the features some rule may look up: most chunks have none
        feats = self.words.intersection(info[FEATS]) or _NONE
        found: tuple[tuple[str, str], ...] = ()
        head, lens = self.head, self.lens
        # whether a word starts as a prefix does, told in C first: mostly none does
        if lens and not lens.keys().isdisjoint(map(getitem, folds, repeat(slice(0, head)))):
            prefixes = self.prefixes
            found = tuple((w[:n], w) for w in folds if w[:head] in lens
                          for n in lens[w[:head]] if n <= len(w) and w[:n] in prefixes)
            if found:
                feats = feats.union([PREFIX_TAG + start for start, _ in found])
        note: Note = (feats, not self.pair_firsts.isdisjoint(folds), found)
        note = self.shared.setdefault(note, note)
        if not note:
            note = _PLAIN_IRREGULAR  # (see there)
        self.notes[chunk] = note
        return note

    def _add_word(self, chunk: str, word: str, feats: tuple[str, ...]) -> Note:
        """``add`` of a chunk of one word (most chunks), whose fold is ``word``."""
        mine = self.words.intersection(feats) or _NONE
        found: tuple[tuple[str, str], ...] = ()
        lens = self.lens.get(word[: self.head]) if self.lens else None
        if lens:
            found = tuple((word[:n], word) for n in lens if n <= len(word) and word[:n] in self.prefixes)
            if found:
                mine = mine.union([PREFIX_TAG + start for start, _ in found])
        note: Note = (mine, word in self.pair_firsts, found)
        note = self.notes[chunk] = self.shared.setdefault(note, note)
        return note


class StoryDoc:
    """A story ready for the matcher: fields, lemmatiser language, and candidate features.

    ``feats`` holds every lemma key and fold of every field, plus ``LANG_TAG + language``
    when the story's language is known. A story made with a matcher's notes (``notes_of``)
    holds only the keys and folds some rule of that matcher may look up, and the wildcard
    prefixes its words start with; the matcher then adds its filter's other features.
    """

    __slots__ = ("_prefix_words", "_sorted", "feats", "field_feats", "fields", "lang", "lang_code",
                 "prefixed_chunks", "prefixes_known", "story")

    def __init__(self, story: Story, notes_of: Callable[[LangCache], ChunkNotes] | None = None) -> None:
        self.story = story
        self.lang = lemma_language(story.lang)
        self.lang_code = language_code(story.lang or "")
        cache = lang_cache(self.lang)
        source = story.source if not story.outlet or story.outlet == story.source else (
            f"{story.source}\n{story.outlet}")
        # bounded whoever made the story (a feed, an article, `match` on a JSON line): the
        # matcher's time and memory grow with the text
        texts = {TITLE: clip(story.title, STORY_TITLE_LIMIT), TEXT: clip(story.text, STORY_TEXT_LIMIT),
                 SOURCE: source, URL: clip(story.url, STORY_URL_LIMIT)}
        #: indexed by :data:`~monitor.rules.encoding.Field`
        self.fields = tuple(FieldDoc(texts[f] or "", self.lang, cache) for f in ALL_FIELDS)
        # a matcher's notes give each chunk's features (and more) in one lookup
        notes = notes_of(cache) if notes_of is not None else None
        per_field: list[set[str]] = []
        for fd in self.fields:
            if notes is None:
                _analyse_new(fd, cache)
                per_field.append(set().union(*map(_info_feats, map(cache.chunks.__getitem__, fd.distinct))))
                continue
            known = notes.notes
            # a lookup a chunk rather than a dictionary of the distinct chunks first: it
            # costs less (a story's chunks are new strings, hashed either way), and the
            # field is then placed without one (``FieldDoc.note``)
            got = list(map(known.get, fd.chunks))
            # (a plain note is falsy too: see ``_PLAIN``)
            noted = fd.note(_add_missing(fd, cache, notes, got) if None in got else cast("list[Note]", got))
            per_field.append(set().union(*map(_note_feats, noted.values())))
        #: features of each field (lemma keys and folds), for a position-free word test;
        #: indexed by ``Field``
        self.field_feats = tuple(per_field)
        # the text field holds most words: grow a copy of it rather than an empty set
        feats = cast("set[Feature]", per_field[TEXT].union(per_field[TITLE], per_field[SOURCE],
                                                           per_field[URL]))
        if self.lang_code:
            feats.add(LANG_TAG + self.lang_code)
        #: the matcher adds its candidate-filter features (field-tagged words, word pairs,
        #: wildcard prefixes): none of them is a word
        self.feats = feats
        self._sorted: list[str] | None = None
        #: set by the matcher: its wildcard prefixes, and for each chunk of the story with a
        #: word under one of them, (prefix, word) for each such word
        self.prefixes_known: AbstractSet[str] = frozenset()
        self.prefixed_chunks: list[tuple[tuple[str, str], ...]] = []
        self._prefix_words: dict[str, list[str]] = {}

    def starters(self, fd: FieldDoc) -> set[str]:
        """The chunks of ``fd`` whose note says they start a rule's word pair."""
        noted = fd.noted
        return set(compress(noted, map(_note_starts, noted.values()))) if noted else set()

    def note_prefixes(self, prefixes: AbstractSet[str]) -> None:
        """Tells the story the matcher's wildcard prefixes and, from its chunks' notes, the
        words under them."""
        self.prefixes_known = prefixes
        for fd in self.fields:
            if fd.noted:
                self.prefixed_chunks.extend(filter(None, map(_note_prefixed, fd.noted.values())))

    def with_prefix(self, prefix: str) -> list[str]:
        """Features that start with ``prefix``: the folds, for a prefix of
        ``prefixes_known``; otherwise the keys and folds."""
        if prefix in self.prefixes_known:
            words = self._prefix_words.get(prefix)
            if words is None:
                words = self._prefix_words[prefix] = list(dict.fromkeys(
                    word for pairs in self.prefixed_chunks for start, word in pairs if start == prefix))
            return words
        if self._sorted is None:
            self._sorted = sorted(f for f in self.feats if isinstance(f, str) and f[:1] > LAST_TAG)
        folds = self._sorted
        lo = bisect_left(folds, prefix)
        return folds[lo : bisect_left(folds, prefix + _LAST_CHARACTER, lo)]
