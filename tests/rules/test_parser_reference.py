"""The parser answers as the parser before it did, query by query.

``tests/rules/reference_parser.py`` is the recursive-descent parser (and requirement sets)
the table-driven one replaced, kept verbatim. Every query below goes through both: a valid
one must give the same tree (every node, column, label and unit) and the same requirement
sets in the same order; an invalid one the same message at the same column. The queries are
every string of the rule tests and their data files, every example in the docs, and a
seeded set of generated ones: well-formed queries in every shape the grammar has, and token
soups that hit the error paths (odd spaces and quotes, fields, wildcards, operators out of
place, deep nesting).
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from monitor.errors import QueryError
from monitor.rules import hints, parse_query, parser
from monitor.rules.ast import Query
from tests.rules import reference_parser
from tests.support.paths import DATA

ROOT = Path(__file__).resolve().parents[2]

_WORDS = [
    "Japan", "japan", "defence", "Défense", "Straße", "Łódź", "東京", "北京市", "naïve", "semi-conductor",
    "Japan's", "U.S.", "bbc.co.uk", "3.5", "2019", "covid-19", "e-mail", "rock'n'roll", "x", "ab", "Tesla",
    "co\u00adoperation", "it’s", "état-major", "and", "or", "not", "near", "Near/5", "AND", "OR", "NOT",
    "NEARBY", "ORDER", "NOTE", "foo*", "ab*", "Ab-cd*", "a.b", "123abc", "abc123", "_x_", "C++", "AT&T", "50%",
    "über", "İstanbul", "ǅemal", "ﬁnance", "Ⅻ", "٣", "Müller-Lüdenscheidt*", "x-ray", "ö*",
]
#: words that do not parse, or parse as something else than a word
_ODD = ["f*", "fo*o", "*", "**", "-*", "...", "_", "NEAR", "AND", "OR", "NOT", "=*", "é*", "'s", "­"]
_FIELDS = ["title:", "text:", "source:", "url:", "lang:", "Title:", "TEXT:", "foo:", "http:", "lang:de",
           "lang:pt-BR", "lang:pt_br", "lang:x", "url:https://example.com/a?b=1", "title:title:x"]
_OPERATORS = ["AND", "OR", "NOT", "NEAR/3", "NEAR/10", "NEAR", "NEAR/", "NEAR/x", "NEAR/1000", "NEAR/1001",
              "NEAR/٣", "-", "=", "(", ")", "((", "))"]
_QUOTES = ['"', "“", "”"]
_SPACES = [" ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "\u3000", "\x1c", "\u200b", ""]


def _phrase(rng: random.Random) -> str:
    opening = rng.choice(_QUOTES)
    closing = (rng.choice(['"', "”"]) if opening == '"' else "”") if rng.random() < 0.97 else ""
    return opening + " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0 if rng.random() < 0.05 else 1, 3))) + closing


def _operand(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if roll < 0.45 or depth > 3:
        return rng.choice(_WORDS if rng.random() < 0.97 else _ODD)
    if roll < 0.6:
        return _phrase(rng)
    if roll < 0.7:
        return rng.choice(["title:", "text:", "source:", "url:", "="]) + rng.choice([rng.choice(_WORDS), _phrase(rng)])
    if roll < 0.75:
        return rng.choice(["lang:de", "lang:en", "lang:pt-BR", "lang:zh_Hant"])
    if roll < 0.85:
        return rng.choice(["NOT ", "-", "-", "NOT NOT ", "--", "- "]) + _operand(rng, depth + 1)
    return "(" + _query(rng, depth + 1) + ")"


def _query(rng: random.Random, depth: int = 0) -> str:
    """A query of the grammar's shapes (most valid; NOT alone, NOT inside NEAR and the
    like are left to the checks)."""
    parts = [_operand(rng, depth)]
    for _ in range(rng.randint(0, 3)):
        parts.append(rng.choice(["AND", "OR", "", "", "NEAR/5", "NEAR/20", "OR"]))
        parts.append(_operand(rng, depth))
    return " ".join(p for p in parts if p)


def _soup(rng: random.Random) -> str:
    """Tokens of every kind in any order, glued by any space (most do not parse)."""
    pool = [_WORDS, _ODD, _FIELDS, _OPERATORS, _QUOTES]
    out = []
    for _ in range(rng.randint(1, 8)):
        kind = rng.choice(pool)
        out.append(rng.choice(kind) if kind is not _QUOTES else (_phrase(rng) if rng.random() < 0.5 else
                                                                   rng.choice(_QUOTES)))
        out.append(rng.choice(_SPACES))
    return "".join(out)


def generated(count: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    for i in range(count):
        yield _query(rng) if i % 3 else _soup(rng)
    # the limits
    yield "(" * 64 + "a" + ")" * 64
    yield "(" * 65 + "a" + ")" * 65
    yield "NOT " * 63 + "a"
    yield "NOT " * 65 + "a b"
    yield "- " * 70 + "a"
    yield "a " * 5000
    yield "a" * 10_001
    yield " OR ".join(f"w{i}" for i in range(300))
    yield " ".join(f"(a{i} OR b{i})" for i in range(8))


def _strings_of_tests() -> set[str]:
    """Every string literal of the rule tests, and every query and string of their data."""
    found: set[str] = set()
    for path in sorted((ROOT / "tests" / "rules").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 2000:
                found.add(node.value)
    for name in ("rules_errors.yaml", "rule_cases.yaml"):
        for case in yaml.safe_load((DATA / name).read_text(encoding="utf-8")):
            found.update(v for v in case.values() if isinstance(v, str))
    return found


def _examples_of_docs() -> set[str]:
    """Every code span and line of a code block of the docs and the README."""
    found: set[str] = set()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        found.update(re.findall(r"`([^`\n]+)`", text))
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.DOTALL):
            found.update(line.strip() for line in block.splitlines())
            found.update(m for m in re.findall(r"query:\s*['\"]?(.+?)['\"]?\s*$", block, re.MULTILINE))
    return found


def _outcome(parse: object, query: str) -> tuple[object, ...]:
    try:
        parsed = parse(query)  # type: ignore[operator]
    except QueryError as exc:
        return ("error", exc.message, exc.column)
    assert isinstance(parsed, Query)
    return ("query", parsed.text, parsed.root, [frozenset(need) for need in parsed.needs])


def _differences(queries: Iterator[str] | set[str]) -> list[tuple[str, object, object]]:
    out = []
    for query in queries:
        new, old = _outcome(parse_query, query), _outcome(reference_parser.parse_query, query)
        if new != old:
            out.append((query, new, old))
    return out


@pytest.fixture(params=["run", "built"])
def programs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every query parsed by running its shape's program (``_run``: the first queries of a
    shape), or by the builder written for the shape (``_builder``: the rest)."""
    monkeypatch.setattr(parser, "_PROGRAMS", {})
    monkeypatch.setattr(parser, "_BUILD_FROM", 10**9 if request.param == "run" else 1)


@pytest.mark.usefixtures("programs")
def test_the_strings_of_the_tests_parse_as_before() -> None:
    strings = _strings_of_tests()
    assert len(strings) > 500
    assert _differences(strings) == []


@pytest.mark.usefixtures("programs")
def test_the_examples_of_the_docs_parse_as_before() -> None:
    examples = _examples_of_docs()
    assert len(examples) > 100
    assert _differences(examples) == []


@pytest.mark.usefixtures("programs")
def test_generated_queries_parse_as_before() -> None:
    queries = list(generated(4000, seed=14))
    outcomes = [_outcome(parse_query, q)[0] for q in queries]
    # both kinds are well represented
    assert outcomes.count("query") > 1500
    assert outcomes.count("error") > 1000
    assert _differences(iter(queries)) == []


@pytest.mark.slow
def test_many_generated_queries_parse_as_before() -> None:
    assert _differences(generated(200_000, seed=1)) == []


def test_operator_hints_are_found_without_walking_every_query(monkeypatch: pytest.MonkeyPatch) -> None:
    # lowercase_operators walks only the queries in which such a word is written: it finds
    # what it found walking every one
    queries = []
    for query in [*generated(3000, seed=15), *_strings_of_tests()]:
        try:
            queries.append(parse_query(query))
        except QueryError:
            continue
    found = [hints.lowercase_operators(q) for q in queries]
    assert sum(map(bool, found)) >= 40
    monkeypatch.setattr(hints, "_WRITTEN", re.compile(""))
    assert [hints.lowercase_operators(q) for q in queries] == found


def test_the_reference_is_not_the_parser() -> None:
    # the comparison would pass trivially if both names were one function
    assert reference_parser.parse_query is not parse_query
    assert "_Parser" in vars(reference_parser)


#: the expression ``hints._WRITTEN`` replaced (it tried its look-behind at every character)
_WRITTEN_BEFORE = re.compile(r'(?<![^\s()"“”])(?!AND|OR|NOT|NEAR)(?i:and|or|not|near)(?:/\d+)?(?![^\s()"“”])')


def test_operator_words_are_found_in_the_queries_the_expression_before_found_them_in() -> None:
    rng = random.Random(16)
    pieces = ["and", "AND", "And", "aNd", "or", "OR", "Or", "oR", "not", "NOT", "Not", "near", "NEAR", "Near/5",
              "NEAR/5", "near/", "near/٣", "nearx", "xor", "ORx", "/5", "a", "n", "o", "K", "İ", " ", "\t", "\u00a0",
              "\u2003", "\x1c", "\u200b", "(", ")", '"', "“", "”"]
    texts = [*generated(3000, seed=17), *_strings_of_tests()]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 8))) for _ in range(30_000)]
    found = [hints._WRITTEN.search(text) is not None for text in texts]
    assert sum(found) > 1000
    assert found == [_WRITTEN_BEFORE.search(text) is not None for text in texts]
