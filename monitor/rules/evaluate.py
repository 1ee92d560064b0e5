"""Exact evaluation of one parsed query against one prepared story, and its evidence.

Every step is bounded by the story's size and a fixed budget: there is no backtracking on
user input, and NEAR stops looking after ``NEAR_BUDGET`` comparisons (it may then miss a
match in a pathological story, but never reports a false one).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import repeat
from operator import eq, itemgetter
from typing import Any

from monitor.models import Hit
from monitor.rules.ast import And, Lang, Mode, Near, Node, Not, Or, Term, Unit, walk_terms
from monitor.rules.document import FieldDoc, Span, StoryDoc
from monitor.rules.encoding import DEFAULT_FIELDS, FIELD_NAMES, FIELD_OF, SURFACE_TAG, Field, WordForm
from monitor.rules.text import FOLD, PARTS, fold, word_keys

NEAR_BUDGET = 50_000
#: a NEAR looks for a side's lone words around the other side's occurrences
#: (``Evaluation._none_near``) only when those are at most about this many words: around
#: more, a word the news uses all the time is likely there, and is then looked for twice
_PROBE_WORDS = 60
MAX_SPANS = 5_000
MAX_HITS = 100
#: ``_within`` looks at most this many spans back for one that contains an occurrence
_INSIDE_LOOKBACK = 64
#: a word position after every real one
_BEYOND = 1 << 62

Occ = tuple[Field, int, int]  # field, first word position, last word position
# read for every word looked up: a module global costs a tenth of ``WordForm.X`` (and of
# ``Mode.X``: ``EnumType`` defines ``__getattr__``)
_KEYS, _FOLD, _SURFACE = WordForm.KEYS, WordForm.FOLD, WordForm.SURFACE
_LEMMA, _EXACT, _CASE = Mode.LEMMA, Mode.EXACT, Mode.CASE


def _unit_spans(fd: FieldDoc, u: Unit, doc: StoryDoc, feats: set[str]) -> list[Span]:
    # ``feats``, the field's keys and folds, rules a word out before any position work
    mode = u.mode
    if mode == _LEMMA:
        keys = word_keys(u.text, fd.lang)
        if len(keys) == 1:
            # most words have one key: no lists to make and merge
            [key] = keys
            return fd.spans(key, key, _KEYS) if key in feats else []
        found = [fd.spans(k, k, _KEYS) for k in keys if k in feats]
        found = [s for s in found if s]
        if not found:
            return []
        if len(found) == 1:
            return found[0]
        return sorted(set().union(*found))
    if mode == _EXACT:
        return fd.spans(u.text, u.text, _FOLD) if u.text in feats else []
    if mode == _CASE:
        return fd.spans(SURFACE_TAG + u.text, u.text, _SURFACE) if fold(u.text) in feats else []
    return fd.prefix_spans(doc.with_prefix(u.text))


def _seq_spans(fd: FieldDoc, units: tuple[Unit, ...], doc: StoryDoc, feats: set[str]) -> list[Span]:
    """Spans of the words ``units`` side by side in ``fd``. A quoted word after the first
    (EXACT mode) is looked for only after the spans found so far: the word at the next
    position is told by its chunk when that chunk is one word, which costs less than
    finding every position of the word (``FieldDoc.spans``); a next position in a chunk of
    several words takes those positions after all (the same spans, in the same order, as
    joining every position of every word: ``tests/rules/test_phrase_spans.py``)."""
    cur = _unit_spans(fd, units[0], doc, feats)
    for u in units[1:]:
        if not cur:
            return []
        text = u.text
        if u.mode != _EXACT:
            cur = _joined(cur, _unit_spans(fd, u, doc, feats))
            continue
        if text not in feats:
            return []
        # what ``FieldDoc.spans`` asks of a chunk of one word found by its fold: filed under
        # it, placed (in a field with notes), and its word's fold is it
        listed = fd.cache.rev.get(text) or ()
        inside = fd.placed()
        infos = fd.cache.chunks
        word_at = fd.one_word_at
        ends_at: dict[int, list[int]] | None = None
        out: list[Span] = []
        for s, e in cur:
            chunk = word_at(e + 1)
            if chunk is not None:
                if infos[chunk][PARTS][0][FOLD] == text and chunk in inside and chunk in listed:
                    out.append((s, e + 1))
                continue
            if ends_at is None:
                ends_at = _ends_at(fd.spans(text, text, _FOLD))
            out += [(s, e2) for e2 in ends_at.get(e + 1, ())]
        cur = out
    return cur


def _ends_at(spans: list[Span]) -> dict[int, list[int]]:
    """The ends of ``spans`` by their starts."""
    ends_at: dict[int, list[int]] = {}
    for s, e in spans:
        ends_at.setdefault(s, []).append(e)
    return ends_at


def _joined(cur: list[Span], nxt: list[Span]) -> list[Span]:
    """The spans of a span of ``cur`` followed right after by one of ``nxt``."""
    ends_at = _ends_at(nxt)
    return [(s, e2) for s, e in cur for e2 in ends_at.get(e + 1, ())]


#: how a step of a plan is evaluated (see ``PlanTable``), and what follows in its tuple:
#: a term must be there, or must not be (a NOT of a term): its memo key (``_term_key``) and
#: its place; one of several terms must be there (an OR of terms), or none (a NOT of an OR
#: of terms): a key and a place for each; a NEAR: the place of its node, then a key and a
#: place for each term (two terms; or its sides are terms or ORs of terms, an OR on one side
#: at least, the left side's terms first); any other node is walked as a tree: its place
_TERM, _NO_TERM, _ANY, _NONE, _NEAR, _NEAR_OR, _NODE = range(7)
#: of a term of lone unquoted words: the fields it looks in and the lemma keys of its words
#: (one of them in one of those fields' features: it is there)
_Lookup = tuple[tuple[Field, ...], tuple[str, ...]]
#: a term whose lookup is not known yet (told apart by identity)
_UNKNOWN: _Lookup = ((), ())
#: a conjunct of a rule's query, compiled (see above): ints only
Step = tuple[int, ...]
#: a rule's query, compiled: the places of its steps in its plan table, in evaluation order
Plan = tuple[int, ...]
#: a term of a step (of a NEAR whose sides are terms or ORs of terms): its memo key, its place
PlanTerm = tuple[int, int]
#: the bits of a term's field in its memo key (``_term_key``)
_FIELD_BITS: dict[str | None, int] = {None: 0, **{name: f + 1 for f, name in enumerate(FIELD_NAMES)}}
assert max(_FIELD_BITS.values()) < 8, "a memo key keeps 3 bits for the field"


def _term_key(term: Term) -> int:
    """The key under which an evaluation memoises whether ``term`` is there and where: the
    same for every term of the same words (``parser._alts`` shares them) and field, whatever
    rule it is in. Negative: never the id of a NEAR, whose spans share the memo."""
    return ~(id(term.alts) << 3 | _FIELD_BITS[term.field])


class PlanTable:
    """Rules' evaluation plans (``plan``) and what they name by place (``entries``): their
    steps, and the query objects those name.

    A plan, and each of its steps, is a tuple of ints: the cyclic collector stops tracking
    it at the first collection that sees it. (A matcher keeps the plan of every rule that
    has been a candidate, tens of thousands, made after the matcher was frozen: plans that
    held the query objects stayed tracked, and nested tuples of ints lost their tracking one
    level a collection, the outermost last, so the one full collection after a pass still
    walked most of them.) A conjunct's step is made once, for every rule that has that
    object (the parser shares a term of the same words at the same column, and the query of
    a text repeated).

    A term is given a place each time a new step names it, with no dictionary of the terms
    placed: a plan is made on a rule's first candidacy, most rules are candidates for the
    first time on a cold story (~30 plans a story), and most of a new step's terms were
    new to the table all the same (a term object is shared only at the same column), so
    looking them up, then filing them in two dictionaries, was two fifths of the cost of a
    plan (measured: ~25k instructions a plan of an alert rule, ~20k without; when every
    rule of 100 000 alert rules has its plan, the table is 47 MiB instead of 41).

    Memo keys and conjuncts are named by the ids of query objects: a table is valid in this
    process, for as long as it lives (it keeps the objects it names). Not thread-safe: make
    plans one at a time. Evaluate a plan with an :class:`Evaluation` given its table."""

    __slots__ = ("_kept", "_made", "entries", "lookups")

    def __init__(self, copied: PlanTable | None = None) -> None:
        #: the steps and query objects plans name, by place (appended to as plans are made)
        self.entries: list[Step | Node] = [] if copied is None else list(copied.entries)
        #: by the id of a conjunct: the place of its step, ``~place`` for a step evaluated
        #: first (see ``plan``)
        self._made: dict[int, int] = {} if copied is None else dict(copied._made)
        #: the conjuncts in ``_made``, kept so that no other object takes their ids
        self._kept: list[Node] = [] if copied is None else list(copied._kept)
        #: by language, then by memo key: what tells whether a term is there
        #: (``Evaluation._present_of``), found the first time a story in the language asks
        self.lookups: dict[str, dict[int, _Lookup | None]] = {}

    def plan(self, root: Node) -> Plan:
        """The plan of a query whose root is ``root``: its conjuncts (the children of an AND,
        else the node itself) as steps, a term, an OR of terms or a NOT of a term or of an OR
        of terms evaluated by memo lookups, a NEAR of terms or ORs of terms from their
        occurrences, any other node walked as a tree. Most rules are an AND of terms, ORs of
        terms and NOTs: their evaluation then makes no ``isinstance`` test and no recursive
        call.

        The NOTs of lone unquoted words come first: their absence is a set lookup, and when
        one is there the rule fails before the positions of its other terms are looked for
        (alert rules exclude words the news uses all the time). A NOT adds no evidence, so
        the steps that do keep their order, and the evidence its labels."""
        made = self._made
        if type(root) is not And:
            # a query of one conjunct (a term, an OR, a NEAR: a third of the rules)
            i = id(root)
            place = made.get(i)
            if place is None:
                place = made[i] = self._step(root)
                self._kept.append(root)
            return (place if place >= 0 else ~place,)
        steps: list[int] = []
        firsts = 0
        for c in root.children:
            i = id(c)
            place = made.get(i)
            if place is None:
                place = made[i] = self._step(c)
                self._kept.append(c)
            if place >= 0:
                steps.append(place)
            else:
                steps.insert(firsts, ~place)
                firsts += 1
        return tuple(steps)

    def _step(self, c: Node) -> int:
        """The place of a new step of the conjunct ``c`` (``~place`` when it goes first).
        Cold stories make thousands of steps (a plan is made on a rule's first candidacy):
        the cases of terms are written out here, one call a step, each term placed right
        before the step (after the NEAR node of a NEAR's), its memo key made in line
        (``_term_key``)."""
        kind = type(c)
        entries = self.entries
        if kind is Term:
            # a lone term (most conjuncts): its place, then its step
            entries.append(c)
            place = len(entries)
            entries.append((_TERM, ~(id(c.alts) << 3 | _FIELD_BITS[c.field]), place - 1))  # type: ignore[union-attr]
            return place
        terms: tuple[Term, ...]
        if kind is Or or kind is Not:
            found = _terms_of(c if kind is Or else c.child)  # type: ignore[union-attr]
            if found is None:
                return self._node_step(c)
            terms = found
            out = [_ANY if kind is Or else _NO_TERM if len(terms) == 1 else _NONE]
        elif kind is Near:
            left, right = _terms_of(c.left), _terms_of(c.right)  # type: ignore[union-attr]
            if left is None or right is None:
                return self._node_step(c)
            terms = left + right
            out = [_NEAR if len(terms) == 2 else _NEAR_OR, len(entries)]
            entries.append(c)
        else:
            return self._node_step(c)
        for t in terms:
            out += (~(id(t.alts) << 3 | _FIELD_BITS[t.field]), len(entries))
            entries.append(t)
        place = len(entries)
        entries.append(tuple(out))
        if kind is Not and all(map(_single_lemma, terms)):
            return ~place
        return place

    def _node_step(self, c: Node) -> int:
        """The place of a new step of a conjunct walked as a tree (and of the node itself)."""
        entries = self.entries
        entries.append(c)
        entries.append((_NODE, len(entries) - 1))
        return len(entries) - 1


def _terms_of(node: Node) -> tuple[Term, ...] | None:
    """The terms of ``node`` when it is a term or an OR of terms (else None)."""
    if type(node) is Term:
        return (node,)
    if type(node) is Or:
        terms = node.children
        for t in terms:
            if type(t) is not Term:
                return None
        return terms  # type: ignore[return-value]
    return None


def _near_split(node: Near) -> int:
    """How many of the terms of a ``_NEAR_OR`` step of ``node`` are its left side's."""
    left = node.left
    return len(left.children) if type(left) is Or else 1


class Evaluation:
    """Evaluates queries against one story, memoising term occurrences across rules."""

    __slots__ = ("_arounds", "_chars", "_evidence", "_hits", "_lookups", "_memo", "_positions", "_present", "_table",
                 "_widths", "doc")

    def __init__(self, doc: StoryDoc, table: PlanTable | None = None) -> None:
        self.doc = doc
        #: what the plans this evaluates name by place (``PlanTable.entries``)
        self._table: Sequence[Any] = () if table is None else table.entries
        #: occurrences by term (``_term_key``: terms of different rules share them) and by
        #: NEAR node (its id)
        self._memo: dict[int, list[Occ]] = {}
        #: character offsets of the occurrences reported as hits (rules share words)
        self._chars: dict[Occ, tuple[int, int]] = {}
        #: whether a term is in the story, by its words and field, for terms found without
        #: their positions
        self._present: dict[int, bool] = {}
        #: the hit of each (occurrence, label) reported so far
        self._hits: dict[tuple[Occ, str], Hit] = {}
        #: the evidence of each term that is a rule's whole query
        self._evidence: dict[tuple[int, str | None, str], tuple[tuple[Occ, str], ...]] = {}
        #: of each term's occurrences (a list in ``_memo``, by its id): the most words one of
        #: them spans, less one
        self._widths: dict[int, int] = {}
        #: of each term's occurrences (by id, as ``_widths``) that are all lone words: their
        #: positions by field (see ``_positions_of``); None for the others
        self._positions: dict[int, dict[Field, list[int]] | None] = {}
        #: the lookup of each term by its memo key (``_lookup_of``; None: not lone unquoted
        #: words), kept by the plan table for every story of the language: a term's keys are
        #: found once, not once a story
        self._lookups: dict[int, _Lookup | None] = {} if table is None else table.lookups.setdefault(doc.lang, {})
        #: of a term's occurrences (by id, as ``_widths``) and a reach: the chunks around
        #: them, by field (``_around``): the NEARs of a story that fail share a subject
        self._arounds: dict[tuple[int, int], dict[Field, set[str]]] = {}

    def term_occ(self, term: Term) -> list[Occ]:
        """Occurrences of a term, sorted by field and position."""
        key = ~(id(term.alts) << 3 | _FIELD_BITS[term.field])  # ``_term_key``, written out
        occ = self._memo.get(key)
        if occ is not None:
            return occ
        out: list[Occ] = []
        alts = term.alts
        doc = self.doc
        # one word (most terms whose evidence is read): ``_unit_spans`` written out, and no
        # call for a field without the word (a field without text has no features). Its
        # fields and keys are those of its lookup, when the plan table keeps one (most
        # terms of a match read were found there without their positions, ``_present_of``):
        # its keys then each once, which finds the same occurrences
        lookup = self._lookups.get(key) if len(alts) == 1 else None
        if lookup is None:
            fields: tuple[Field, ...] = DEFAULT_FIELDS if term.field is None else (FIELD_OF[term.field],)
            if len(alts) == 1 and len(alts[0]) == 1 and alts[0][0].mode == _LEMMA:
                lookup = fields, word_keys(alts[0][0].text, doc.lang)
        if lookup is not None:
            fields, keys = lookup
            feats_of = doc.field_feats
            for f in fields:
                feats = feats_of[f]
                if not feats.isdisjoint(keys):
                    # (most terms are in one field: its list is theirs)
                    if out:
                        out += doc.fields[f].word_occs(keys, feats, f)
                    else:
                        out = doc.fields[f].word_occs(keys, feats, f)
        else:
            out = self._occ_in_fields(fields, alts)
        self._memo[key] = out
        # once its occurrences are known, they say whether the term is there
        self._present[key] = bool(out)
        return out

    def _occ_in_fields(self, fields: tuple[Field, ...], alts: tuple[tuple[Unit, ...], ...]) -> list[Occ]:
        """``term_occ`` of a term of alternatives ``alts`` (not one word of the lemma mode)
        in ``fields``."""
        out: list[Occ] = []
        doc = self.doc
        for f in fields:
            fd = doc.fields[f]
            if not fd.text:
                continue
            feats = doc.field_feats[f]
            if len(alts) == 1:
                units = alts[0]
                spans = (_unit_spans(fd, units[0], doc, feats) if len(units) == 1
                         else _seq_spans(fd, units, doc, feats))
            else:
                spans = []
                for alt in alts:
                    spans.extend(_seq_spans(fd, alt, doc, feats))
                spans = sorted(set(spans))
            if spans:
                out += map(tuple.__add__, repeat((f,)), spans)  # type: ignore[arg-type]
        return out

    def possible(self, term: Term) -> bool:
        """False when some word of every alternative of ``term`` is absent from the whole
        story (a set lookup, no position work); True means "look closer"."""
        feats = self.doc.feats
        lang = self.doc.lang
        for alt in term.alts:
            for u in alt:
                mode = u.mode
                if mode == _LEMMA:
                    if feats.isdisjoint(word_keys(u.text, lang)):
                        break
                elif mode == _EXACT:
                    if u.text not in feats:
                        break
                elif mode == _CASE and fold(u.text) not in feats:
                    break
            else:
                return True
        return False

    def truth(self, node: Node) -> bool:
        """Whether ``node`` matches the story."""
        # loops rather than all()/any() over a generator: no generator per node (the same
        # short cut, measured a few % of a story on rules of two or three terms)
        if isinstance(node, Term):
            return self._term_truth(node)
        if isinstance(node, And):
            for c in node.children:  # noqa: SIM110 - see above
                if not self.truth(c):
                    return False
            return True
        if isinstance(node, Or):
            for c in node.children:  # noqa: SIM110 - see above
                if self.truth(c):
                    return True
            return False
        if isinstance(node, Not):
            return not self.truth(node.child)
        if isinstance(node, Lang):
            return self.doc.lang_code == node.code
        return bool(self.occ(node))

    def holds(self, plan: Plan) -> bool:  # noqa: C901 - see docstring
        """``truth`` of the query ``plan`` was made of (``PlanTable.plan``). Its steps of
        terms are written out: most steps are one term, looked up in the memo, and this is
        called for every candidate of a story."""
        present, table = self._present, self._table
        for place in plan:
            step = table[place]
            how = step[0]
            if how <= _NO_TERM:
                key = step[1]
                known = present.get(key)
                if known is None:
                    known = self._present_of(table[step[2]], key)
                if how == _TERM:
                    if not known:
                        return False
                elif known:
                    return False
            elif how <= _NONE:
                # a while loop, not ``range``: no object to make for a few terms
                found = False
                i, stop = 1, len(step)
                while i < stop:
                    key = step[i]
                    known = present.get(key)
                    if known is None:
                        known = self._present_of(table[step[i + 1]], key)
                    if known:
                        found = True
                        break
                    i += 2
                if found is (how == _NONE):
                    return False
            else:
                node = table[step[1]]
                if not (self._near_holds(step, node) if how == _NEAR
                        else self._near_or_holds(step, node) if how == _NEAR_OR
                        else self._near_truth(node) if type(node) is Near else self.truth(node)):
                    return False
        return True

    def _near_holds(self, step: Step, node: Node) -> bool:  # noqa: C901 - see docstring
        """``bool(occ(node))`` of a NEAR of two terms (most NEARs), ``step`` its ``_NEAR``
        step: ``_near_or_holds`` without its lists, and written out (no helper calls: the
        worst case has hundreds a story)."""
        memo = self._memo
        spans = memo.get(id(node))
        if spans is not None:
            return bool(spans)
        assert isinstance(node, Near)
        present, table = self._present, self._table
        _, _, first_key, first, second_key, second = step
        known = present.get(first_key)
        if known is None:
            known = self._present_of(table[first], first_key)
        if not known:
            return False
        known = present.get(second_key)
        if known is None:
            known = self._present_of(table[second], second_key)
        if not known:
            return False
        left = memo.get(first_key)
        if left is None:
            left = self.term_occ(table[first])
        n = node.distance
        right = memo.get(second_key)
        if right is None:
            # (the bound of ``_none_near`` first: the worst case's NEARs of common words
            # never get that far)
            if len(left) * (2 * n + 3) <= _PROBE_WORDS:
                # (a lone-word term there has its lookup: ``_present_of`` found it so)
                lookup = self._lookups.get(second_key)
                if lookup is not None and self._none_near([left], [lookup], n):
                    return False
            right = self.term_occ(table[second])
        if len(left) * len(right) >= NEAR_BUDGET:
            return self._near_found(id(node), left, right, n)
        # each term's occurrences are in many NEARs of a story: their widths are known once
        widths = self._widths
        left_width = widths.get(id(left))
        if left_width is None:
            left_width = widths[id(left)] = _width_of(left)
        right_width = widths.get(id(right))
        if right_width is None:
            right_width = widths[id(right)] = _width_of(right)
        return _near_exists(left, right, n, left_width, right_width)

    def _near_or_holds(self, step: Step, node: Node) -> bool:
        """``bool(occ(node))`` of a NEAR of terms or ORs of terms (an OR on one side at
        least), ``step`` its ``_NEAR_OR`` step: whether a term of each side
        is there (their presence needs no positions when they are lone words), then whether
        an occurrence of such a left term is near one of such a right term, without making
        spans (the evidence makes them when read), nor merging the occurrences of a side's
        terms: two occurrences are near whatever terms they are of, so the merged sides have
        a near pair exactly when two of their terms have.

        Most NEARs of alert rules fail: a name and a word the news uses all the time are
        both in a story, far apart. When one side is lone words whose places are not known
        yet, the chunks around the other side's few occurrences are looked at first
        (``_none_near``), and the NEAR fails without the places of those words."""
        memo = self._memo
        spans = memo.get(id(node))
        if spans is not None:
            return bool(spans)
        assert isinstance(node, Near)
        split = 2 + 2 * _near_split(node)
        left = self._there(step, 2, split)
        if not left:
            return False
        right = self._there(step, split, len(step))
        if not right:
            return False
        n = node.distance
        lefts = rights = None
        wanted = self._unplaced(right)
        if wanted is not None:
            lefts = self._occurrences(left)
            if self._none_near(lefts, wanted, n):
                return False
        else:
            wanted = self._unplaced(left)
            if wanted is not None:
                rights = self._occurrences(right)
                if self._none_near(rights, wanted, n):
                    return False
        return self._near_pairs(lefts if lefts is not None else self._occurrences(left),
                                rights if rights is not None else self._occurrences(right), node)

    def _near_pairs(self, lefts: list[list[Occ]], rights: list[list[Occ]], node: Near) -> bool:
        """Whether an occurrence of ``lefts`` (the occurrences of the terms of ``node``'s left
        side that are there) is near one of ``rights`` (its right side's)."""
        n = node.distance
        if sum(map(len, lefts)) * sum(map(len, rights)) >= NEAR_BUDGET:
            # the budgets of ``_pairs`` may be reached on the merged sides, as before
            return self._near_found(id(node), self.occ(node.left), self.occ(node.right), n)
        width = self._width
        for left_occs in lefts:
            left_width = width(left_occs)
            for right_occs in rights:
                if _near_exists(left_occs, right_occs, n, left_width, width(right_occs)):
                    return True
        return False

    def _there(self, step: Step, start: int, stop: int) -> list[PlanTerm]:
        """The terms of ``step`` (a key and a place each) from index ``start`` to ``stop``
        that are in the story."""
        present, table = self._present, self._table
        out = []
        i = start
        while i < stop:  # (see ``holds``)
            key = step[i]
            known = present.get(key)
            if known is None:
                known = self._present_of(table[step[i + 1]], key)
            if known:
                out.append((key, step[i + 1]))
            i += 2
        return out

    def _occurrences(self, terms: list[PlanTerm]) -> list[list[Occ]]:
        """The occurrences of each of ``terms``."""
        memo, table = self._memo, self._table
        out = []
        for key, term in terms:
            # memoised under the presence key (see ``term_occ``)
            occs = memo.get(key)
            out.append(occs if occs is not None else self.term_occ(table[term]))
        return out

    def _unplaced(self, terms: list[PlanTerm]) -> list[_Lookup] | None:
        """The lookups (``_lookup_of``) of ``terms``, terms there, when they are lone unquoted
        words (each of one or several alternatives) whose occurrences have not been looked
        for yet; else None. Such a term there was found so by ``_present_of``, which kept its
        lookup (one missing, never expected, only sends the NEAR the exact way)."""
        memo, lookups = self._memo, self._lookups
        out = []
        for key, _ in terms:
            if key in memo:
                return None
            found = lookups.get(key)
            if found is None:
                return None
            out.append(found)
        return out

    def _none_near(self, occurrences: list[list[Occ]], wanted: list[_Lookup], n: int) -> bool:
        """Whether no occurrence of the lone-word terms of lookups ``wanted`` can be within
        ``n`` words of one of ``occurrences`` (the other side's terms'): no chunk around those
        (``FieldDoc.chunks_around``) is filed under a lemma key of theirs. A word near an
        occurrence is a part or an alias of such a chunk, and the chunks where a word of a
        key is are those filed under it; but a chunk may hold other words, farther away, so
        True is certain and False is "look closer". False too when the chunks around the
        occurrences would be more than about ``_PROBE_WORDS`` words.

        The chunks around a side's occurrences are looked at a field at a time, their union
        (some occurrence has such a chunk around it exactly when the union has), and kept
        for the story (``_around``): a subject is in many NEARs of a story, most failing."""
        if sum(map(len, occurrences)) * (2 * n + 3) > _PROBE_WORDS:
            return False
        doc = self.doc
        feats_of, fields_of = doc.field_feats, doc.fields
        reach = n + 1
        for occs in occurrences:
            for f, around in self._around(occs, reach).items():
                feats = feats_of[f]
                filed = fields_of[f].cache.rev
                for fields, keys in wanted:
                    if f in fields:
                        for k in keys:
                            if k in feats and not around.isdisjoint(filed.get(k, ())):
                                return False
        return True

    def _around(self, occs: list[Occ], reach: int) -> dict[Field, set[str]]:
        """The chunks around ``occs`` (memoised occurrences of a term, so their id names them
        for the story) within ``reach`` words, by field: the union of each occurrence's
        ``chunks_around``."""
        key = (id(occs), reach)
        found = self._arounds.get(key)
        if found is None:
            found = self._arounds[key] = {}
            fields = self.doc.fields
            for f, s, e in occs:
                chunks = fields[f].chunks_around(s - reach, e + reach)
                got = found.get(f)
                if got is None:
                    found[f] = set(chunks)
                else:
                    got.update(chunks)
        return found

    def _width(self, occs: list[Occ]) -> int:
        """``_width_of(occs)``, ``occs`` a term's memoised occurrences: each term's are in
        many NEARs of a story, their width is found once."""
        widths = self._widths
        width = widths.get(id(occs))
        if width is None:
            width = widths[id(occs)] = _width_of(occs)
        return width

    def _near_truth(self, node: Near) -> bool:
        """``truth(node)`` of a NEAR: ``bool(occ(node))``, its right side not looked up when its
        left one is not there, and found without making every span."""
        spans = self._memo.get(id(node))
        if spans is not None:
            return bool(spans)
        if isinstance(node.left, Not) or isinstance(node.right, Not):
            return bool(self.occ(node))
        left = self.occ(node.left)
        return bool(left) and self._near_found(id(node), left, self.occ(node.right), node.distance)

    def _near_found(self, key: int, left: list[Occ], right: list[Occ], n: int) -> bool:
        """``bool(_pairs(left, right, n))``, the spans memoised under ``key`` when they are
        made: only when the budgets of ``_any_pairs`` might be reached (below them, its
        spans are there exactly when two occurrences are near)."""
        if not left or not right:
            return False
        if len(left) * len(right) >= NEAR_BUDGET:
            spans = self._memo[key] = _pairs(left, right, n)
            return bool(spans)
        return _near_exists(left, right, n, _width_of(left), _width_of(right))

    def evidence_of(self, plan: Plan) -> tuple[tuple[Occ, str], ...]:
        """``evidence`` of the query ``plan`` was made of, which must hold (``holds``)."""
        return self.shared_evidence_of(plan)[0]

    def shared_evidence_of(self, plan: Plan) -> tuple[tuple[tuple[Occ, str], ...], bool]:  # noqa: C901 - hot, written out
        """``evidence_of(plan)``, and whether it may be an object this evaluation keeps (most
        often the evidence of a term, the whole evidence of every rule of that term alone):
        False when it was made for this call, so that no later call returns it, and knowing
        it again by its identity is pointless (see ``reports.StoryReports``)."""
        pieces: list[tuple[tuple[Occ, str], ...]] = []
        made, table = self._evidence, self._table
        for place in plan:
            step = table[place]
            how = step[0]
            if how == _TERM:
                term = table[step[2]]
                # ``_term_evidence`` written out: a call less for most terms of a match read
                piece = made.get((id(term.alts), term.field, term.label))
                pieces.append(piece if piece is not None else self._term_evidence(term))
            elif how == _ANY:
                self._or_pieces(step, pieces)
            elif how in (_NEAR, _NEAR_OR):
                self._near_pieces(step, table[step[1]], pieces)
            elif how == _NODE:
                self._collect(table[step[1]], pieces)
        # ``_merged`` written out: a call less for every match read
        if len(pieces) == 1:
            [piece] = pieces
            return (piece, True) if len(piece) <= MAX_HITS else (piece[:MAX_HITS], False)
        if len(pieces) == 2:
            first, second = pieces
            if len(first) == 1 and len(second) == 1:
                # two terms found once each (most rules of rare words): no dict, no sort
                one, other = first[0], second[0]
                if one[0] == other[0]:
                    return first, True
                return ((one, other) if one[0] < other[0] else (other, one)), False
        found: dict[Occ, str] = {}
        for piece in reversed(pieces):
            found.update(piece)
        # (by occurrence alone: the occurrences are distinct, and comparing them costs less
        # than comparing the pairs, whose first items are tuples)
        return tuple(sorted(found.items(), key=_OCC)[:MAX_HITS]), False

    def _or_pieces(self, step: Step, pieces: list[tuple[tuple[Occ, str], ...]]) -> None:
        """The evidence of every term of an OR of terms (its ``_ANY`` step ``step``) that is
        there."""
        present, made, table = self._present, self._evidence, self._table
        i, stop = 1, len(step)
        while i < stop:  # (see ``holds``)
            key = step[i]
            term = table[step[i + 1]]
            known = present.get(key)
            if known is None:
                known = self._present_of(term, key)
            if known:
                # (see ``evidence_of``)
                piece = made.get((id(term.alts), term.field, term.label))
                pieces.append(piece if piece is not None else self._term_evidence(term))
            i += 2

    def _near_pieces(self, step: Step, node: Node, pieces: list[tuple[tuple[Occ, str], ...]]) -> None:
        """``_near_evidence`` of a NEAR of terms or ORs of terms (its step ``step``), without
        walking it: each term's occurrences inside the spans where it matched."""
        table, memo = self._table, self._memo
        near_node: Near = node  # type: ignore[assignment]  # (a ``_NEAR`` or ``_NEAR_OR`` step's)
        near: tuple[set[Occ], set[Occ]] | None = None
        if id(node) in memo:
            pass  # its spans are known
        elif len(step) == 6:
            # a NEAR of two terms (``_NEAR``): their occurrences, memoised when it was
            # found to hold, looked up by the keys in its step
            left, right = memo.get(step[2]), memo.get(step[4])
            if left is None:
                left = self.term_occ(table[step[3]])
            if right is None:
                right = self.term_occ(table[step[5]])
            near = self._near_words(near_node, left, right)
            if near is not None:
                one, other = table[step[3]], table[step[5]]
                pieces.append(tuple(zip(filter(near[0].__contains__, left), repeat(one.label))))
                pieces.append(tuple(zip(filter(near[1].__contains__, right), repeat(other.label))))
                return
        else:
            near = self._near_words(near_node, self.occ(near_node.left), self.occ(near_node.right))
        if near is not None:
            # (see ``_near_words``) the spans are not made
            near_left, near_right = near
            split = _near_split(near_node)
            for k, place in enumerate(step[3::2]):
                term = table[place]
                inside = near_left if k < split else near_right
                pieces.append(tuple(zip(filter(inside.__contains__, self.term_occ(term)), repeat(term.label))))
            return
        spans = self.occ(node)
        for place in step[3::2]:
            term = table[place]
            pieces.append(tuple(zip(_within(self.term_occ(term), spans), repeat(term.label))))

    def _near_words(self, node: Near, left: list[Occ], right: list[Occ]) -> tuple[set[Occ], set[Occ]] | None:
        """The occurrences of each side of ``node`` (``left``, ``right``: ``occ`` of them)
        inside a span of ``occ(node)``, found
        without making the spans, when the sides are lone words at different places and
        ``occ(node)`` would be at most ``_INSIDE_LOOKBACK`` spans (else None).

        Then the spans are every pair of a left and a right word at most ``distance + 1``
        words apart (``_word_pairs``, one span a pair), and ``_within`` looks at all of
        them: a word is inside a span exactly when a word of the other side is that near
        it (a span around it has such a word at one end, and a word with one is an end of
        a span). Counting those words by bisection costs less than making and sorting the
        spans, then looking each word up among them (the worst case reads hundreds of
        NEARs of common words a story)."""
        if len(left) * len(right) >= MAX_SPANS:
            return None
        # a term's occurrences (most sides) are in many NEARs of a story: whether they are
        # lone words, and their positions, are found once for all of them
        left_at, right_at = self._positions_of(node.left, left), self._positions_of(node.right, right)
        if left_at is None or right_at is None or not set(left).isdisjoint(right):
            return None
        reach = node.distance + 1
        near_left, spans = _with_neighbours(left, right, reach, right_at)
        if spans > _INSIDE_LOOKBACK:
            return None
        return near_left, _with_neighbours(right, left, reach, left_at)[0]

    def _positions_of(self, side: Node, occs: list[Occ]) -> dict[Field, list[int]] | None:
        """``_positions_by_field(occs)``, ``occs`` the occurrences of the side ``side`` of a
        NEAR, when they are all lone words (else None); memoised for a term's (whose list
        lives in ``_memo`` as long as this evaluation, so its id names it)."""
        if type(side) is not Term:
            return _positions_by_field(occs) if _words_only(occs) else None
        known = self._positions.get(id(occs), False)
        if known is False:
            known = self._positions[id(occs)] = _positions_by_field(occs) if self._width(occs) == 0 else None
        return known  # type: ignore[return-value]

    def _term_truth(self, term: Term) -> bool:
        key = ~(id(term.alts) << 3 | _FIELD_BITS[term.field])  # ``_term_key``, written out
        known = self._present.get(key)
        if known is None:
            known = self._present_of(term, key)
        return known

    def _present_of(self, term: Term, key: int) -> bool:
        """Whether ``term`` (whose memo key is ``key``) is in the story, found for the first
        time: a lone unquoted word needs no positions, its keys in the field's features."""
        lookup = self._lookups.get(key, _UNKNOWN)
        if lookup is _UNKNOWN:
            lookup = self._lookups[key] = self._lookup_of(term)
        if lookup is None:
            known = self._present[key] = self.possible(term) and bool(self.term_occ(term))
            return known
        fields, keys = lookup
        feats_of = self.doc.field_feats
        known = False
        for f in fields:
            if not feats_of[f].isdisjoint(keys):
                known = True
                break
        self._present[key] = known
        return known

    def _lookup_of(self, term: Term) -> _Lookup | None:
        """The lookup of ``term`` (see ``_Lookup``) when it is lone unquoted words, else None."""
        alts = term.alts
        fields = DEFAULT_FIELDS if term.field is None else (FIELD_OF[term.field],)
        if len(alts) == 1:
            # one word (most terms; a cold story finds ~40 lookups): its keys as they are,
            # without a generator and a dictionary to drop keys met twice
            [alt] = alts
            if len(alt) != 1 or alt[0].mode != _LEMMA:
                return None
            keys = word_keys(alt[0].text, self.doc.lang)
            return fields, (keys if len(keys) == 1 else tuple(dict.fromkeys(keys)))
        if not _single_lemma(term):
            return None
        lang = self.doc.lang
        return fields, tuple(dict.fromkeys(k for alt in alts for k in word_keys(alt[0].text, lang)))

    def occ(self, node: Node) -> list[Occ]:
        """Occurrences of a positional node (term, OR of positional nodes, NEAR)."""
        if isinstance(node, Term):
            return self.term_occ(node)
        if isinstance(node, Or):
            merged: set[Occ] = set()
            for c in node.children:
                merged.update(self.occ(c))
            return sorted(merged)
        if isinstance(node, Near):
            key = id(node)
            cached = self._memo.get(key)
            if cached is None:
                cached = self._memo[key] = self._near(node)
            return cached
        return []

    def _near(self, node: Near) -> list[Occ]:
        n = node.distance
        if isinstance(node.right, Not):
            return _without(self.occ(node.left), self.occ(node.right.child), n)
        if isinstance(node.left, Not):
            return _without(self.occ(node.right), self.occ(node.left.child), n)
        return _pairs(self.occ(node.left), self.occ(node.right), n)

    def hits(self, node: Node) -> list[Hit]:
        """Evidence of a matching query: the positive terms that made it match."""
        return self.hits_of(self.evidence(node))

    def evidence(self, node: Node) -> tuple[tuple[Occ, str], ...]:
        """The occurrences of the positive terms that made ``node`` match, with their
        terms' labels, in text order (at most ``MAX_HITS``; an occurrence two terms share
        is labelled by the first of them in the query): what ``hits_of`` reports. Cheap to
        compare, so that rules with the same evidence share their report."""
        pieces: list[tuple[tuple[Occ, str], ...]] = []
        self._collect(node, pieces)
        return self._merged(pieces)

    @staticmethod
    def _merged(pieces: list[tuple[tuple[Occ, str], ...]]) -> tuple[tuple[Occ, str], ...]:
        """The evidence of ``pieces``, the evidence of terms in query order (see ``evidence``)."""
        if len(pieces) == 1:
            # each piece is in text order and holds an occurrence once
            [piece] = pieces
            return piece if len(piece) <= MAX_HITS else piece[:MAX_HITS]
        found: dict[Occ, str] = {}
        for piece in reversed(pieces):
            found.update(piece)  # the first piece's label of an occurrence wins
        return tuple(sorted(found.items(), key=_OCC)[:MAX_HITS])

    def _term_evidence(self, term: Term) -> tuple[tuple[Occ, str], ...]:
        """A term's occurrences (at most ``MAX_HITS``) with its label, made once per story
        for every rule that has the term."""
        key = (id(term.alts), term.field, term.label)
        found = self._evidence.get(key)
        if found is None:
            label = term.label
            found = self._evidence[key] = tuple(zip(self.term_occ(term)[:MAX_HITS], repeat(label)))
        return found

    def hits_of(self, evidence: tuple[tuple[Occ, str], ...]) -> list[Hit]:
        """The hits (with character offsets) of ``evidence``. A hit is made once per story
        and shared by every match that reports it."""
        # a hit is always true, and ``None in out`` would call ``Hit.__eq__`` (Python code)
        # on every hit that is not None
        get, make = self._hits.get, self._hit
        return [get(item) or make(item) for item in evidence]

    def _hit(self, item: tuple[Occ, str]) -> Hit:
        occ, label = item
        chars = self._chars
        f, s, e = occ
        span = chars.get(occ)
        if span is None:
            span = chars[occ] = self.doc.fields[f].char_span(s, e)
        hit = self._hits[item] = Hit(label, FIELD_NAMES[f], s, span[0], span[1])
        return hit

    def _collect(self, node: Node, pieces: list[tuple[tuple[Occ, str], ...]]) -> None:
        """Appends to ``pieces`` the evidence of each positive term that made ``node`` match,
        in the order of the query."""
        if isinstance(node, Term):
            pieces.append(self._term_evidence(node))
        elif isinstance(node, And):
            for c in node.children:
                self._collect(c, pieces)
        elif isinstance(node, Or):
            for c in node.children:
                if self.truth(c):
                    self._collect(c, pieces)
        elif isinstance(node, Near):
            self._near_evidence(node, pieces)

    def _near_evidence(self, node: Near, pieces: list[tuple[tuple[Occ, str], ...]]) -> None:
        """The occurrences of each positive term of a NEAR inside the spans where it matched."""
        spans = self.occ(node)
        sides = [s for s in (node.left, node.right) if not isinstance(s, Not)]
        for side in sides:
            for term, positive in walk_terms(side):
                if positive:
                    label = term.label
                    pieces.append(tuple(zip(_within(self.term_occ(term), spans), repeat(label))))


def _single_lemma(term: Term) -> bool:
    alts = term.alts
    if len(alts) == 1:
        return len(alts[0]) == 1 and alts[0][0].mode == _LEMMA
    return all(len(alt) == 1 and alt[0].mode == _LEMMA for alt in term.alts)


def _within(occs: list[Occ], spans: list[Occ]) -> list[Occ]:
    """The occurrences in ``occs`` inside a span of ``spans``, found in one loop (a call
    per occurrence would cost more than the test)."""
    out: list[Occ] = []
    for occ in occs:
        f, s, e = occ
        i = bisect_right(spans, (f, s, _BEYOND))
        for j in range(i - 1, max(-1, i - 1 - _INSIDE_LOOKBACK), -1):
            sf, ss, se = spans[j]
            if sf != f:
                break
            if ss <= s and se >= e:
                out.append(occ)
                break
    return out


def _with_neighbours(words: list[Occ], others: list[Occ], reach: int,
                     at: dict[Field, list[int]] | None = None) -> tuple[set[Occ], int]:
    """Of ``words`` (one-word occurrences), those with a word of ``others`` (one-word
    occurrences at other places) at most ``reach`` words away, and how many such pairs
    there are: the spans ``_word_pairs(words, others, reach - 1)`` makes. ``at`` is
    ``_positions_by_field(others)`` if already known."""
    if at is None:
        # all in one field (the lists are sorted by field), as most are: its positions in C
        one_field = words and others and words[0][0] == words[-1][0] == others[0][0] == others[-1][0]
        at = {others[0][0]: [s for _, s, _ in others]} if one_field else _positions_by_field(others)
    near: set[Occ] = set()
    pairs = 0
    for occ in words:
        there = at.get(occ[0])
        if there is not None:
            s = occ[1]
            count = bisect_right(there, s + reach) - bisect_left(there, s - reach)
            if count:
                near.add(occ)
                pairs += count
    return near, pairs


def _pairs(left: list[Occ], right: list[Occ], n: int) -> list[Occ]:
    """Unions of a left and a right occurrence with at most ``n`` words between them."""
    if not left or not right:
        return []
    if len(right) > len(left):
        left, right = right, left
    if len(left) * len(right) < MAX_SPANS and _words_only(left) and _words_only(right):
        # neither limit of ``_any_pairs`` can be reached: every pair is found, whichever way
        return _word_pairs(left, right, n)
    return _any_pairs(left, right, n)


def _width_of(occs: list[Occ]) -> int:
    """The most words an occurrence of ``occs`` spans, less one."""
    return 0 if _words_only(occs) else max(e - s for _, s, e in occs)


def _near_exists(left: list[Occ], right: list[Occ], n: int, left_width: int, right_width: int) -> bool:
    """Whether ``_pairs(left, right, n)`` would find a span when its budgets cannot be
    reached: an occurrence of each list in the same field, not sharing a word, with at most
    ``n`` words between them. Each occurrence of the shorter list bisects the longer one,
    which it is sorted like; the widths are ``_width_of`` each list."""
    if len(left) > len(right):
        left, right = right, left
        right_width = left_width
    reach = n + 1
    # the starts of the occurrences that may end near ``s`` are at most this far before it
    longest = right_width
    for f, s, e in left:
        # only occurrences of field ``f`` sort between these two bounds
        j = bisect_left(right, (f, s - reach - longest))
        hi = bisect_right(right, (f, e + reach, _BEYOND), j)
        while j < hi:
            _, rs, re_ = right[j]
            if re_ >= s - reach and (re_ < s or rs > e):
                return True
            j += 1
    return False


def _any_pairs(left: list[Occ], right: list[Occ], n: int) -> list[Occ]:
    """``_pairs`` of non-empty lists, ``left`` the longer one, any occurrences, within the
    budgets."""
    starts = [(f, s) for f, s, _ in right]
    longest = max(e - s for _, s, e in right)
    out: set[Occ] = set()
    budget = NEAR_BUDGET
    for f, s, e in left:
        lo = bisect_left(starts, (f, s - n - 1 - longest))
        hi = bisect_right(starts, (f, e + n + 1))
        for j in range(lo, hi):
            budget -= 1
            rf, rs, re_ = right[j]
            if rf != f or re_ < s - n - 1:
                continue
            if re_ < s or rs > e:  # the two sides may not share a word
                out.add((f, min(s, rs), max(e, re_)))
        if budget <= 0 or len(out) >= MAX_SPANS:
            break
    return sorted(out)


def _words_only(occs: list[Occ]) -> bool:
    """Whether every occurrence in ``occs`` is one word."""
    return all(map(eq, map(_FIRSTS, occs), map(_LASTS, occs)))


_FIRSTS, _LASTS = itemgetter(1), itemgetter(2)
#: the occurrence of an (occurrence, label) pair of evidence
_OCC = itemgetter(0)


def _positions_by_field(occs: list[Occ]) -> dict[Field, list[int]]:
    """The first word positions of ``occs`` (sorted by field and position) by field, in order."""
    at: dict[Field, list[int]] = {}
    for f, s, _ in occs:
        found = at.get(f)
        if found is None:
            at[f] = [s]
        else:
            found.append(s)
    return at


def _word_pairs(left: list[Occ], right: list[Occ], n: int) -> list[Occ]:
    """``_pairs`` of occurrences of one word each, when every pair is wanted: for each left
    word, the right words at most ``n`` words before or after it, other than itself, found
    by bisection and added in C (a common word has dozens of neighbours)."""
    out: set[Occ] = set()
    at = _positions_by_field(right)
    reach = n + 1
    for f, s, _ in left:
        places = at.get(f)
        if places is None:
            continue
        lo = bisect_left(places, s - reach)
        mid = bisect_left(places, s, lo)
        hi = bisect_right(places, s + reach, mid)
        if lo < mid:
            out.update(zip(repeat(f), places[lo:mid], repeat(s)))
        if mid < hi:
            if places[mid] == s:
                mid += 1
            out.update(zip(repeat(f), repeat(s), places[mid:hi]))
    return sorted(out)


def _without(pos: list[Occ], neg: list[Occ], n: int) -> list[Occ]:
    """Occurrences in ``pos`` with no occurrence of ``neg`` within ``n`` words."""
    if not neg:
        return pos
    starts = [(f, s) for f, s, _ in neg]
    longest = max(e - s for _, s, e in neg)
    out: list[Occ] = []
    budget = NEAR_BUDGET
    for f, s, e in pos:
        lo = bisect_left(starts, (f, s - n - 1 - longest))
        hi = bisect_right(starts, (f, e + n + 1))
        near = False
        for j in range(lo, hi):
            budget -= 1
            nf, ns, ne = neg[j]
            if nf == f and ne >= s - n - 1 and (ne < s or ns > e):
                near = True
                break
        if not near:
            out.append((f, s, e))
        if budget <= 0:
            break
    return out
