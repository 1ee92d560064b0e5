"""Parser behaviour: error messages with columns, precedence, limits and compile errors."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from monitor.errors import QueryError
from monitor.rules import Matcher, RuleSpec, parse_query
from monitor.rules.ast import And, Mode, Near, Not, Or, Term
from monitor.rules.encoding import LEMMA_ATOM, Atom
from tests.support.paths import DATA

ERRORS: list[dict[str, Any]] = yaml.safe_load((DATA / "rules_errors.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", ERRORS, ids=[c["q"] or "<empty>" for c in ERRORS])
def test_error_points_at_the_column(case: dict[str, Any]) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(case["q"])
    assert case["msg"] in info.value.message
    assert info.value.column == case["col"]
    assert str(info.value) == f"{info.value.message} at column {case['col']}"


def test_error_string_format() -> None:
    with pytest.raises(QueryError) as info:
        parse_query("Japan AND (defence OR China))")
    assert str(info.value) == 'unexpected ")" at column 29'


def test_compile_prefixes_the_rule_name_and_keeps_the_column() -> None:
    with pytest.raises(QueryError) as info:
        Matcher.compile([RuleSpec("ok", "Japan"), RuleSpec("x", "Japan AND (defence OR China))")])
    assert str(info.value) == 'rule "x": unexpected ")" at column 29'
    assert info.value.column == 29


def label(node: object) -> str:
    if isinstance(node, Term):
        return node.label
    if isinstance(node, Not):
        return f"NOT({label(node.child)})"
    if isinstance(node, Near):
        return f"NEAR{node.distance}({label(node.left)},{label(node.right)})"
    if isinstance(node, And | Or):
        name = "AND" if isinstance(node, And) else "OR"
        return f"{name}(" + ",".join(label(c) for c in node.children) + ")"
    return repr(node)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("a b OR c", "OR(AND(a,b),c)"),
        ("a OR b c", "OR(a,AND(b,c))"),
        ("a AND b OR c AND d", "OR(AND(a,b),AND(c,d))"),
        ("a NEAR/3 b c", "AND(NEAR3(a,b),c)"),
        ("NOT a NEAR/3 b", "NEAR3(NOT(a),b)"),
        ("a NEAR/1 b NEAR/2 c", "NEAR2(NEAR1(a,b),c)"),
        ("-a b", "AND(NOT(a),b)"),
        ("semi-conductor", "semi-conductor"),
        ("a -b", "AND(a,NOT(b))"),
        ("a and b", "AND(a,and,b)"),
        ("a or b", "AND(a,or,b)"),
        ("(a OR b) (c OR d)", "AND(OR(a,b),OR(c,d))"),
        ("NOT NOT a", "a"),
    ],
)
def test_precedence(query: str, tree: str) -> None:
    assert label(parse_query(query).root) == tree


def test_term_modes() -> None:
    def units(q: str) -> list[list[tuple[Mode, str]]]:
        root = parse_query(q).root
        assert isinstance(root, Term)
        return [[(u.mode, u.text) for u in alt] for alt in root.alts]

    assert units("Sanctions") == [[(Mode.LEMMA, "sanctions")]]
    assert units('"Rare Earths"') == [[(Mode.EXACT, "rare"), (Mode.EXACT, "earths")]]
    assert units("Export*") == [[(Mode.PREFIX, "export")]]
    assert units("=US") == [[(Mode.CASE, "US")]]
    assert units("=U.S.") == [[(Mode.CASE, "US")]]
    assert units("semi-conductor") == [[(Mode.LEMMA, "semi"), (Mode.LEMMA, "conductor")],
                                       [(Mode.LEMMA, "semiconductor")]]
    assert units("title:Japan") == [[(Mode.LEMMA, "japan")]]


def test_fields_and_columns() -> None:
    root = parse_query('Japan title:"rare earths"').root
    assert isinstance(root, And)
    second = root.children[1]
    assert isinstance(second, Term)
    assert second.field == "title"
    assert second.col == 7


def test_field_value_is_literal() -> None:
    root = parse_query("url:https://example.com/a").root
    assert isinstance(root, Term)
    assert root.field == "url"
    assert [u.text for u in root.alts[0]] == ["https", "example", "com", "a"]


def test_needs_cover_every_or_branch() -> None:
    needs = parse_query("(a OR b) c -d").needs
    a, b, c = (Atom(LEMMA_ATOM, w) for w in "abc")
    assert {frozenset(n) for n in needs} == {frozenset({a, c}), frozenset({b, c})}


def test_long_and_deep_queries_are_bounded() -> None:
    with pytest.raises(QueryError, match="longer than"):
        parse_query("a " * 6000)
    with pytest.raises(QueryError, match="nested too deeply"):
        parse_query("(" * 200 + "a" + ")" * 200)
    # a long but legal OR list is fine
    assert len(parse_query(" OR ".join(f"w{i}" for i in range(1000))).needs) == 1000
