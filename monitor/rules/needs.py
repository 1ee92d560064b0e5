"""The candidate filter's requirements of a query: sets of atoms, one of which is fully
present in every story the query matches (a necessary, not sufficient, condition)."""

from __future__ import annotations

from itertools import pairwise, product

from monitor.rules.ast import And, Atom, Lang, Mode, Node, Not, Or, Term, Unit
from monitor.rules.text import fold

#: at most this many alternative requirement sets are derived from an AND of ORs
_MAX_NEEDS = 32
#: fields small enough to have features of their own in the candidate filter; a term of
#: another field (or none) requires its words anywhere in the story
TAGGED_FIELDS = ("title", "source", "url")


def _atom(u: Unit, field: str | None) -> Atom:
    tag = f":{field}" if field in TAGGED_FIELDS else ""
    if u.mode == Mode.LEMMA:
        return ("k" + tag, u.text)
    if u.mode == Mode.PREFIX:
        return ("p", u.text)
    return ("f" + tag, fold(u.text))


def _alt_atoms(alt: tuple[Unit, ...], field: str | None) -> frozenset[Atom]:
    atoms = {_atom(u, field) for u in alt}
    # consecutive words compared by their folds (quoted, or exact case) must occur as a pair
    atoms.update(("b", f"{fold(a.text)} {fold(b.text)}") for a, b in pairwise(alt)
                 if a.mode in (Mode.EXACT, Mode.CASE) and b.mode in (Mode.EXACT, Mode.CASE))
    return frozenset(atoms)


def needs_of(node: Node) -> list[frozenset[Atom]] | None:
    """Alternative atom sets, one of which is fully present whenever ``node`` matches;
    None when ``node`` can match a story without any particular word (e.g. ``NOT x``)."""
    if isinstance(node, Term):
        return [_alt_atoms(alt, node.field) for alt in node.alts]
    if isinstance(node, Lang):
        return [frozenset({("l", node.code)})]
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
