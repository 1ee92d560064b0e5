"""The percolator: all watch rules compiled into one matcher.

Each rule's query yields a few alternative *requirement sets* (``Query.needs``): sets of
words that must all be present for the rule to have any chance; a word limited to the
title, source or URL must be in that field, and two words of a phrase must be side by side
somewhere. Every set is filed in an inverted index under the two atoms a story is least
likely to have, judged by how often their words occur in news text of the language
(``frequency``: *investigation* is common however long, *Tesla* rare however short, a word
pair rarer than its words, a word of the title rarer than one anywhere), never by how the
rule is written. Rule sets smaller than ``_PAIRS_FROM`` leave word pairs out, as finding a
story's pairs costs more than the few candidates they rule out; larger ones leave out the
words of a pair instead, which the pair implies. For a story, the matcher
intersects the story's features (word keys and folds, field-tagged words, the word pairs
that start some rule's phrase, wildcard prefixes) with the index (C-level set operations),
checks the rest of each reached requirement set with set lookups, and evaluates exactly
only the rules that pass. Cost per story therefore grows with the story and with the rules
whose words it contains, not with the number of rules.

What the filter needs of a chunk of text (its features that some rule may look up,
whether it starts a rule's word pair, its words under a wildcard) is noted once per chunk
(``ChunkNotes``), so a story's features take one lookup per distinct chunk. A rule is
evaluated through its plan (``evaluate.PlanTable``, made the first time it is a candidate):
its conjuncts, of which terms, ORs of terms and NOTs of a term are memo lookups rather than
a walk of its tree. Rules with the same evidence in a story share one report (hits and
snippets).

Lemma keys depend on the story's language, so the index is built per lemmatiser language:
English at compile time, any other language the first time a story in it is matched (seconds
at 100 000 rules), unless the index of that language built for the same rules in another
process is at hand (``Matcher.find_indexes_with``: the rule cache keeps them in files).

A reload usually changes a rule or two of many: ``compile(..., previous=running)`` then
copies the running matcher's index, sharing every part the changed rules do not touch, and
files those rules anew (``Matcher._patched``); after changes to a twentieth of the rules, or
to more than ``_PATCH_AT_MOST`` at once, the index is built in full again.

Topic rules (``about:``, see ``topicmatch``) are not in the index: the story is embedded
once and every topic rule scored with one matrix product. A rule with both ``query`` and
``about`` needs both: its keyword match is held until its similarity passes too, and no
story is embedded when no topic rule could still match it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np

from monitor.errors import QueryError
from monitor.models import Match, Story, TopicScore
from monitor.rules import frequency
from monitor.rules.ast import And, Mode, Near, Node, Not, Or, Query, Term, Unit
from monitor.rules.document import ChunkNotes, StoryDoc
from monitor.rules.encoding import (
    ALWAYS,
    FIELD_NAMES,
    FIELD_TAGS,
    FOLD_ATOM,
    LANG_ATOM,
    LANG_TAG,
    LEMMA_ATOM,
    PAIR_ATOM,
    PREFIX_ATOM,
    PREFIX_TAG,
    Atom,
    Feature,
    pair_of,
)
from monitor.rules.evaluate import Evaluation, Plan, PlanTable
from monitor.rules.frequency import Rates, prefix_rate, word_rate
from monitor.rules.parser import parse_query
from monitor.rules.reports import StoryReports
from monitor.rules.text import INNER, TAILS, ChunkInfo, LangCache, fold, word_keys
from monitor.rules.topicmatch import DEFAULT_THRESHOLD, TopicIndex, TopicRule

_MAX_CHUNK_NOTES = 500_000
_EMPTY: frozenset[Feature] = frozenset()
_NO_NAMES: frozenset[str] = frozenset()
#: a matcher is patched (see ``Matcher._patched``) for at most this many changed rules
_PATCH_AT_MOST = 200
#: rule sets at least this large are frozen out of the collector's way (see ``compile``)
_FREEZE_FROM = 5_000
#: rule sets at least this large use word pairs (phrases) in the candidate filter: finding a
#: story's pairs costs a pass over its chunks, which only pays off when it rules out enough
#: candidates (measured: about even at 1 000 realistic rules, 5 % faster at 3 000)
_PAIRS_FROM = 1_000


@dataclass(frozen=True)
class RuleSpec:
    """A named watch rule as configured; ``sources``/``tags`` limit it to some sources
    (by source name or outlet, or by source tag; empty means every source).

    ``about`` makes it a topic rule: it matches a story whose similarity to that description
    is at least ``threshold`` (None: the calibrated default); with a ``query`` as well, both
    must hold. A rule has a query, a description, or both.
    """

    name: str
    query: str
    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    about: str = ""
    threshold: float | None = None


def _allows(sources: frozenset[str], tags: frozenset[str], story: Story) -> bool:
    if not sources and not tags:
        return True
    if story.source.casefold() in sources or story.outlet.casefold() in sources:
        return True
    return any(t.casefold() in tags for t in story.source_tags)


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    query: Query
    sources: frozenset[str]
    tags: frozenset[str]

    def allows(self, story: Story) -> bool:
        return _allows(self.sources, self.tags, story)


_RULE_SLOTS = ("name", "query", "sources", "tags")
assert tuple(f.name for f in fields(_Rule)) == _RULE_SLOTS, "_Rule changed: update _new_rule"
_set_name, _set_query, _set_sources, _set_tags = (getattr(_Rule, name).__set__ for name in _RULE_SLOTS)


def _new_rule(name: str, query: Query, sources: frozenset[str], tags: frozenset[str]) -> _Rule:
    """``_Rule(name, query, sources, tags)``, faster (as ``_match``; a large rule set makes 100 000)."""
    rule: _Rule = object.__new__(_Rule)
    _set_name(rule, name)
    _set_query(rule, query)
    _set_sources(rule, sources)
    _set_tags(rule, tags)
    return rule


@dataclass(frozen=True, slots=True)
class _TopicScope:
    """Where a topic rule may alert, and whether its query must match too."""

    name: str
    sources: frozenset[str]
    tags: frozenset[str]
    with_query: bool

    def allows(self, story: Story) -> bool:
        return _allows(self.sources, self.tags, story)


class _Plans(list[Plan | None]):
    """Each rule's evaluation plan, made the first time the rule is a candidate, and the
    table of what the plans name by place (``table``). A plan's memo keys are ids of this
    process's query objects: pickled (the compiled-rule cache), the list is left empty, to
    be made again where it is loaded."""

    __slots__ = ("_lock", "table")

    def __init__(self, plans: Iterable[Plan | None], table: PlanTable | None = None) -> None:
        super().__init__(plans)
        #: what the plans name, by place (appended to as plans are made)
        self.table = PlanTable(table)
        self._lock = threading.Lock()

    def made(self, r: int, root: Node) -> Plan:
        """The plan of rule ``r``, whose query is ``root``, made now: one at a time, so that
        the places a plan names in ``table`` are those of its own steps and objects."""
        with self._lock:
            plan = self[r]
            if plan is None:
                plan = self[r] = self.table.plan(root)
            return plan

    def made_all(self, order: list[int], rules: Sequence[_Rule]) -> None:
        """The plans of the rules ``order`` (by number in ``rules``) that have none, made now
        under one lock: a cold story's candidates are most of them new (~30 plans a story),
        and ``made`` one at a time cost a sixth of each plan in its call and lock."""
        with self._lock:
            plan = self.table.plan
            for r in order:
                if self[r] is None:
                    self[r] = plan(rules[r].query.root)

    def copied(self) -> _Plans:
        """A copy, for a matcher patched from this one: while no plan is being made, so that
        the table's places are consistent, and apart, so that each matcher's plans are made
        one at a time without waiting for the other's."""
        with self._lock:
            return _Plans(self, self.table)

    def __reduce__(self) -> tuple[object, tuple[list[None]]]:
        return _Plans, ([None] * len(self),)


#: where one requirement set is filed (see ``_Index._slots``)
_Slots = tuple[list[list[int]], list[list[int]] | None, frozenset[Feature], tuple[tuple[Feature, ...], ...]]


class _Index:
    """Requirement sets filed under their two rarest atoms, for one lemmatiser language.

    ``pairs`` files each set under a first and a second feature; a set of one atom has
    ``ALWAYS`` (a feature of every story) as its second. A set of one or two atoms is filed
    as its rule, which is a candidate as soon as both features are in the story; a larger
    set is filed in ``more`` under the two features, by its number, and the rest of it is
    looked up when both are there. Set intersections with dictionary key views run in C and
    iterate the smaller side, and most sets reach their rule in C too (``set.update``),
    which keeps the per-story cost independent of the rule count.
    """

    __slots__ = ("more", "multis", "pairs", "rule_of", "singles", "words")

    def __init__(self, rules: Sequence[_Rule], lang: str, use_pairs: bool, units: set[Unit],
                 pairs: dict[str, set[str]] | None = None) -> None:
        """The index of ``rules`` for language ``lang``, ``units`` the words of their terms;
        ``pairs`` (when given) gets the second words of the word pairs of their sets by their
        first words."""
        self.pairs: dict[Feature, dict[Feature, list[int]]] = {}
        self.more: dict[tuple[Feature, Feature], list[int]] = {}
        #: of each set in ``more``: its rule, its other atoms of one feature, its other atoms
        #: of several alternative features
        self.rule_of: list[int] = []
        self.singles: list[frozenset[Feature]] = []
        self.multis: list[tuple[tuple[Feature, ...], ...]] = []
        #: every word feature (key or fold) the filter or the evaluation of any rule may
        #: look up in a story: the others need not be collected
        self.words = frozenset(_lookups(units, lang))
        table = frequency.rates(lang)
        # of each atom, by its id (a large rule set repeats its words, and shares its atoms:
        # see ``needs._atom_of``; an id is hashed at once, an atom's tuple every time): its
        # place in the order of rarity (``_rarity``) with its alternative features, and
        # what ``_tested`` asks of it (the words of a pair; the text of a fold anywhere)
        known: dict[int, _Ranked] = {}
        # where each requirement set is filed, by the set's id: queries share their sets'
        # tuples (see ``parser._need_tuple``), and a large rule set repeats them. A set is
        # ranked and its lists found once (``_slots``); each rule of it is then appended to
        # them (the lists made, and in the same order, as filing each rule's set on its own)
        filed: dict[int, _Slots] = {}
        slots = self._slots
        rule_of, singles, multis = self.rule_of, self.singles, self.multis
        for r, rule in enumerate(rules):
            for need in rule.query.needs:
                found = filed.get(id(need))
                if found is None:
                    found = filed[id(need)] = slots(_ranked_need(need, use_pairs, known, lang, table))
                lists, more, single, multi = found
                if more is None:
                    for listed in lists:
                        listed.append(r)
                    continue
                c = len(rule_of)
                rule_of.append(r)
                singles.append(single)
                multis.append(multi)
                for listed in more:
                    listed.append(c)
        if pairs is not None:
            for entry in known.values():
                if entry[2]:
                    first, second = entry[2]
                    pairs.setdefault(first, set()).add(second)

    def _slots(self, alts: list[tuple[Feature, ...]]) -> _Slots:
        """Where a set whose atoms have the alternative features ``alts`` (rarest first) is
        filed, the lists made now: a set of one or two atoms, the lists of ``pairs`` its
        rule is appended to (and None); a larger set, the lists of ``more`` its number is
        appended to (its rule in ``rule_of``), after the set's ``singles`` and ``multis``
        entries (returned last), and the keys of ``pairs`` that lead there."""
        pairs = self.pairs
        seconds = alts[1] if len(alts) > 1 else (ALWAYS,)
        lists: list[list[int]] = []
        if len(alts) <= 2:
            for first in alts[0]:
                second = pairs.get(first)
                if second is None:
                    second = pairs[first] = {}
                for feature in seconds:
                    rules = second.get(feature)
                    if rules is None:
                        rules = second[feature] = []
                    lists.append(rules)
            return lists, None, _EMPTY, ()
        for first in alts[0]:
            second = pairs.setdefault(first, {})
            for feature in seconds:
                second.setdefault(feature, [])
                lists.append(self.more.setdefault((first, feature), []))
        single = frozenset(a[0] for a in alts[2:] if len(a) == 1) or _EMPTY
        return [], lists, single, tuple(a for a in alts[2:] if len(a) > 1)

    def _ranked(self, need: tuple[Atom, ...], lang: str, use_pairs: bool) -> list[tuple[Feature, ...]]:
        """The alternative features of the atoms of ``need`` the filter tests, rarest first
        (as the build ranks them)."""
        table = frequency.rates(lang)
        tested = _tested(need, use_pairs)
        tested.sort(key=lambda atom: _rarity(atom, _rate(atom, lang, table)))
        return [_alternatives(atom, lang) for atom in tested]

    def patched(self, changed: dict[int, tuple[_Rule, _Rule]], lang: str, use_pairs: bool,
                units: set[Unit]) -> _Index:
        """A copy of this index with the sets of the rules ``changed`` (position: old rule,
        new rule) filed anew, ``units`` the words of the new rules. This index is left as it
        is (it may be matching still): the copy shares every dictionary and list that it
        does not change. Filing a rule's sets takes what a full build took, so this costs
        the changed rules, not the rule set; the lists the old rules leave empty stay (they
        reach no rule), and ``words`` keeps the old rules' words (features no rule looks up
        reach no rule either): the candidates of any story are those of a full build."""
        new = _Index.__new__(_Index)
        new.pairs = dict(self.pairs)
        new.more = dict(self.more)
        new.rule_of = list(self.rule_of)
        new.singles = list(self.singles)
        new.multis = list(self.multis)
        new.words = self.words | _lookups(units, lang)
        own: set[int] = set()  # ids of the dictionaries and lists the copy has of its own
        for r, (old, _) in changed.items():
            for need in old.query.needs:
                alts = self._ranked(need, lang, use_pairs)
                seconds = alts[1] if len(alts) > 1 else (ALWAYS,)
                for first in alts[0]:
                    second = new._own_second(first, own)
                    for feature in seconds:
                        if len(alts) <= 2:
                            second[feature] = [x for x in second[feature] if x != r]
                        else:
                            key = (first, feature)
                            new.more[key] = [c for c in new.more[key] if new.rule_of[c] != r]
        for r, (_, rule) in changed.items():
            for need in rule.query.needs:
                new._file_own(r, self._ranked(need, lang, use_pairs), own)
        return new

    def _own_second(self, first: Feature, own: set[int]) -> dict[Feature, list[int]]:
        second = self.pairs.get(first)
        if second is None or id(second) not in own:
            second = self.pairs[first] = dict(second or {})
            own.add(id(second))
        return second

    def _file_own(self, r: int, alts: list[tuple[Feature, ...]], own: set[int]) -> None:
        """Files the set of rule ``r`` whose atoms have the alternative features ``alts``
        (rarest first) in a patched copy, as the build files it (``_slots``): the
        dictionaries and lists it changes are copied first (the index it was copied from
        shares them)."""
        seconds = alts[1] if len(alts) > 1 else (ALWAYS,)
        c = None
        if len(alts) > 2:
            c = len(self.rule_of)
            self.rule_of.append(r)
            self.singles.append(frozenset(a[0] for a in alts[2:] if len(a) == 1) or _EMPTY)
            self.multis.append(tuple(a for a in alts[2:] if len(a) > 1))
        for first in alts[0]:
            second = self._own_second(first, own)
            for feature in seconds:
                rules = second.get(feature, [])
                if c is None:
                    second[feature] = [*rules, r]
                    continue
                second[feature] = rules
                key = (first, feature)
                self.more[key] = [*self.more.get(key, ()), c]

    def candidates(self, feats: set[Feature]) -> set[int]:
        """Rules whose every atom of at least one requirement set is among ``feats``
        (which must hold ``ALWAYS``)."""
        out: set[int] = set()
        pairs, more = self.pairs, self.more
        rule_of, singles, multis = self.rule_of, self.singles, self.multis
        for first in pairs.keys() & feats:
            second = pairs[first]
            for feature in second.keys() & feats:
                out.update(second[feature])
                for c in more.get((first, feature), ()):
                    if not singles[c] <= feats:
                        continue
                    m = multis[c]
                    if m and any(feats.isdisjoint(alt) for alt in m):
                        continue
                    out.add(rule_of[c])
        return out


def _distinct_alts(roots: Iterable[Node]) -> Iterable[tuple[tuple[Unit, ...], ...]]:
    """The alternatives of every term under ``roots``, each object once (terms of the same
    words share theirs: see ``parser._alts``)."""
    seen: dict[int, tuple[tuple[Unit, ...], ...]] = {}
    stack = list(roots)
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()
        kind = type(node)
        if kind is Term:
            seen[id(node.alts)] = node.alts  # type: ignore[union-attr]
        elif kind is And or kind is Or:
            extend(node.children)  # type: ignore[union-attr]
        elif kind is Not:
            push(node.child)  # type: ignore[union-attr]
        elif kind is Near:
            push(node.left)  # type: ignore[union-attr]
            push(node.right)  # type: ignore[union-attr]
    return seen.values()


def _pair_words(atoms: Iterable[Atom]) -> dict[str, frozenset[str]]:
    """The second words of the PAIR ``atoms`` by their first words."""
    found: dict[str, set[str]] = {}
    for atom in atoms:
        first, second = pair_of(atom)
        found.setdefault(first, set()).add(second)
    return {first: frozenset(seconds) for first, seconds in found.items()}


def _pair_seconds(pairs: dict[str, frozenset[str]], units: set[Unit]) -> dict[str, frozenset[str]] | None:
    """``pairs`` (second words by first words) when every second word is a fold the filter
    looks up (see ``_useful_starters``; the folds of quoted and exact-case words, of which
    pairs are made, always are), else None."""
    exact, case = Mode.EXACT, Mode.CASE
    folds = {u.text for u in units if u.mode == exact}
    folds.update(fold(u.text) for u in units if u.mode == case)
    if any(not seconds <= folds for seconds in pairs.values()):
        return None
    return pairs


def _useful_starters(starters: set[str], infos: dict[str, ChunkInfo], seconds: dict[str, frozenset[str]],
                     feats: set[Feature]) -> set[str]:
    """The chunks of ``starters`` whose pairs may be a rule's: those with pairs inside, and
    those ending in a word with a second word that ``feats``, the story's features, holds.
    A pair of the other chunks' last words and the words after them is no rule's pair
    (the second word of a rule's pair is a fold some rule looks up, so a story that has it
    has it among its features): the filter lets the same rules through without it."""
    out = set()
    for chunk in starters:
        info = infos[chunk]
        if info[INNER]:
            out.add(chunk)
            continue
        for tail in info[TAILS]:
            found = seconds.get(tail)
            if found is not None and not found.isdisjoint(feats):
                out.add(chunk)
                break
    return out


def _tested(need: tuple[Atom, ...], use_pairs: bool) -> list[Atom]:
    """The atoms of ``need`` the filter tests. Without pair features, a phrase's pairs are
    dropped and its words stay (a looser condition, still a necessary one); with them, the
    words of its pairs are dropped: a story has two words side by side only where it has
    both, so they would only be looked up again (and, filed second under their pair, would
    let through the sets of every rule that has the phrase)."""
    if not use_pairs:
        return [atom for atom in need if atom.kind != PAIR_ATOM]
    words = {word for atom in need if atom.kind == PAIR_ATOM for word in pair_of(atom)}
    return [atom for atom in need if not (atom.kind == FOLD_ATOM and atom.field is None and atom.text in words)]


#: an atom's rarity (``_rarity``), its alternative features (``_alternatives``), the words of
#: its pair (a pair atom; else empty), and its text when it is a fold anywhere (else None)
_Ranked = tuple[tuple[float, int, str, str, str], tuple[Feature, ...], tuple[str, ...], str | None]


def _ranked_atom(atom: Atom, lang: str, table: Rates) -> _Ranked:
    """What the index build needs of ``atom`` (see ``_Ranked``)."""
    kind = atom.kind
    return (_rarity(atom, _rate(atom, lang, table)), _alternatives(atom, lang),
            pair_of(atom) if kind == PAIR_ATOM else (),
            atom.text if kind == FOLD_ATOM and atom.field is None else None)


def _ranked_need(need: tuple[Atom, ...], use_pairs: bool, known: dict[int, _Ranked], lang: str,
                 table: Rates) -> list[tuple[Feature, ...]]:
    """The alternative features of the atoms of ``need`` the filter tests, rarest first, as
    ``_Index._ranked`` finds them (``_tested``, on what ``known`` holds of each atom, by its
    id; tests/rules/test_patched.py compares an index patched through ``_ranked`` with one
    built through this)."""
    ranked = []
    for atom in need:
        entry = known.get(id(atom))
        if entry is None:
            entry = known[id(atom)] = _ranked_atom(atom, lang, table)
        ranked.append(entry)
    if use_pairs:
        words = [word for entry in ranked if entry[2] for word in entry[2]]
        if words:
            ranked = [entry for entry in ranked if entry[3] not in words]
    else:
        ranked = [entry for entry in ranked if not entry[2]]
    if len(ranked) > 1:
        ranked.sort()  # by rarity: no two atoms have the same
    return [entry[1] for entry in ranked]


def _lookups(units: set[Unit], lang: str) -> set[str]:
    """The features the evaluation looks up for ``units`` (see ``evaluate._unit_spans``):
    a wildcard's words are found through the story's notes instead."""
    out: set[str] = set()
    for u in units:
        if u.mode == Mode.LEMMA:
            out.update(word_keys(u.text, lang))
        elif u.mode == Mode.EXACT:
            out.add(u.text)
        elif u.mode == Mode.CASE:
            out.add(fold(u.text))
    return out


#: the share of a story's words in its title (a ~5 KB story has ~850 words, its title ~12):
#: a word required in the title (or the source's name, or the URL) is that much rarer there
_FIELD_SHARE = 0.02
#: the share of the rarer word's occurrences taken to be in one phrase of it
_PAIR_SHARE = 0.1
#: every story of a language has the language: it is no filter at all
_LANG_RATE = 1.0


def _rate(atom: Atom, lang: str, table: Rates) -> float:
    """How often a story's words satisfy ``atom``, per word of text (``frequency``): a word
    with any of its lemma keys, a fold, a word starting with a prefix; a phrase's word pair
    less often than its rarer word, a word of the title less often than one anywhere."""
    kind = atom.kind
    if kind == LANG_ATOM:
        return _LANG_RATE
    if kind == PREFIX_ATOM:
        return prefix_rate(atom.text, table)
    if kind == PAIR_ATOM:
        first, second = pair_of(atom)
        return min(word_rate(first, table), word_rate(second, table)) * _PAIR_SHARE
    if kind == LEMMA_ATOM:
        rate = sum(word_rate(k, table) for k in word_keys(atom.text, lang))
    else:
        rate = word_rate(atom.text, table)
    return rate if atom.field is None else rate * _FIELD_SHARE


def _rarity(atom: Atom, rate: float) -> tuple[float, int, str, str, str]:
    """Sort key of ``atom`` whose rate is ``rate``: the rarest first; among equally rare ones
    (words absent from the frequency list), the longest; then an order that is the same in
    every run."""
    field = FIELD_NAMES[atom.field] if atom.field is not None else ""
    return (rate, -len(atom.text), atom.kind, field, atom.text)


def _alternatives(atom: Atom, lang: str) -> tuple[Feature, ...]:
    """The features of which a story must have one to satisfy ``atom``."""
    kind, text, field = atom
    if kind == PREFIX_ATOM:
        return (PREFIX_TAG + text,)
    if kind == LANG_ATOM:
        return (LANG_TAG + text,)
    if kind == PAIR_ATOM:
        return (pair_of(atom),)
    tag = FIELD_TAGS[field] if field is not None else ""
    if kind == LEMMA_ATOM:
        return tuple(tag + k for k in word_keys(text, lang))
    return (tag + text,)


class Matcher:
    """All rules compiled together; :meth:`match` returns the rules a story matches."""

    #: where a language's index built before for these rules is looked up before it is built
    #: (see :meth:`find_indexes_with`); None: every index is built here
    _stored_index: Callable[[str], object] | None = None

    def __init__(self, rules: Sequence[_Rule], topics: TopicIndex | None = None,
                 scopes: Sequence[_TopicScope] = (), order: Sequence[str] = ()) -> None:
        self._rules = tuple(rules)
        #: the topic rules (None: there are none), and where each may alert
        self.topics = topics if topics is not None and topics.rules else None
        self._scopes = tuple(scopes)
        #: rules whose keyword match waits for their topic score
        self._combined = frozenset(scope.name for scope in scopes if scope.with_query)
        #: whether every topic rule needs its query too (no keyword match: no embedding)
        self._all_combined = all(scope.with_query for scope in scopes)
        #: every rule's position in the rule set (matches are returned in that order)
        self._order = {name: i for i, name in enumerate(order or [rule.name for rule in rules])}
        #: whether some rule is limited by ``sources``/``tags`` (else every rule accepts every story)
        self.limited = any(rule.sources or rule.tags for rule in rules) or any(
            scope.sources or scope.tags for scope in scopes)
        self._indexes: dict[str, _Index] = {}
        #: the rules changed by patches since this matcher's index was built in full
        self._patches = 0
        self._plans = _Plans([None] * len(self._rules))
        #: the words of every term of every rule, positive or not
        self._units: set[Unit] = set()
        for alts in _distinct_alts(rule.query.root for rule in rules):
            for alt in alts:
                self._units.update(alt)
        #: every wildcard (the story's words under each are found once per chunk)
        self._prefixes = frozenset(u.text for u in self._units if u.mode == Mode.PREFIX)
        #: per lemmatiser language, what the filter needs of each chunk seen (see ``ChunkNotes``)
        self._notes: dict[str, ChunkNotes] = {}
        self._use_pairs = len(self._rules) >= _PAIRS_FROM
        # the rules' word pairs are found by the build, which sees every atom
        found: dict[str, set[str]] = {}
        self._indexes["en"] = _Index(self._rules, "en", self._use_pairs, self._units, found)
        pairs = {first: frozenset(seconds) for first, seconds in found.items()} if self._use_pairs else {}
        self._pair_firsts = frozenset(pairs)
        #: the second words of the pairs of each first word (see ``_useful_starters``)
        self._pair_seconds = _pair_seconds(pairs, self._units)

    @classmethod
    def compile(
        cls, rules: Sequence[RuleSpec], parsed: dict[str, Query] | None = None, previous: Matcher | None = None
    ) -> Matcher:
        """Parse, validate and index ``rules``; a query whose text is in ``parsed`` (what
        :func:`parse_query` returned for it, e.g. when the configuration was checked) is
        not parsed again. When ``previous`` (the matcher of the rules before, e.g. on a
        reload) differs from ``rules`` in a few rules at the same places, its index is
        copied with those rules filed anew (see ``_patched``): the new matcher answers as
        one compiled from nothing, and ``previous`` keeps answering as before.

        Raises :class:`~monitor.errors.QueryError` for the first invalid rule, its message
        prefixed with ``rule "NAME": `` and its column kept.
        """
        # a large rule set allocates millions of small objects and none of them is garbage
        # yet: cyclic collections during the build would more than double its time
        enabled = gc.isenabled()
        large = enabled and len(rules) >= _FREEZE_FROM
        if large:
            gc.collect()  # what is garbage now is not frozen with the matcher (below)
        gc.disable()
        try:
            compiled: list[_Rule] = []
            topic_rules: list[TopicRule] = []
            scopes: list[_TopicScope] = []
            for spec in rules:
                sources = frozenset(s.casefold() for s in spec.sources) if spec.sources else _NO_NAMES
                tags = frozenset(t.casefold() for t in spec.tags) if spec.tags else _NO_NAMES
                if spec.about:
                    threshold = DEFAULT_THRESHOLD if spec.threshold is None else spec.threshold
                    topic_rules.append(TopicRule(spec.name, spec.about, threshold))
                    scopes.append(_TopicScope(spec.name, sources, tags, bool(spec.query)))
                if not spec.query and spec.about:
                    continue
                try:
                    query = parsed.get(spec.query) if parsed else None
                    query = query or parse_query(spec.query)
                except QueryError as exc:
                    raise QueryError(f'rule "{spec.name}": {exc.message}', exc.column) from None
                compiled.append(_new_rule(spec.name, query, sources, tags))
            # embedding the descriptions loads the model (TopicModelError without the extra)
            topics = TopicIndex.build(topic_rules) if topic_rules else None
            order = [spec.name for spec in rules]
            patched = previous._patched(compiled) if previous is not None and topics is None else None
            matcher = patched or cls(compiled, topics, scopes, order)
        finally:
            if enabled:
                gc.enable()
        if large:
            # built with the collector off, every new object is still in the youngest
            # generation: left alone, the first stories would pay for walking all of them
            # through each generation (three passes over millions of objects). Frozen
            # (``gc.freeze``), they are never walked (freed as usual when unused: the matcher
            # holds no reference cycle); a full collection instead took 0.5 s at 100 000
            # rules, the collection before the build only the young objects of the caller
            gc.freeze()
        return matcher

    def _patched(self, rules: list[_Rule]) -> Matcher | None:
        """This matcher with its rules replaced by ``rules``, built from this one's index when
        they are as many and differ in at most ``_PATCH_AT_MOST`` (and, since the last full
        build, in fewer than a twentieth); None when they do not (or topic rules are
        involved): compile in full then. The rules that did not change are kept as they are."""
        if self.topics is not None or self._scopes or len(rules) != len(self._rules) or "en" not in self._indexes:
            return None
        changed: dict[int, tuple[_Rule, _Rule]] = {}
        for r, (old, new) in enumerate(zip(self._rules, rules, strict=True)):
            if (old.name != new.name or old.query.text != new.query.text or old.sources != new.sources
                    or old.tags != new.tags):
                changed[r] = (old, new)
                if len(changed) > _PATCH_AT_MOST:
                    return None
            else:
                rules[r] = old
        patches = self._patches + len(changed)
        if patches * 20 > len(rules):
            return None
        matcher = Matcher.__new__(Matcher)
        matcher.__dict__.update(self.__getstate__())  # not the stored indexes: they are of other rules
        matcher._rules = tuple(rules)
        matcher._order = {rule.name: i for i, rule in enumerate(rules)}
        matcher.limited = any(rule.sources or rule.tags for rule in rules)
        units: set[Unit] = set()
        for alts in _distinct_alts(new.query.root for _, new in changed.values()):
            for alt in alts:
                units.update(alt)
        # a superset of the words and wildcards of the rules: see ``_Index.patched``
        matcher._units = self._units | units
        matcher._prefixes = self._prefixes | {u.text for u in units if u.mode == Mode.PREFIX}
        if self._use_pairs:
            self._patch_pairs(matcher, [new for _, new in changed.values()], units)
        matcher._notes = {}
        matcher._indexes = {"en": self._indexes["en"].patched(changed, "en", self._use_pairs, units)}
        matcher._patches = patches
        # the plans of the rules kept stay good (their query objects are the same); a changed
        # rule's plan is made again from its new query
        plans = matcher._plans = self._plans.copied()
        for r in changed:
            plans[r] = None
        return matcher

    def _patch_pairs(self, matcher: Matcher, added_rules: list[_Rule], units: set[Unit]) -> None:
        """Gives ``matcher``, patched from this one, the word pairs of ``added_rules`` (whose
        words are ``units``) too; the old rules' pairs stay (a superset is harmless: see
        ``_Index.patched``)."""
        added = _pair_words(atom for rule in added_rules for need in rule.query.needs for atom in need
                            if atom.kind == PAIR_ATOM)
        matcher._pair_firsts = self._pair_firsts | frozenset(added)
        seconds = self._pair_seconds
        if seconds is not None and _pair_seconds(added, units) is not None:
            matcher._pair_seconds = {**seconds, **{first: seconds.get(first, _NO_NAMES) | found
                                                   for first, found in added.items()}}
        else:
            matcher._pair_seconds = None

    def __len__(self) -> int:
        return len(self._order)

    def _index(self, lang: str) -> _Index:
        index = self._indexes.get(lang)
        if index is None:
            stored = self._stored_index(lang) if self._stored_index is not None else None
            index = stored if isinstance(stored, _Index) else _Index(self._rules, lang, self._use_pairs, self._units)
            self._indexes[lang] = index
        return index

    def built_indexes(self) -> dict[str, object]:
        """The index of each lemmatiser language other than English this matcher has (built
        or found) so far, by language code: opaque values that pickle, for a cache to keep
        and give back (:meth:`find_indexes_with`) to a matcher of the same rules compiled in
        the same way (the same code; see ``monitor.daemon.rulecache``). English's index is
        part of the matcher itself."""
        return {lang: index for lang, index in self._indexes.items() if lang != "en"}

    def find_indexes_with(self, stored: Callable[[str], object] | None) -> None:
        """Before building a language's index, take ``stored(lang)`` instead when it is an
        index (what :meth:`built_indexes` gave for the same rules and code; anything else, e.g.
        None, is ignored). Building one takes seconds at 100 000 rules, reading it back a
        tenth of that. The function is not pickled with the matcher, nor kept by a patched
        one (:meth:`compile` with ``previous``: its rules differ)."""
        self._stored_index = stored

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("_stored_index", None)
        return state

    def _notes_of(self, cache: LangCache) -> ChunkNotes:
        """The notes of ``cache``'s language, renewed when that cache was (their chunks must
        be in it) or when they grow too many."""
        notes = self._notes.get(cache.lang)
        if notes is None or notes.cache is not cache or len(notes.notes) > _MAX_CHUNK_NOTES:
            notes = self._notes[cache.lang] = ChunkNotes(cache, self._pair_firsts, self._prefixes,
                                                         self._index(cache.lang).words)
        return notes

    def _features(self, doc: StoryDoc) -> set[Feature]:
        """What the candidate filter looks up for ``doc`` (made with this matcher's notes):
        its word keys and folds and the wildcard prefixes its words start with, ``ALWAYS``,
        the words of the small fields under their field's tag, and the word pairs that start
        with the first word of a rule's pair. ``doc`` is told the words under the prefixes,
        for the evaluation."""
        out = doc.feats
        out.add(ALWAYS)
        for field, tag in FIELD_TAGS.items():
            out.update(tag + f for f in doc.field_feats[field])
        if self._pair_firsts:
            seconds = self._pair_seconds
            for fd in doc.fields:
                starters = doc.starters(fd)
                if starters and seconds is not None:
                    starters = _useful_starters(starters, fd.cache.chunks, seconds, out)
                if starters:
                    out.update(fd.pairs(starters))
        if self._prefixes:
            doc.note_prefixes(self._prefixes)
        return out

    def _doc(self, story: Story) -> StoryDoc:
        return StoryDoc(story, self._notes_of)

    def accepting(self, story: Story) -> frozenset[str]:
        """The names of the rules whose ``sources``/``tags`` let ``story``'s source (its name,
        outlet and tags) alert; the query is not looked at."""
        return frozenset(rule.name for rule in self._rules if rule.allows(story)) | frozenset(
            scope.name for scope in self._scopes if scope.allows(story))

    def candidates(self, story: Story) -> list[int]:
        """Indices of the rules that pass the candidate filter for ``story`` (for tests and benchmarks)."""
        return sorted(self._candidates(self._doc(story)))

    def _candidates(self, doc: StoryDoc) -> set[int]:
        return self._index(doc.lang).candidates(self._features(doc))

    def match(self, story: Story) -> list[Match]:
        """The rules ``story`` matches, in the order the rules were given.

        Each :class:`~monitor.models.Match` carries the hits (matched terms with field, word
        position and character offsets) and one or two snippets. Pure: no I/O; never raises
        on any story content. Searches the first :data:`~monitor.models.STORY_TEXT_LIMIT`
        characters of the text, :data:`~monitor.models.STORY_TITLE_LIMIT` of the title and
        :data:`~monitor.models.STORY_URL_LIMIT` of the URL: words past them never match, so
        one story costs bounded time and memory whatever its size.
        """
        # matching a story allocates thousands of short-lived containers (occurrences, hits,
        # snippets, matches), none of them in a reference cycle: the cyclic collections they
        # would set off free nothing, yet walk every young object, and now and then every
        # object of the process (measured: 1 000 rules matching ~440 times a story, 80 -> 125
        # stories/s); refcounting frees them all the same
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._match(story)
        finally:
            if enabled:
                gc.enable()

    def _match(self, story: Story) -> list[Match]:
        found = self._keyword_matches(story) if self._rules else []
        if self.topics is None:
            return found
        held = {m.rule: m for m in found if m.rule in self._combined}
        out = [m for m in found if m.rule not in self._combined]
        topical = self._topic_matches(story, held)
        if not topical:
            return out
        order = self._order
        return sorted(out + topical, key=lambda m: order[m.rule])

    def _topic_matches(self, story: Story, held: dict[str, Match]) -> list[Match]:
        """The topic rules ``story`` matches; ``held`` are the keyword matches of the rules
        that need both. The story is not embedded when every topic rule needs its query too
        and none matched; otherwise once, and only the rules over their threshold are looked
        at one by one (a Python loop over 10 000 rules would cost more than the product)."""
        topics = self.topics
        assert topics is not None
        if self._all_combined and not held:
            return []
        scores = topics.scores(topics.story_vector(story.title, story.text))
        out: list[Match] = []
        evidence = None
        limited, scopes = self.limited, self._scopes
        for r in np.flatnonzero(scores >= topics.thresholds).tolist():
            scope = scopes[r]
            if (limited and not scope.allows(story)) or (scope.with_query and scope.name not in held):
                continue
            evidence = evidence or topics.explain(story.title, story.text)
            score, snippet = topics.score(r, float(scores[r]), evidence)
            keyword = held.get(scope.name)
            if keyword is None:
                out.append(Match(scope.name, (), (snippet,), score))
            else:
                out.append(Match(scope.name, keyword.hits, (snippet, *keyword.snippets[:1]), score))
        return out

    def topic_scores(self, story: Story) -> list[tuple[str, TopicScore]]:
        """Every topic rule's score for ``story`` whatever its threshold, in rule order (to
        explain a match or its absence; the keyword part and ``sources`` are not looked at)."""
        topics = self.topics
        if topics is None:
            return []
        scores = topics.scores(topics.story_vector(story.title, story.text))
        evidence = topics.explain(story.title, story.text)
        return [(rule.name, topics.score(r, float(scores[r]), evidence)[0]) for r, rule in enumerate(topics.rules)]

    def _keyword_matches(self, story: Story) -> list[Match]:
        doc = self._doc(story)
        candidates = self._candidates(doc)
        if not candidates:
            return []
        rules, limited, plans = self._rules, self.limited, self._plans
        evaluation = Evaluation(doc, plans.table)
        # the plan of each match, which keys it: its evidence is built with the others' when
        # one's is first read (see ``StoryReports``)
        matched: list[Plan] = []
        reports = StoryReports(evaluation, matched)
        later = Match.later
        out: list[Match] = []
        holds = evaluation.holds
        order = sorted(candidates)
        for r in order:
            rule = rules[r]
            if limited and not rule.allows(story):
                continue
            plan = plans[r]
            if plan is None:
                # the first candidate without a plan: those of every candidate are made now
                # (a rule that ``sources``/``tags`` keep out of this story gets its plan
                # early, the plan it would get when it is first let in)
                plans.made_all(order, rules)
                plan = plans[r]
                assert plan is not None
            if holds(plan):
                out.append(later(rule.name, reports, plan))
                # (``list.append`` looked up here, not bound once: the interpreter's own
                # path for it costs less than a call of a bound method)
                matched.append(plan)
        return out
