"""Table-driven watch-rule cases from tests/data/rule_cases.yaml (one case per line)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from tests.support.paths import DATA

CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "rule_cases.yaml").read_text(encoding="utf-8"))


def story_of(case: dict[str, Any]) -> Story:
    source = str(case.get("source", "test"))
    return Story(
        source=source,
        url=case.get("url", "https://news.example/story"),
        title=str(case.get("title", "")),
        text=str(case.get("text", "")),
        lang=case.get("lang"),
        outlet=case.get("outlet", source),
        source_tags=tuple(case.get("tags", ())),
    )


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", CASES, ids=[f"{i}:{c['q']}" for i, c in enumerate(CASES)])
def test_rule_case(case: dict[str, Any]) -> None:
    spec = RuleSpec("case", str(case["q"]), tuple(case.get("sources", ())), tuple(case.get("rule_tags", ())))
    story = story_of(case)
    matches = Matcher.compile([spec]).match(story)
    assert bool(matches) == case["m"], case.get("note", "")
    if not matches:
        return
    match = matches[0]
    assert match.rule == "case"
    assert match.hits, "a match always names the terms that matched"
    assert 1 <= len(match.snippets) <= 2
    source = story.source if story.outlet in ("", story.source) else f"{story.source}\n{story.outlet}"
    texts = {"title": story.title, "text": story.text, "source": source, "url": story.url}
    for hit in match.hits:
        assert texts[hit.field][hit.start : hit.end], hit
    if "hits" in case:
        assert [texts[h.field][h.start : h.end] for h in match.hits] == case["hits"]
    if "snippet" in case:
        assert match.snippets[0].plain() == case["snippet"]
    for snippet in match.snippets:
        assert len(snippet.text) <= 300
        assert snippet.spans
