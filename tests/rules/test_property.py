"""Property: the compiled matcher (inverted index + candidate filter + evaluation) finds
exactly the rules a brute-force reference evaluator, written here independently of the
index, finds."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import QueryError
from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules import matcher as matcher_module
from monitor.rules.text import word_keys

WORDS = ["trade", "trades", "traded", "war", "wars", "china", "japan", "defence", "defense", "bank",
         "banks", "banking", "tax", "taxes", "export", "exporter", "exports", "the", "policy", "police"]
SEPARATORS = [" ", " ", " ", ". ", ", ", " - ", "; "]

Node = tuple[Any, ...]

fields = st.sampled_from([None, None, None, "title", "text"])
word = st.sampled_from(WORDS)
leaf = st.one_of(
    st.tuples(st.just("w"), fields, word),
    st.tuples(st.just("p"), fields, st.lists(word, min_size=1, max_size=2).map(tuple)),
    st.tuples(st.just("x"), fields, word.map(lambda w: w[:3])),
)


def positional(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.tuples(st.just("or"), children, children),
        st.tuples(st.just("near"), st.integers(0, 4), children, children),
    )


positional_node = st.recursive(leaf, positional, max_leaves=4)


def boolean(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.tuples(st.just("and"), children, children),
        st.tuples(st.just("or"), children, children),
        st.tuples(st.just("and"), children, st.tuples(st.just("not"), children)),
        st.tuples(st.just("near"), st.integers(0, 4), positional_node, st.tuples(st.just("not"), positional_node)),
    )


query_node = st.recursive(positional_node, boolean, max_leaves=6)


def render(node: Node) -> str:
    kind = node[0]
    if kind in ("w", "p", "x"):
        prefix = f"{node[1]}:" if node[1] else ""
        if kind == "w":
            return prefix + node[2]
        if kind == "p":
            return prefix + '"' + " ".join(node[2]) + '"'
        return prefix + node[2] + "*"
    if kind == "and":
        return f"({render(node[1])} AND {render(node[2])})"
    if kind == "or":
        return f"({render(node[1])} OR {render(node[2])})"
    if kind == "not":
        return f"NOT ({render(node[1])})"
    return f"({render(node[2])} NEAR/{node[1]} {render(node[3])})"


Occ = tuple[str, int, int]


def tokens(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[A-Za-z]+", text)]


def occ(node: Node, story: dict[str, list[str]]) -> set[Occ]:
    kind = node[0]
    if kind in ("w", "p", "x"):
        out: set[Occ] = set()
        for name in ([node[1]] if node[1] else ["title", "text"]):
            toks = story[name]
            for i, tok in enumerate(toks):
                inflection = kind == "w" and set(word_keys(node[2], "en")) & set(word_keys(tok, "en"))
                if inflection or (kind == "x" and tok.startswith(node[2])):
                    out.add((name, i, i))
                elif kind == "p" and tuple(toks[i : i + len(node[2])]) == node[2]:
                    out.add((name, i, i + len(node[2]) - 1))
        return out
    if kind == "or":
        return occ(node[1], story) | occ(node[2], story)
    n, left, right = node[1], node[2], node[3]

    def near(a: Occ, b: Occ) -> bool:
        if a[0] != b[0] or not (a[2] < b[1] or b[2] < a[1]):
            return False
        gap = b[1] - a[2] - 1 if a[2] < b[1] else a[1] - b[2] - 1
        return gap <= n

    if right[0] == "not":
        negatives = occ(right[1], story)
        return {a for a in occ(left, story) if not any(near(a, b) for b in negatives)}
    return {(a[0], min(a[1], b[1]), max(a[2], b[2]))
            for a in occ(left, story) for b in occ(right, story) if near(a, b)}


def truth(node: Node, story: dict[str, list[str]]) -> bool:
    kind = node[0]
    if kind == "and":
        return truth(node[1], story) and truth(node[2], story)
    if kind == "or":
        return truth(node[1], story) or truth(node[2], story)
    if kind == "not":
        return not truth(node[1], story)
    return bool(occ(node, story))


text_strategy = st.lists(st.tuples(word, st.sampled_from(SEPARATORS), st.booleans()), max_size=14).map(
    lambda items: "".join((w.capitalize() if cap else w) + sep for w, sep, cap in items)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(query_node, min_size=1, max_size=8), st.lists(word, max_size=3).map(" ".join), text_strategy)
def test_matcher_agrees_with_reference(nodes: list[Node], title: str, text: str) -> None:
    valid: list[tuple[RuleSpec, Node]] = []
    for i, node in enumerate(nodes):
        spec = RuleSpec(f"r{i}", render(node))
        try:
            Matcher.compile([spec])
        except QueryError:
            continue  # e.g. an OR whose branch is only negative: rejected, nothing to compare
        valid.append((spec, node))
    if not valid:
        return
    matcher = Matcher.compile([spec for spec, _ in valid])
    story = Story(source="s", url="https://x.example/", title=title, text=text)
    tokenised = {"title": tokens(title), "text": tokens(text)}
    expected = [spec.name for spec, node in valid if truth(node, tokenised)]
    got = [m.rule for m in matcher.match(story)]
    assert got == expected, [spec.query for spec, _ in valid]
    # the candidate filter never drops a rule that matches
    candidates = {valid[i][0].name for i in matcher.candidates(story)}
    assert set(got) <= candidates
    # likewise with word pairs in the filter (large rule sets get them)
    saved = matcher_module._PAIRS_FROM
    matcher_module._PAIRS_FROM = 0
    try:
        paired = Matcher.compile([spec for spec, _ in valid])
    finally:
        matcher_module._PAIRS_FROM = saved
    assert [m.rule for m in paired.match(story)] == expected, [spec.query for spec, _ in valid]
    assert set(got) <= {valid[i][0].name for i in paired.candidates(story)}
