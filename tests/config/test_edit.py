"""Sources appended to a user's file keep every line of it: comments, quotes, layout."""

from __future__ import annotations

import difflib
import textwrap

import pytest
import yaml

from monitor.config import SourceSettings, parse_settings
from monitor.config.edit import append_sources, entries_yaml, entry_data
from monitor.errors import ConfigError
from tests.support.paths import ROOT

NEW = [
    SourceSettings.model_validate({"name": "wire", "feed": "https://wire.example.org/rss", "tags": ["world", "yes"]}),
    SourceSettings.model_validate({"name": "desk", "page": "https://desk.example.org/news/", "outlet": "on"}),
]

#: file shapes: each is edited, and must keep all its lines
SHAPES = {
    "the example": (ROOT / "config.example.yaml").read_text(encoding="utf-8"),
    "dash at column 0": """\
        # top comment
        sources:
        - name: a          # first
          feed: https://a.example/rss
        rules:
        - name: r
          query: x
        """,
    "four-space indentation": """\
        defaults:
            interval: 5m
        sources:
            -   name: a
                feed: "https://a.example/rss"   # quoted on purpose
        rules: []
        """,
    "empty flow list": """\
        sources: []   # none yet
        rules:
          - {name: r, query: x}
        """,
    "null list": """\
        sources:
        rules: []
        """,
    "no sources key": """\
        timezone: UTC
        # the rules
        rules:
          - name: r
            query: x
        """,
    "comment after the last entry": """\
        sources:
          - name: a
            feed: https://a.example/rss
          # - name: later
          #   feed: https://later.example/rss

        rules: []
        """,
    "anchors and merge keys": """\
        x-common: &common
          interval: 10m
          tags: [world]
        sources:
          - <<: *common
            name: a
            feed: https://a.example/rss
        rules: []
        """,
    "no final newline": "sources:\n  - name: a\n    feed: https://a.example/rss",
    "long lines and odd quoting": """\
        sources:
          - name: 'quoted name'
            feed: "https://a.example/rss?with=a-very-long-query-string-that-goes-on-and-on-and-on-well-past-eighty-columns"
            headers: {X-Token: "${TOKEN}"}
        rules:
          - name: r
            query: '"rare earths" NEAR/10 (export* OR sanction*) AND NOT "something quite long" AND Japan'
        """,
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_appending_keeps_every_line_and_adds_the_entries(shape: str) -> None:
    text = textwrap.dedent(SHAPES[shape])
    edited = append_sources(text, NEW, "c.yaml")
    old, new = text.splitlines(), edited.splitlines()
    removed = [
        line for tag, i1, i2, _, _ in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes()
        if tag != "equal" for line in old[i1:i2]
    ]
    # the only line that may change: an empty `sources:` that becomes a block list, comment kept
    assert all(line.startswith("sources:") for line in removed), removed
    for line in removed:
        if "#" in line:
            assert line[line.index("#") :] in edited
    before = yaml.safe_load(text) or {}
    after = yaml.safe_load(edited)
    assert after["sources"] == [*(before.get("sources") or []), *(entry_data(s) for s in NEW)]
    assert {k: v for k, v in after.items() if k != "sources"} == {k: v for k, v in before.items() if k != "sources"}


def test_strings_yaml_1_1_would_misread_are_quoted() -> None:
    edited = append_sources("sources: []\n", NEW, "c.yaml")
    assert 'tags: [world, "yes"]' in edited and 'outlet: "on"' in edited
    data = yaml.safe_load(edited)
    assert data["sources"][0]["tags"] == ["world", "yes"] and data["sources"][1]["outlet"] == "on"


def test_the_edited_example_still_validates() -> None:
    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    env = {
        "TELEGRAM_BOT_TOKEN": "123456789:AAHfakefakefakefakefakefakefakefake1",
        "TELEGRAM_CHAT_ID": "42",
        "SMTP_USER": "desk",
        "SMTP_PASSWORD": "pw",
    }
    config = parse_settings(append_sources(text, NEW, "c.yaml"), "c.yaml", env)
    assert [s.name for s in config.settings.sources][-2:] == ["wire", "desk"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sources: {a: 1}\n", "sources: is not a list"),
        ("- just\n- a list\n", "the file is not a mapping"),
        ("sources: [\n", "c.yaml:"),
    ],
)
def test_a_file_that_cannot_be_edited_says_why(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        append_sources(text, NEW, "c.yaml")
    assert message in info.value.problems[0]


def test_by_hand_entries_are_pasteable() -> None:
    snippet = entries_yaml(NEW)
    assert snippet.splitlines()[0] == "  - name: wire"
    assert yaml.safe_load("sources:\n" + snippet)["sources"] == [entry_data(s) for s in NEW]


def test_nothing_to_add_returns_the_text_untouched() -> None:
    assert append_sources("sources: []  # x\n", [], "c.yaml") == "sources: []  # x\n"


def test_a_file_ruamel_would_reformat_is_left_alone_with_the_entries_to_paste() -> None:
    # two mapping indents in one file: dumping with either would move the other's lines
    text = "defaults:\n    interval: 5m\nweb:\n  listen: 127.0.0.1:8321\nsources: []\n"
    with pytest.raises(ConfigError) as info:
        append_sources(text, NEW, "c.yaml")
    message = info.value.problems[0]
    assert message.startswith("c.yaml: the file was left as it is: adding them would change line 4")
    assert message.endswith(entries_yaml(NEW).rstrip("\n"))
