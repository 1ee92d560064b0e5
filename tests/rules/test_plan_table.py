"""``PlanTable`` against a plain reference planner: the steps it makes, the places and memo
keys they name and the order of a plan's steps, on seeded random queries planned into one
table (so that queries share terms and conjuncts, as a rule set's do). The table writes
its common cases out (a cold pass makes thousands of plans); the reference makes each step
by the rules of ``PlanTable.plan``'s docstring, one helper a case."""

from __future__ import annotations

import gc
import random

from monitor.errors import QueryError
from monitor.rules import parse_query
from monitor.rules.ast import And, Near, Node, Not, Or, Term
from monitor.rules.evaluate import (
    _ANY,
    _NEAR,
    _NEAR_OR,
    _NO_TERM,
    _NODE,
    _NONE,
    _TERM,
    PlanTable,
    _single_lemma,
    _term_key,
    _terms_of,
)

from .test_parser_reference import generated


class _Reference:
    """Plans as ``PlanTable`` makes them, written plainly."""

    def __init__(self) -> None:
        self.entries: list[object] = []
        self.made: dict[int, int] = {}
        self.terms: dict[int, tuple[int, int]] = {}
        self.kept: list[Node] = []

    def place(self, entry: object) -> int:
        self.entries.append(entry)
        return len(self.entries) - 1

    def terms_step(self, how: int, node: Node | None, terms: tuple[Term, ...]) -> tuple[int, ...]:
        out = [how] if node is None else [how, self.place(node)]
        for t in terms:
            if id(t) not in self.terms:
                self.terms[id(t)] = (_term_key(t), self.place(t))
            out += self.terms[id(t)]
        return tuple(out)

    def step(self, c: Node) -> int:
        if type(c) is Term:
            return self.place(self.terms_step(_TERM, None, (c,)))
        if type(c) is Or and _terms_of(c) is not None:
            return self.place(self.terms_step(_ANY, None, _terms_of(c) or ()))
        if type(c) is Not and _terms_of(c.child) is not None:
            terms = _terms_of(c.child) or ()
            place = self.place(self.terms_step(_NO_TERM if len(terms) == 1 else _NONE, None, terms))
            return ~place if all(_single_lemma(t) for t in terms) else place
        if type(c) is Near and _terms_of(c.left) is not None and _terms_of(c.right) is not None:
            terms = (_terms_of(c.left) or ()) + (_terms_of(c.right) or ())
            return self.place(self.terms_step(_NEAR if len(terms) == 2 else _NEAR_OR, c, terms))
        return self.place((_NODE, self.place(c)))

    def plan(self, root: Node) -> tuple[int, ...]:
        firsts: list[int] = []
        others: list[int] = []
        for c in root.children if type(root) is And else (root,):
            if id(c) not in self.made:
                self.made[id(c)] = self.step(c)
                self.kept.append(c)
            place = self.made[id(c)]
            (others if place >= 0 else firsts).append(place if place >= 0 else ~place)
        return tuple(firsts + others)


def _roots(count: int, seed: int) -> list[Node]:
    roots = []
    # a NOT of an OR of terms (the generator's are rarely one), of lemmas or not
    fixed = ["city -(mayor OR town)", 'vote -(mayor OR "city hall") council', "-(=Town OR mayor) council"]
    for text in [*fixed, *generated(count, seed)]:
        try:
            roots.append(parse_query(text).root)
        except QueryError:
            continue
    rng = random.Random(seed)
    # some queries again (their plan is made from the steps already there)
    return roots + rng.sample(roots, len(roots) // 4)


def test_plans_are_the_reference_plans() -> None:
    roots = _roots(1500, seed=18)
    table, reference = PlanTable(), _Reference()
    for root in roots:
        assert table.plan(root) == reference.plan(root)
    assert len(table.entries) == len(reference.entries)
    for mine, theirs in zip(table.entries, reference.entries, strict=True):
        if type(theirs) is tuple:
            assert mine == theirs
        else:
            assert mine is theirs
    # every kind of step was made, and a copied table goes on as the original would
    assert {e[0] for e in table.entries if type(e) is tuple} == set(range(7))
    copy = PlanTable(table)
    more = _roots(200, seed=19)
    assert [copy.plan(r) for r in more] == [reference.plan(r) for r in more]


def test_a_plan_table_keeps_no_tuple_per_term() -> None:
    """A term's place and key are ints in dictionaries the collector does not track: a cold
    pass makes thousands of terms' entries, which it would otherwise walk."""
    table = PlanTable()
    for root in _roots(300, seed=20):
        table.plan(root)
    gc.collect()
    assert not gc.is_tracked(table._places) and not gc.is_tracked(table._keys)
    assert table._places and len(table._places) == len(table._keys)
