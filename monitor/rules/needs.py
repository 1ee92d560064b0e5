"""The candidate filter's requirements of a query: sets of atoms, one of which is fully
present in every story the query matches (a necessary, not sufficient, condition)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import chain, pairwise, product

from monitor.rules.ast import And, Lang, Mode, Node, Not, Or, Term, Unit
from monitor.rules.encoding import (
    FIELD_OF,
    FIELD_TAGS,
    FOLD_ATOM,
    LANG_ATOM,
    LEMMA_ATOM,
    PAIR_ATOM,
    PREFIX_ATOM,
    Atom,
    Field,
    pair_text,
)
from monitor.rules.text import fold

#: at most this many alternative requirement sets are derived from an AND of ORs
_MAX_NEEDS = 32
# members bound as module globals: reading ``Mode.X`` costs several times a global, and a
# large rule set makes hundreds of thousands of atoms
_LEMMA, _PREFIX = Mode.LEMMA, Mode.PREFIX
#: the units whose consecutive words are compared by their folds, so must occur as a pair
_FOLDED = (Mode.EXACT, Mode.CASE)
#: the field a term's field name requires its words in: only a field with features of its
#: own can be required of a story; a word of any other field (or none) is required anywhere
_REQUIRED_FIELD: dict[str | None, Field | None] = {
    name: field if field in FIELD_TAGS else None for name, field in FIELD_OF.items()}
#: an atom shared by every rule with that requirement, as ``ast.unit`` shares words: a large
#: rule set repeats its words, and an atom per rule would be a tuple per rule
_atom_of = lru_cache(maxsize=200_000)(Atom)


def _atom(u: Unit, field: Field | None) -> Atom:
    mode = u.mode
    if mode == _LEMMA:
        return _atom_of(LEMMA_ATOM, u.text, field)
    if mode == _PREFIX:
        return _atom_of(PREFIX_ATOM, u.text, None)
    return _atom_of(FOLD_ATOM, fold(u.text), field)


def _alt_atoms(alt: tuple[Unit, ...], field: str | None) -> frozenset[Atom]:
    required = _REQUIRED_FIELD.get(field)
    if len(alt) == 1:  # one word (most terms): no pair
        return frozenset((_atom(alt[0], required),))
    atoms = {_atom(u, required) for u in alt}
    # consecutive words compared by their folds (quoted, or exact case) must occur as a pair
    atoms.update(_atom_of(PAIR_ATOM, pair_text(fold(a.text), fold(b.text)), None) for a, b in pairwise(alt)
                 if a.mode in _FOLDED and b.mode in _FOLDED)
    return frozenset(atoms)


def term_needs(alts: tuple[tuple[Unit, ...], ...], field: str | None) -> tuple[frozenset[Atom], ...]:
    """The requirement sets of a term with alternatives ``alts`` limited to ``field``: one per
    alternative."""
    if len(alts) == 1:
        return (_alt_atoms(alts[0], field),)
    return tuple(_alt_atoms(alt, field) for alt in alts)


def lang_needs(code: str) -> tuple[frozenset[Atom], ...]:
    """The requirement sets of ``lang:code``."""
    return (frozenset({_atom_of(LANG_ATOM, code, None)}),)


Needs = Sequence[frozenset[Atom]]


def or_needs(subs: Sequence[Needs | None]) -> list[frozenset[Atom]] | None:
    """The requirement sets of an OR whose branches have ``subs`` (None: a branch needs no
    particular word, so neither does the OR): each set of each branch, once, in order."""
    if None in subs:
        return None
    # each set once, where it first occurs (dict keys keep their order)
    return list(dict.fromkeys(chain.from_iterable(subs)))  # type: ignore[arg-type]


def and_needs(subs: Sequence[Needs | None]) -> list[frozenset[Atom]] | None:
    """The requirement sets of an AND (or a NEAR) whose operands have ``subs``: one set of
    each operand that has any, united; at most ``_MAX_NEEDS`` sets (an operand that would
    make more is left out, which keeps the condition necessary, just looser)."""
    if len(subs) == 2:
        # two operands of one set each (the most common case): their union, as below
        first, second = subs
        if first is not None and second is not None and len(first) == 1 and len(second) == 1:
            return [frozenset().union(first[0], second[0])]
    present = sorted((s for s in subs if s is not None), key=len)
    if not present:
        return None
    if len(present[-1]) == 1:
        # one set each (the most common case): their union
        return [frozenset().union(*(sub[0] for sub in present))]
    acc: list[frozenset[Atom]] = [frozenset()]
    for sub in present:
        if len(acc) * len(sub) > _MAX_NEEDS:
            continue  # dropping a conjunct keeps the condition necessary, just looser
        acc = [a | b for a, b in product(acc, sub)]
    return acc


def needs_of(node: Node) -> list[frozenset[Atom]] | None:
    """Alternative atom sets, one of which is fully present whenever ``node`` matches;
    None when ``node`` can match a story without any particular word (e.g. ``NOT x``).
    (The parser combines the same sets as it builds the tree, with the functions above.)"""
    if isinstance(node, Term):
        return list(term_needs(node.alts, node.field))
    if isinstance(node, Lang):
        return list(lang_needs(node.code))
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        return or_needs([needs_of(child) for child in node.children])
    children = node.children if isinstance(node, And) else (node.left, node.right)
    return and_needs([needs_of(child) for child in children])
