"""Warnings: advice that does not stop the daemon, one line per piece of advice, located like errors.

A short interval is one line however many sources poll that often; a lower-case operator
word between two terms (``Japan and defence`` asks for the word *and*) asks "did you mean AND?".
"""

from __future__ import annotations

import pytest

from monitor.config import parse_settings

NOTIFIED = """\
notifiers:
  chat: "json://127.0.0.1:1/hook"
defaults:
  notify: [chat]
"""


def warnings_of(text: str, *, interval: str = "15m") -> list[str]:
    return parse_settings(NOTIFIED + f"  interval: {interval}\n" + text, "cfg.yaml", {}).warnings


def test_short_intervals_are_one_line_naming_where_they_are_set() -> None:
    sources = "".join(f"  - {{name: s{i}, feed: 'https://example.com/{i}.xml'}}\n" for i in range(4))
    own = "".join(f"  - {{name: own{i}, feed: 'https://example.org/{i}.xml', interval: 10s}}\n" for i in range(7))
    found = warnings_of("sources:\n" + sources + own + "rules: []\n", interval="30s")
    short = [w for w in found if "under 60s" in w]
    assert len(short) == 1, found
    line = short[0]
    assert line.startswith("cfg.yaml:")
    assert "defaults.interval 30s (used by 4 sources)" in line
    assert "sources[4] 'own0' 10s" in line and "sources[8] 'own4' 10s" in line
    assert "own5" not in line and "and 2 more sources" in line


def test_a_short_interval_of_one_source_is_named_at_its_key() -> None:
    found = warnings_of(
        "sources:\n  - name: wire\n    feed: https://example.com/feed.xml\n    interval: 30s\nrules: []\n"
    )
    assert found == ["cfg.yaml:9:15: sources[0].interval: interval under 60s: sources[0] 'wire' 30s; be kind to the sites"]


RULES = """\
sources:
  - name: wire
    feed: https://example.com/feed.xml
rules:
  - name: jp
    query: '{query}'
"""


@pytest.mark.parametrize(
    ("query", "advice"),
    [
        ("Japan and defence", '"and" at column 7 is an ordinary word (operators are upper-case): did you mean AND?'),
        ("Japan not China", 'did you mean NOT?'),
        ("Japan or Korea", 'did you mean OR?'),
        ("Japan near/5 defence", 'did you mean NEAR/5?'),
        ("Japan near defence", 'did you mean NEAR/10?'),
        ("Japan And defence", '"And" at column 7'),
        (
            "Japan and (defence or defense)",
            '"and" at column 7 and "or" at column 20 are ordinary words (operators are upper-case): '
            "did you mean AND and OR?",
        ),
    ],
)
def test_a_lower_case_operator_between_terms_asks_did_you_mean(query: str, advice: str) -> None:
    found = warnings_of(RULES.format(query=query))
    assert len(found) == 1, found
    assert found[0].startswith('cfg.yaml:11:12: rules[0].query: rule "jp": ') and advice in found[0]


@pytest.mark.parametrize(
    "query",
    [
        "Japan AND defence",
        '"rock and roll"',  # a phrase says what it means
        "Japan =and defence",  # an exact word too
        "title:or Japan",  # a word limited to a field
        "and Japan",  # not between two terms
        "Japan and",
        "Japan -and defence",
        "android notable nearby orbit",  # operator letters inside words
    ],
)
def test_no_advice_where_the_word_is_meant(query: str) -> None:
    assert warnings_of(RULES.format(query=query)) == []


def test_event_settings_of_a_rule_nothing_groups_by_event_are_pointed_out() -> None:
    rules = "rules:\n  - name: quake\n    query: earthquake\n    event: {follow_up: 30m}\n"
    found = [w for w in warnings_of(rules) if "event:" in w]
    assert len(found) == 1 and found[0].startswith("cfg.yaml:9:12:") and "rules[0].event" in found[0], found
    assert "add group: event" in found[0]
    assert not [w for w in warnings_of(rules.replace("    event:", "    group: event\n    event:")) if "event:" in w]
