"""The candidate filter's requirements of a query: sets of atoms, one of which is fully
present in every story the query matches (a necessary, not sufficient, condition)."""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise, product

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
    atoms = {_atom(u, required) for u in alt}
    # consecutive words compared by their folds (quoted, or exact case) must occur as a pair
    atoms.update(_atom_of(PAIR_ATOM, pair_text(fold(a.text), fold(b.text)), None) for a, b in pairwise(alt)
                 if a.mode in _FOLDED and b.mode in _FOLDED)
    return frozenset(atoms)


def needs_of(node: Node) -> list[frozenset[Atom]] | None:
    """Alternative atom sets, one of which is fully present whenever ``node`` matches;
    None when ``node`` can match a story without any particular word (e.g. ``NOT x``)."""
    if isinstance(node, Term):
        return [_alt_atoms(alt, node.field) for alt in node.alts]
    if isinstance(node, Lang):
        return [frozenset({_atom_of(LANG_ATOM, node.code, None)})]
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        out: list[frozenset[Atom]] = []
        for child in node.children:
            sub = needs_of(child)
            if sub is None:
                return None
            out.extend(s for s in sub if s not in out)
        return out
    children = node.children if isinstance(node, And) else (node.left, node.right)
    subs = sorted((s for s in map(needs_of, children) if s is not None), key=len)
    if not subs:
        return None
    acc: list[frozenset[Atom]] = [frozenset()]
    for sub in subs:
        if len(acc) * len(sub) > _MAX_NEEDS:
            continue  # dropping a conjunct keeps the condition necessary, just looser
        acc = [a | b for a, b in product(acc, sub)]
    return acc
