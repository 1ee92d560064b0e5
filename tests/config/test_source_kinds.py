"""Every registered source kind describes itself, loads from a minimal entry and checks its options.

The tests walk :data:`monitor.sources.REGISTRY`, so a new kind is covered by them as soon
as it is registered.
"""

from __future__ import annotations

import re

import pytest

from monitor.config import SourceSettings, parse_settings
from monitor.errors import ConfigError
from monitor.sources import REGISTRY, OptionProblem, SourceKind, kind_for
from monitor.sources.feed import FeedSource

KINDS = sorted(REGISTRY)
FIELDS = set(SourceSettings.model_fields)
#: the position of the value of each line's key in the entries written by entry()
LOCATION = re.compile(r"^cfg\.yaml:(\d+):(\d+): ")


def entry(kind: str, extra: str = "", url: str = "https://example.com/news/") -> str:
    return f"sources:\n  - name: desk\n    {kind}: {url}\n{extra}"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "cfg.yaml", {})
    return info.value.problems


@pytest.mark.parametrize("name", KINDS)
def test_every_kind_describes_itself(name: str) -> None:
    kind = kind_for(name)
    assert kind.kind == name
    assert kind.description.strip()
    assert name in FIELDS, f"SourceSettings has no '{name}:' key for the kind"
    assert kind.options <= FIELDS, kind.options - FIELDS
    src = SourceSettings.model_validate({"name": "desk", name: "https://example.com/news/"})
    assert (src.kind, src.url) == (name, "https://example.com/news/")


@pytest.mark.parametrize("name", KINDS)
def test_every_kind_accepts_a_minimal_entry(name: str) -> None:
    config = parse_settings(entry(name), "cfg.yaml", {})
    assert config.warnings == []
    assert [s.kind for s in config.settings.sources] == [name]


@pytest.mark.parametrize("name", KINDS)
def test_a_bad_url_is_reported_at_the_kinds_key(name: str) -> None:
    found = problems(entry(name, url="file:///etc/passwd"))
    assert found == [
        f"cfg.yaml:3:{7 + len(name)}: sources[0].{name}: only http:// and https:// URLs are fetched "
        "(got scheme 'file')"
    ]


@pytest.mark.parametrize(("name", "option"), [(k, o) for k in KINDS for o in sorted(kind_for(k).options)])
def test_a_bad_option_is_reported_at_its_key(name: str, option: str) -> None:
    found = problems(entry(name, f"    {option}: {{not: right}}\n"))
    assert found, option
    for problem in found:
        assert problem.startswith(f"cfg.yaml:4:{7 + len(option)}: sources[0].{option}"), problem


@pytest.mark.parametrize("name", KINDS)
def test_option_problems_name_keys_of_the_entry(name: str) -> None:
    src = SourceSettings.model_validate(
        {"name": "desk", name: "https://x.example/", "include": ["(", "ok"], "exclude": ["["], "links": "a[["}
    )
    found = kind_for(name).check(src)
    assert {p.key for p in found} >= {("include", 0), ("exclude", 0), ("links",)}
    for problem in found:
        assert problem.key[0] in FIELDS and problem.message
    text = entry(name, "    include: ['(']\n    links: 'a[['\n")
    assert [LOCATION.sub("", p).split(":")[0] for p in problems(text)] == [
        "sources[0].include[0]",
        "sources[0].links",
    ]


def test_an_entry_must_name_exactly_one_registered_kind() -> None:
    keys = " or ".join(f"{k}:" for k in REGISTRY)
    both = "sources:\n  - name: desk\n" + "".join(f"    {k}: https://example.com/{k}\n" for k in REGISTRY)
    for text in ("sources:\n  - name: desk\n", both):
        assert problems(text) == [f"cfg.yaml:2:5: sources[0]: a source needs exactly one of {keys} (a URL)"]


def test_the_config_check_asks_the_registered_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    class Picky(FeedSource):
        @classmethod
        def check_url(cls, url: str) -> str | None:
            return "this kind takes no URLs today"

        @classmethod
        def check(cls, settings: SourceSettings) -> list[OptionProblem]:
            return [OptionProblem(("tags", 0), "this kind takes no tags")]

    monkeypatch.setitem(REGISTRY, "feed", Picky)
    found = problems(entry("feed", "    tags: [world]\n"))
    assert [LOCATION.sub("", p) for p in found] == [
        "sources[0].feed: this kind takes no URLs today",
        "sources[0].tags[0]: this kind takes no tags",
    ]


def test_only_a_page_refuses_full_text_false_on_its_entry() -> None:
    assert problems(entry("page", "    full_text: false\n")) == [
        "cfg.yaml:4:16: sources[0].full_text: page sources always fetch the article text; "
        "full_text: false is only for feeds"
    ]
    parse_settings(entry("feed", "    full_text: false\n"), "cfg.yaml", {})


def test_the_base_contract_checks_link_filters_for_every_kind() -> None:
    src = SourceSettings.model_validate({"name": "d", "feed": "https://x.example/", "exclude": ["ok", "["]})
    assert SourceKind.check(src) == [
        OptionProblem(("exclude", 1), "invalid regular expression: unterminated character set at position 0")
    ]
