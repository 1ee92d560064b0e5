"""The parsed form of a watch-rule query.

A query is a tree of :class:`Term` leaves (a word or phrase, possibly limited to a field)
and :class:`Lang` leaves under :class:`And`, :class:`Or`, :class:`Not` and :class:`Near`.
Every node keeps the 1-based column where it starts, for error messages.

Each class pickles as a call with its fields (``__reduce__``): a compiled rule set is kept
on disk (``monitor.daemon.rulecache``) and these nodes are most of it; the dataclasses'
own pickling of slotted classes writes each field's name and sets it back one at a time,
which made the file a third larger and reading it back half as slow again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum
from functools import lru_cache

from monitor.rules.encoding import Atom


class Mode(IntEnum):
    """How one query word is compared with one story word."""

    LEMMA = 0  # unquoted word: any inflection or UK/US spelling (key sets intersect)
    EXACT = 1  # quoted word: same fold (case- and accent-insensitive)
    PREFIX = 2  # word*: the story word's fold starts with it
    CASE = 3  # =WORD: same surface, case included


@dataclass(frozen=True, slots=True)
class Unit:
    """One word of a term. ``text`` is the lower-case word (LEMMA), the fold (EXACT, PREFIX)
    or the surface as written (CASE)."""

    mode: Mode
    text: str

    def __reduce__(self) -> tuple[object, tuple[Mode, str]]:
        return unit, (self.mode, self.text)


assert tuple(f.name for f in fields(Unit)) == ("mode", "text"), "Unit changed: update unit()"
_set_mode, _set_text = (getattr(Unit, name).__set__ for name in ("mode", "text"))


@lru_cache(maxsize=100_000)
def unit(mode: Mode, text: str) -> Unit:
    """A shared :class:`Unit` (large rule sets repeat the same words), made as its
    ``__init__`` makes it, without the cost of ``object.__setattr__`` per field."""
    made: Unit = object.__new__(Unit)
    _set_mode(made, mode)
    _set_text(made, text)
    return made


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase. It matches where any alternative (a sequence of consecutive word
    positions) occurs; a hyphenated word has two: its parts, and its joined form."""

    alts: tuple[tuple[Unit, ...], ...]
    #: the name of the field the term is limited to (``encoding.FIELD_NAMES``); None means
    #: the default fields
    field: str | None
    label: str
    col: int

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return Term, (self.alts, self.field, self.label, self.col)


@dataclass(frozen=True, slots=True)
class Lang:
    """``lang:xx``: the story's language (primary subtag) is ``code``."""

    code: str
    col: int

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return Lang, (self.code, self.col)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]
    col: int

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return And, (self.children, self.col)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    col: int

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return Or, (self.children, self.col)


@dataclass(frozen=True, slots=True)
class Not:
    child: Node
    col: int

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return Not, (self.child, self.col)


@dataclass(frozen=True, slots=True)
class Near:
    """Both sides within ``distance`` words of each other, in either order; a side under
    :class:`Not` means "the other side with no such word within ``distance``"."""

    left: Node
    right: Node
    distance: int
    col: int

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return Near, (self.left, self.right, self.distance, self.col)


Node = Term | Lang | And | Or | Not | Near

@dataclass(frozen=True, slots=True)
class Query:
    """A parsed, validated query.

    ``needs`` lists alternative sets of atoms: the query can only match a story in which
    every atom of at least one set is present (a necessary, not sufficient, condition).
    Each set is a tuple of distinct atoms, in no particular order: a large rule set holds
    several per rule, and a tuple of three takes a third of a frozenset's memory.
    """

    text: str
    root: Node
    needs: tuple[tuple[Atom, ...], ...]

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return Query, (self.text, self.root, self.needs)


def walk_terms(node: Node, positive: bool = True) -> list[tuple[Term, bool]]:
    """Every term under ``node`` with whether it counts positively (not under an odd number of NOTs)."""
    out: list[tuple[Term, bool]] = []
    stack: list[tuple[Node, bool]] = [(node, positive)]
    while stack:
        n, pos = stack.pop()
        if isinstance(n, Term):
            out.append((n, pos))
        elif isinstance(n, And | Or):
            stack.extend((c, pos) for c in reversed(n.children))
        elif isinstance(n, Not):
            stack.append((n.child, not pos))
        elif isinstance(n, Near):
            stack.append((n.right, pos))
            stack.append((n.left, pos))
    return out
