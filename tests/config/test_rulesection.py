"""A rules: section with the bytes of one validated before is not read again (issue 14).

Whatever path a load takes, its result is what a full read of the file gives: the same
settings, the same warnings at the same lines, the same errors.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.config import Config, load_config, load_for_matching
from monitor.config.rulesection import CheckedRules, checked_rules_of, find_rules_section
from monitor.errors import ConfigError

HEAD = """\
database: sqlite:///{db}
notifiers:
  desk: "json://127.0.0.1:1/hook"
  mail: "json://127.0.0.1:1/mail"
defaults:
  notify: [desk]
sources:
  - name: wire
    feed: https://news.example/feed.xml
    tags: [world]
"""
RULES = """\
rules:
  - name: storm
    query: "storm NEAR/5 coast"
  - name: quake
    query: earthquake OR "seismic event"
    tags: [world]
    notify: mail
  # a comment in column 0 and a blank line stay in the section

  - name: advice
    query: Japan and defence
    sources: [wire]
"""
TAIL = """\
web:
  refresh: 10s
"""


def write(path: Path, text: str) -> str:
    path.write_text(text.replace("{db}", str(path.parent / "state.db")), encoding="utf-8")
    return str(path)


def same(fast: Config, full: Config) -> None:
    """``fast`` is what a full read gave: settings (every rule's too) and warnings."""
    assert fast.settings.model_dump() == full.settings.model_dump()
    assert [r.model_fields_set for r in fast.settings.rules] == [r.model_fields_set for r in full.settings.rules]
    assert fast.warnings == full.warnings


@pytest.fixture
def path(tmp_path: Path) -> str:
    return write(tmp_path / "newsmonitor.yaml", HEAD + RULES + TAIL)


def kept(path: str) -> CheckedRules:
    checked = checked_rules_of(load_config(path))
    assert checked is not None
    return checked


def test_an_unchanged_section_is_taken_as_validated(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    known = kept(path)
    full = load_config(path)
    assert '"and" at column 7' in full.warnings[0] and ":21:12:" in full.warnings[0]
    monkeypatch.setattr("monitor.config.check.check_rules_alone", lambda *a: pytest.fail("rules checked again"))
    fast = load_config(path, known_rules=known)
    assert checked_rules_of(fast) is known
    assert all(a is b for a, b in zip(fast.settings.rules, known.rules, strict=True))  # not read again
    same(fast, full)


def test_other_sections_change_and_lines_move(tmp_path: Path, path: str) -> None:
    known = kept(path)
    # a source added above the rules: every line of the section moves down two
    text = HEAD + "  - name: agency\n    feed: https://news.example/agency.xml\n" + RULES + TAIL.replace("10s", "20s")
    write(Path(path), text)
    fast = load_config(path, known_rules=known)
    assert checked_rules_of(fast) is known and fast.settings.web.refresh == 20
    same(fast, load_config(path))
    assert ":23:12:" in fast.warnings[0]


@pytest.mark.parametrize(
    "change",
    [
        ('query: "storm NEAR/5 coast"', 'query: "storm NEAR/5 coasts"'),  # longer
        ('query: "storm NEAR/5 coast"', 'query: "storm NEAR/5 boast"'),  # the same size
        ("name: quake", "name: quaky"),  # the same size, a name
        ("    tags: [world]\n    notify: mail\n", "    notify: mail\n    tags: [world]\n"),  # the same bytes, moved
    ],
)
def test_a_changed_section_is_read_again(path: str, change: tuple[str, str]) -> None:
    known = kept(path)
    text = Path(path).read_text()
    assert change[0] in text
    write(Path(path), text.replace(change[0], change[1], 1))
    config = load_config(path, known_rules=known)
    changed = checked_rules_of(config)
    assert changed is not None and changed is not known and changed.digest != known.digest
    same(config, load_config(path))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        # the rest alone has a problem
        (("refresh: 10s", "refresh: soon"), r":\d+:\d+: web\.refresh: "),
        # a rule names what the rest no longer defines: the error is at the rule's line
        (("  mail: \"json://127.0.0.1:1/mail\"\n", ""), r":16:13: rules\[1\]\.notify\[0\]: unknown notifier 'mail'"),
        (("    tags: [world]\nrules", "rules"), r":15:12: rules\[1\]\.tags\[0\]: no source has tag 'world'"),
        (("  - name: wire", "  - name: wires"), r":22:15: rules\[2\]\.sources\[0\]: unknown source 'wire'"),
        # the rest defines an anchor the section defines too
        (("refresh: 10s", "refresh: &a 10s"), None),
    ],
)
def test_errors_are_those_of_a_full_read(path: str, change: tuple[str, str], error: str | None) -> None:
    known = kept(path)
    text = HEAD + RULES.replace("  - name: storm\n", "  - &a\n    name: storm\n") + TAIL
    if error is None:
        write(Path(path), text)
        known = kept(path)
        assert known.anchors_possible
        text = text.replace(*change)
    else:
        text = (HEAD + RULES + TAIL).replace(*change)
    write(Path(path), text)
    with pytest.raises(ConfigError) as full:
        load_config(path)
    with pytest.raises(ConfigError) as fast:
        load_config(path, known_rules=known)
    assert fast.value.problems == full.value.problems
    if error is not None:
        assert any(re.search(error, p) for p in full.value.problems), full.value.problems


def test_a_rule_taking_defaults_notify_needs_it(path: str) -> None:
    known = kept(path)
    write(Path(path), (HEAD + RULES + TAIL).replace("  notify: [desk]\n", "  notify: []\n"))
    config = load_config(path, known_rules=known)
    assert checked_rules_of(config) is not known
    same(config, load_config(path))
    assert any(":12:" in w and "no notify targets" in w for w in config.warnings)


def section(rules: str, head: str = HEAD, tail: str = TAIL) -> str:
    return head + rules + tail


@pytest.mark.parametrize(
    "text",
    [
        # an alias naming an anchor outside the section
        section(RULES.replace("tags: [world]", "tags: *world"), head=HEAD.replace("tags: [world]", "tags: &world [world]")),
        # a merge of a mapping outside the section
        section(RULES.replace("  - name: advice", "  - <<: *defaults\n    name: advice"),
                head=HEAD.replace("defaults:", "defaults: &defaults")),
        # a value changed by ${VAR}
        section(RULES.replace("Japan and defence", "${TOPIC:-Japan} and defence")),
        # a quoted value running on past the section's lines
        section('rules:\n  - name: storm\n    query: "storm\nand coast"\n'),
        # a flow mapping
        "{\nrules: [{name: storm, query: storm}],\nsources: []\n}\n",
        # a line break YAML counts and newline counting does not
        section(RULES, head=HEAD.replace("sources:\n", "sources:  # feeds\u2028\n")),
    ],
)
def test_a_section_that_may_depend_on_the_rest_is_not_kept(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "newsmonitor.yaml", text)
    config = load_config(path)
    assert checked_rules_of(config) is None


def test_matching_reads_the_same(path: str) -> None:
    known = kept(path)
    fast = load_for_matching(path, known_rules=known)
    assert checked_rules_of(fast) is known
    full = load_for_matching(path)
    assert fast.settings.model_dump() == full.settings.model_dump() and fast.warnings == full.warnings
    # a section kept by `match --config` (which checks only the queries) is checked in full by `check`
    write(Path(path), (HEAD + RULES + TAIL).replace("name: advice", "name: storm"))
    assert checked_rules_of(load_for_matching(path)) is None
    with pytest.raises(ConfigError, match="duplicate rule name 'storm'"):
        load_config(path)


def test_the_section_is_found_by_its_lines() -> None:
    text = HEAD + RULES + TAIL
    found = find_rules_section(text)
    assert found is not None and text[found.start : found.end] == RULES and found.line == 11
    rest = found.rest(text)
    assert rest.count("\n") == text.count("\n") and rest.endswith(TAIL)
    assert find_rules_section(HEAD + "  rules:\n") is None
    assert find_rules_section("%YAML 1.1\n---\n" + text) is None
    assert find_rules_section(text.replace("\n", "\r")) is None
    ends = find_rules_section("rules:\n- name: a\n  query: b\n---\n")
    assert ends is not None and ends.end_at == (3, 0)


def test_a_file_of_crlf_lines_is_taken_apart_too(tmp_path: Path) -> None:
    path = write(tmp_path / "newsmonitor.yaml", (HEAD + RULES + TAIL).replace("\n", "\r\n"))
    known = kept(path)
    fast = load_config(path, known_rules=known)
    assert checked_rules_of(fast) is known
    same(fast, load_config(path))


SPIKES = RULES + """\
  - name: storm-spike
    spike: {rule: storm}
  - name: quake-events
    query: earthquake
    event: {window: 12h}
"""


def test_spike_and_event_rules_follow_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path / "newsmonitor.yaml", HEAD + SPIKES + TAIL)
    full = load_config(path)
    assert any("sets event: but nothing groups it" in w for w in full.warnings)
    known = checked_rules_of(full)
    assert known is not None and known.events_need_rest
    # whether event: does anything depends on the notifiers: the file is read in full
    write(Path(path), (HEAD + SPIKES + TAIL).replace('  desk: "json://127.0.0.1:1/hook"\n',
                                                      '  desk:\n    urls: "json://127.0.0.1:1/hook"\n    group: event\n'))
    fast = load_config(path, known_rules=known)
    assert checked_rules_of(fast) is not known
    same(fast, load_config(path))
    assert not any("sets event:" in w for w in fast.warnings)
    # a spike of a rule the section lacks is refused, as in full
    write(Path(path), HEAD + SPIKES.replace("rule: storm}", "rule: storms}") + TAIL)
    with pytest.raises(ConfigError, match=r"rules\[3\]\.spike\.rule: rule 'storm-spike': no rule with a query"):
        load_config(path)


def test_a_section_with_a_spike_rule_is_taken_as_validated(tmp_path: Path) -> None:
    text = HEAD + SPIKES.replace("    event: {window: 12h}\n", "") + TAIL
    path = write(tmp_path / "newsmonitor.yaml", text)
    known = kept(path)
    fast = load_config(path, known_rules=known)
    assert checked_rules_of(fast) is known
    same(fast, load_config(path))


@pytest.mark.parametrize("first", ["load_config", "load_for_matching"])
def test_warnings_of_a_rule_of_its_own_are_kept(tmp_path: Path, first: str) -> None:
    rules = RULES + "  - name: quiet\n    query: calm and quiet\n    notify: []\n    event: {window: 1h}\n"
    path = write(tmp_path / "newsmonitor.yaml", HEAD + rules + TAIL)
    # kept by a full check, or by `match --config` (which checks each rule on its own)
    known = checked_rules_of(load_config(path) if first == "load_config" else load_for_matching(path))
    assert known is not None and not known.events_need_rest
    write(Path(path), "# moved down a line\n" + HEAD + rules + TAIL)
    fast = load_config(path, known_rules=known)
    assert checked_rules_of(fast) is known
    full = load_config(path)
    same(fast, full)
    assert len([w for w in full.warnings if "quiet" in w]) == 3  # 'and', no targets, event: unused
