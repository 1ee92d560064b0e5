"""``PlanTable`` against a plain reference planner: the steps it makes, the places and memo
keys they name and the order of a plan's steps, on seeded random queries planned into one
table (so that queries share terms and conjuncts, as a rule set's do). The table writes
its common cases out (a cold pass makes thousands of plans); the reference makes each step
by the rules of ``PlanTable.plan``'s docstring, one helper a case: a new step's NEAR node
and terms placed right before it, in order (a term again each time a new step names it).

Every plan is also checked against the query walked as a tree (``Evaluation.truth``) on
seeded random stories, with terms shared by several conjuncts and rules."""

from __future__ import annotations

import gc
import random

from monitor.errors import QueryError
from monitor.models import Story
from monitor.rules import parse_query
from monitor.rules.ast import And, Near, Node, Not, Or, Term
from monitor.rules.document import StoryDoc
from monitor.rules.evaluate import (
    _ANY,
    _NEAR,
    _NEAR_OR,
    _NO_TERM,
    _NODE,
    _NONE,
    _TERM,
    Evaluation,
    PlanTable,
    _single_lemma,
    _term_key,
    _terms_of,
)
from monitor.rules.matcher import Matcher, RuleSpec

from .test_parser_reference import generated


class _Reference:
    """Plans as ``PlanTable`` makes them, written plainly."""

    def __init__(self) -> None:
        self.entries: list[object] = []
        self.made: dict[int, int] = {}
        self.kept: list[Node] = []

    def place(self, entry: object) -> int:
        self.entries.append(entry)
        return len(self.entries) - 1

    def terms_step(self, how: int, node: Node | None, terms: tuple[Term, ...]) -> tuple[int, ...]:
        out = [how] if node is None else [how, self.place(node)]
        for t in terms:
            out += (_term_key(t), self.place(t))
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
    """A table names terms by place in its list of entries, and conjuncts in a dictionary of
    ints the collector does not track: a cold pass makes thousands of steps, and the
    collector would otherwise walk a container per term."""
    table = PlanTable()
    for root in _roots(300, seed=20):
        table.plan(root)
    gc.collect()
    assert table._made and not gc.is_tracked(table._made)
    assert not any(type(e) is tuple and gc.is_tracked(e) for e in table.entries)


_WORDS = ["city", "council", "vote", "mayor", "town", "Straße", "elections", "hall"]


def _story(rng: random.Random) -> Story:
    def words(count: int) -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(count))
    return Story(source="s", url="https://news.example/1", title=words(rng.randint(0, 6)),
                 text=words(rng.randint(0, 60)))


def test_plans_of_one_table_hold_as_the_queries_walked() -> None:
    """Plans made into one table over several stories, as a matcher's are (a term that
    several steps name is placed once for each, a step shared by queries of the same
    conjunct object made once), hold exactly when their query walked as a tree does, with
    its evidence."""
    rng = random.Random(2718)
    texts = []
    for _ in range(80):
        a, b, c, d = (rng.choice(_WORDS) for _ in range(4))
        texts.append(rng.choice((a, f'"{a} {b}"', f"{a} {b}", f"{a} -{b} -{c}", f"({a} OR {b}) {c}",
                                 f"{a} ({b} OR {c}) -({d} OR {a})", f"{a} NEAR/3 {b}",
                                 f"({a} OR {b}) NEAR/2 ({c} OR {d}) -{a}", f"title:{a} ({a} OR {b})",
                                 f"{a} ({b} NEAR/1 {c} OR {d}) {a}", f"{a} {a} -({a} {b})")))
    parsed = {}
    roots = [(parsed.get(t) or parsed.setdefault(t, parse_query(t))).root for t in texts + texts[:20]]
    table = PlanTable()
    plans: dict[int, tuple[int, ...]] = {}
    held = 0
    for _ in range(40):
        story = _story(rng)
        planned, walked = Evaluation(StoryDoc(story), table), Evaluation(StoryDoc(story))
        for r in rng.sample(range(len(roots)), 30):
            plan = plans.get(r)
            if plan is None:
                plan = plans[r] = table.plan(roots[r])
            expected = walked.truth(roots[r])
            assert planned.holds(plan) == expected, (story, roots[r])
            if expected:
                held += 1
                assert planned.evidence_of(plan) == walked.evidence(roots[r]), (story, roots[r])
    assert held > 100


def test_plans_made_in_bulk_by_the_matcher_hold_as_the_queries_walked() -> None:
    """The matcher makes the plans of all of a story's candidates at once when it meets the
    first without one (``_Plans.made_all``), those of rules that ``sources`` keep out of the
    story too: its matches are the rules whose query walked as a tree holds, and every plan
    it made holds exactly when its query does, on later stories as well."""
    rng = random.Random(3141)
    specs = []
    for i in range(120):
        a, b, c, d = (rng.choice(_WORDS) for _ in range(4))
        query = rng.choice((a, f"{a} {b}", f"{a} -{b}", f"({a} OR {b}) {c}", f"{a} NEAR/2 ({b} OR {c}) -{d}",
                            f"title:{a} {b}", f'"{a} {b}" -({c} OR {d})'))
        specs.append(RuleSpec(f"r{i}", query, sources=("other",) if i % 5 == 0 else ()))
    matcher = Matcher.compile(specs)
    roots = [parse_query(spec.query).root for spec in specs]
    made = 0
    for _ in range(30):
        story = _story(rng)
        walked = Evaluation(StoryDoc(story))
        expected = [spec.name for spec, root in zip(specs, roots, strict=True)
                    if not spec.sources and walked.truth(root)]
        assert [m.rule for m in matcher.match(story)] == expected, story
        planned = Evaluation(StoryDoc(story), matcher._plans.table)
        for r, plan in enumerate(matcher._plans):
            if plan is not None:
                assert planned.holds(plan) == walked.truth(roots[r]), (story, specs[r].query)
        made = sum(plan is not None for plan in matcher._plans)
    # plans were made for rules kept out of every story by their sources too
    assert made > 60 and any(matcher._plans[r] is not None for r in range(0, 120, 5))
