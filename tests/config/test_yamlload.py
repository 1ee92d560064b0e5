"""The YAML loader: merge keys as YAML defines them, the bounds on aliases and nesting (issue 12),
and libyaml reading what PyYAML's pure-Python parser read (issue 14).

The hostile files themselves (alias bombs, deep nesting, a NUL byte) are cases of
``tests/data/config_errors.yaml`` and of the CLI tests; these are the edges around them.
"""

from __future__ import annotations

import pytest
import yaml

from monitor.config import yamlload
from monitor.config.yamlbounds import Limits
from monitor.config.yamlload import YAMLProblem, load_yaml
from tests.support.paths import DATA, ROOT


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


# ---------------------------------------------------------------------------- two parsers, one reading
# libyaml reads every file first; PyYAML's pure-Python parser reads again only what libyaml
# (or the walk) refuses, to say what is wrong. On the files newsmonitor meets both must read
# the same data at the same lines; where libyaml accepts more, the table below says what.


def _corpus() -> list[tuple[str, str]]:
    files = [*sorted(DATA.rglob("*.yaml")), ROOT / "config.example.yaml"]
    texts = [(str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")) for path in files]
    cases = yaml.safe_load((DATA / "config_errors.yaml").read_text(encoding="utf-8"))
    texts += [(f"config_errors: {case['name']}", case["yaml"]) for case in cases]
    # PyYAML counts no column for a BOM, libyaml does: a file with one inside goes to PyYAML alone
    texts += [("a BOM first", "\ufeffrules:\n  - name: r\n    query: x\n"), ("a BOM inside", "a: 1\n\ufeffb: x\n")]
    return texts


def _reading(text: str) -> tuple[object, ...]:
    try:
        doc = load_yaml(text)
    except YAMLProblem as exc:
        return ("problem", exc.message, exc.line, exc.column)
    duplicates = [(d.message, d.line, d.column, d.path) for d in doc.duplicates]
    return ("read", doc.data, doc.lines, duplicates)


@pytest.mark.parametrize(("name", "text"), _corpus(), ids=[name for name, _ in _corpus()])
def test_libyaml_reads_what_pyyaml_reads_at_the_same_lines(
    name: str, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _reading(text)
    monkeypatch.setattr(yamlload, "_FastLoader", None)
    assert fast == _reading(text)


def test_a_valid_file_is_never_read_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str, limits: Limits) -> None:
        raise AssertionError("read by the pure-Python parser")

    monkeypatch.setattr(yamlload, "_load_exact", refuse)
    rules = "".join(f"  - name: r{i}\n    query: '\"rare earths\" OR q{i}'\n    tags: [a, b]\n" for i in range(500))
    doc = load_yaml("rules:\n" + rules)
    assert doc.data["rules"][499] == {"name": "r499", "query": '"rare earths" OR q499', "tags": ["a", "b"]}
    assert doc.lines[("rules", 499, "tags", 1)] == (1501, 15)


@pytest.mark.parametrize(
    ("text", "libyaml_reads"),
    [
        # YAML allows '?' inside a plain value in [ ]; PyYAML's own parser stopped there
        ("urls: [https://example.com/feed?x=1]\n", {"urls": ["https://example.com/feed?x=1"]}),
        # YAML allows a tab between a key and its value (not in indentation: that stays an error)
        ("interval:\t5m\n", {"interval": "5m"}),
    ],
)
def test_where_libyaml_reads_more_than_pyyaml(text: str, libyaml_reads: object, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_yaml(text).data == libyaml_reads
    monkeypatch.setattr(yamlload, "_FastLoader", None)
    with pytest.raises(YAMLProblem):
        load_yaml(text)



def test_rule_entries_read_without_marks_are_marked_when_asked() -> None:
    text = (
        "sources:\n  - name: wire\n    feed: https://news.example/feed.xml\n"
        "rules:\n"
        "  - name: plain\n    query: storm\n    tags: [world, 3]\n    urgent: true\n    notify: null\n"
        "  - &a {name: flow, query: 'x y'}\n"
        "  - name: nested\n    query: q\n    sources: [{deep: 1}]\n"
        "  - name: dup\n    query: a\n    query: b\n"
        "  - *a\n"
        "  - <<: {digest: daily}\n    name: merged\n    query: m\n"
        "  - just a string\n"
    )
    eager = load_yaml(text)
    lazy = load_yaml(text, lazy_rules=True)
    assert lazy.data == eager.data
    assert [(d.message, d.line, d.column) for d in lazy.duplicates] == [
        (d.message, d.line, d.column) for d in eager.duplicates
    ]
    assert lazy.unmarked  # some entries were read without their marks
    assert {path: lazy.position(path) for path in eager.lines} == eager.lines
    assert lazy.position(("rules", 0, "nothing")) is None
