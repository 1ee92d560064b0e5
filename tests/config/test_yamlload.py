"""The YAML loader: merge keys as YAML defines them, and the bounds on aliases and nesting (issue 12).

The hostile files themselves (alias bombs, deep nesting, a NUL byte) are cases of
``tests/data/config_errors.yaml`` and of the CLI tests; these are the edges around them.
"""

from __future__ import annotations

import pytest

from monitor.config.yamlbounds import Limits
from monitor.config.yamlload import YAMLProblem, load_yaml


def test_a_merged_key_gives_way_to_the_mappings_own_and_the_first_merge_wins() -> None:
    doc = load_yaml(
        "a: &a {x: 1, y: 1}\n"
        "b: &b {y: 2, z: 2}\n"
        "c:\n"
        "  <<: [*a, *b]\n"
        "  x: 3\n"
    )
    assert doc.data["c"] == {"x": 3, "y": 1, "z": 2}
    assert doc.duplicates == []  # overriding a merged key is what merging is for
    assert doc.lines[("c", "x", "__key__")] == (5, 3)


def test_a_chain_of_merges_keeps_each_key_once() -> None:
    # with a key repeated per merge, nine merges of nine merges ... would hold 9**11 pairs
    lines = ["m0: &m0 {k: 0}"]
    lines += [f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 9)}], k{i}: {i}}}" for i in range(1, 12)]
    doc = load_yaml("\n".join(lines) + "\n")
    assert doc.data["m11"] == {"k": 0, **{f"k{i}": i for i in range(1, 12)}}


def test_a_merge_of_something_else_than_a_mapping_is_a_problem() -> None:
    with pytest.raises(YAMLProblem) as info:
        load_yaml("a: &a [1]\nb:\n  <<: *a\n")
    assert (info.value.line, info.value.column) == (3, 3)
    assert "'<<' merges a mapping or a list of mappings" in info.value.message


def test_defaults_shared_by_many_rules_are_not_a_bomb() -> None:
    # 2 000 rules merging a block of 13 nodes repeat 26 000 nodes: more than the floor of
    # 10 000, far less than 10 times what the file writes out
    rules = "".join(f"  - <<: *rule\n    name: r{i}\n    query: q{i}\n" for i in range(2000))
    text = "defaults: &rule {notify: [a, b, c], tags: [x, y], enabled: true}\nrules:\n" + rules
    doc = load_yaml(text)
    assert len(doc.data["rules"]) == 2000
    assert doc.data["rules"][1999] == {"notify": ["a", "b", "c"], "tags": ["x", "y"], "enabled": True,
                                       "name": "r1999", "query": "q1999"}


@pytest.mark.parametrize(
    ("text", "at", "says"),
    [
        ("a: [[[1]]]\n", (1, 6), "more than 3 levels"),
        ("a: &x [[1]]\nb: [*x]\n", (2, 5), "nested too deeply through this alias (*x)"),
        ("a: &x [1, 2, 3, 4, 5]\nb: [*x, *x]\n", (2, 9), "this alias (*x) repeats 6 nodes"),
    ],
)
def test_the_limits_are_the_callers(text: str, at: tuple[int, int], says: str) -> None:
    limits = Limits(depth=3, repeat_floor=10, repeat_ratio=1)
    with pytest.raises(YAMLProblem) as info:
        load_yaml(text, limits=limits)
    assert (info.value.line, info.value.column) == at
    assert says in info.value.message
    assert load_yaml("a: [[1]]\nb: &x [1, 2]\nc: [*x]\n", limits=limits).data["c"] == [[1, 2]]
