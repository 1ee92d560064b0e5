"""A rules section of plain lines, read without YAML, reads as YAML reads it: the same data,
the same line marks; every other section is left to YAML."""

from __future__ import annotations

import random

import pytest

from monitor.config.plainrules import load_plain_rules
from monitor.config.yamlload import YAMLDocument, load_yaml

HEAD = "notifiers:\n  desk: json://127.0.0.1:1/hook\nsources:\n  - name: wire\n    feed: https://news.example/feed.xml\n"
TAIL = "defaults:\n  notify: [desk]\n"


def assert_read_as_yaml(text: str) -> YAMLDocument:
    """``text``'s rules section is read here, and gives what libyaml gives, marks included."""
    plain = load_plain_rules(text, "f.yaml")
    assert plain is not None, "not read as plain lines"
    eager = load_yaml(text)
    assert plain.data == eager.data
    assert [type(rule[key]) for rule in plain.data["rules"] for key in rule] == [
        type(rule[key]) for rule in eager.data["rules"] for key in rule]
    assert {path: plain.position(path) for path in eager.lines} == eager.lines
    assert plain.position(("rules", 0, "nothing")) is None
    assert plain.position(("rules", 10**6)) is None
    lazy = load_yaml(text, lazy_rules=True)
    assert (plain.rules_end, plain.rules_aliased, plain.block_root) == (lazy.rules_end, lazy.rules_aliased,
                                                                        lazy.block_root)
    return plain


@pytest.mark.parametrize(
    "rules",
    [
        "  - name: r0\n    query: storm\n",
        '  - name: r1\n    query: "\\"rare earths\\" OR lithium"\n  - name: r2\n    query: "caf\\u00e9 \\\\ a\\/b"\n',
        "- name: indentless\n  query: x\n",
        "  - name: 'it''s'\n    query: 'a \"b\" c'\n",
        "  - name: typed\n    query: storm\n    urgent: true\n    enabled: False\n    threshold: 0.5\n",
        "  - name: lists\n    query: q\n    notify: [desk]\n    tags: [ a , b,c ]\n    sources: []\n",
        "  - name: numbers in lists\n    query: q\n    tags: [1, 2.5, yes, null, x-y]\n",
        "  - name: spaced   words   (here)\n    query:    storm   \n",
        "  - name: \"tab\tinside\"\n    query: 'a\tb'\n",
        "\n  # a comment\n  - name: a\n\n    query: b\n# at column 0\n  - name: c\n    query: d\n\n",
        "  - name: unicode ünïcødé, [brackets] {braces} a-b\n    query: Zürich OR 東京\n",
        "  - name: date\n    query: q\n    digest: 2024-01-02\n",
        "  - name: n\n    query: q\n    null_like: x~\n    on_key: off\n",
        "  - query: first key is not name\n    name: second\n",
        "  - name: 0x1A\n    query: 1_000\n",
    ],
)
def test_plain_sections_read_as_yaml_reads_them(rules: str) -> None:
    assert_read_as_yaml(HEAD + "rules:\n" + rules + TAIL)
    assert_read_as_yaml(HEAD + "rules:\n" + rules)  # the section at the end of the file


@pytest.mark.parametrize(
    "rules",
    [
        "  - name: a\n    query: b\n    query: c\n",  # a key twice
        "  - &x\n    name: a\n",  # an anchor
        "  - name: a\n    query: *x\n",  # an alias
        "  - name: a\n    query: b # a comment after a value\n",
        "  - name: a\n    query:\n      storm\n",  # the value on the next line
        "  - {name: a, query: b}\n",
        "  - name: a\n    tags:\n      - x\n",
        "  - name: a\n     query: b\n",  # wrongly indented
        "  - name: a\n  query: b\n",
        "  -  name: a\n     query: b\n",
        "  - name: a\n    on: b\n",  # a key YAML reads as true
        "  - name: a\n    null: b\n",
        '  - name: a\n    query: "\\x41"\n',  # an escape left to YAML
        '  - name: a\n    query: "\\ud800"\n',
        '  - name: a\n    query: "unclosed\n',
        "  - name: a\n    query: -b\n",
        "  - name: a\n    query: b: c\n",
        "  - name: a\n    query: tab\tafter\t\n",
        "  - name: a\n    tags: [a, [b]]\n",
        "  - name: a\n    tags: [a, ]\n",
        "  - name: a\n    query: \x07bell\n",
        "  - name: a\n\tquery: b\n",
        "  []\n",
        "  - name: a\n    " + "k" * 2000 + ": long key\n",
        "",
    ],
)
def test_other_sections_are_left_to_yaml(rules: str) -> None:
    assert load_plain_rules(HEAD + "rules:\n" + rules + TAIL, "f.yaml") is None


@pytest.mark.parametrize(
    "text",
    [
        HEAD + "rules: # a comment\n  - name: a\n    query: b\n",
        HEAD + "rules: []\n",
        HEAD.replace("\n", "\r\n") + "rules:\r\n  - name: a\r\n    query: b\r\n",
        HEAD + "rules:\n  - name: a\n    query: b",  # no line break at the end
        "{" + HEAD + "}\nrules:\n  - name: a\n    query: b\n",
        HEAD + "rules:\n  - name: a\n    query: b\nsources: {}\n",  # a key twice in the rest
        HEAD + "  bad: [\nrules:\n  - name: a\n    query: b\n",  # the rest does not parse
        HEAD + "x: &a 1\nrules:\n  - name: a\n    query: b\n",
    ],
)
def test_files_whose_section_may_mean_something_else_are_left_to_yaml(text: str) -> None:
    plain = load_plain_rules(text, "f.yaml")
    if plain is not None:  # the anchor in the rest: read as YAML reads it
        assert plain.data == load_yaml(text).data
        return
    assert plain is None


#: values that a section of plain lines may hold, or that make it YAML's
_VALUES = [
    "storm", "rare earths", "Tesla OR Musk", "3", "0.5", "true", "no", "null", "2024-05-01", "x_y", "1e3",
    "a-b/c@d+e", "O'Brien", 'say "hi"', "é", "東京", "x\ty", "a: b", "a #b", "#c", "-x", "*x", "&x", "!x",
    "[a]", "{a}", "%x", "@x", "`x", "?x", "a\\b", '"', "'", "", " ", "~", "=", "<<", "a\u2028b", "\x85", "\ufeff",
]


def _value(rng: random.Random) -> str:
    raw = rng.choice(_VALUES)
    style = rng.randrange(4)
    if style == 0:
        return raw
    if style == 1:
        return "'" + raw.replace("'", "''") + "'"
    if style == 2:
        escaped = raw.replace("\\", "\\\\").replace('"', '\\"')
        if rng.random() < 0.3 and escaped:
            escaped = "".join(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else ch for ch in escaped)
        return '"' + escaped + '"'
    return "[" + ", ".join(rng.choice(_VALUES[:12]) for _ in range(rng.randrange(3))) + "]"


def test_seeded_sections_read_as_yaml_or_are_left_to_it() -> None:
    rng = random.Random(14)
    read = 0
    for _ in range(400):
        lines = ["rules:\n"]
        for _ in range(rng.randrange(1, 4)):
            keys = rng.sample(["name", "query", "tags", "notify", "urgent", "about", "digest"], rng.randrange(1, 4))
            for j, key in enumerate(keys):
                lines.append(("  - " if j == 0 else "    ") + f"{key}: {_value(rng)}\n")
            if rng.random() < 0.2:
                lines.append(rng.choice(["\n", "  # note\n", "#\n"]))
        text = HEAD + "".join(lines) + TAIL
        if load_plain_rules(text, "f.yaml") is not None:
            assert_read_as_yaml(text)
            read += 1
    assert read > 100  # most such sections are read as plain lines
