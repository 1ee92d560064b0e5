"""The hand-labelled set that topic rules are scored on (tests/data/topics, benchmarks/topics.py):
its files stay consistent as they are edited. No model is loaded here."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from monitor.rules import parse_query

DATA = Path(__file__).resolve().parents[1] / "data" / "topics"
STORY_FIELDS = {"id", "outlet", "url", "title", "text", "language", "source"}
NEED_FIELDS = {"name", "about", "query", "relevant", "borderline"}


def _stories() -> list[dict[str, str]]:
    return [json.loads(line) for line in (DATA / "stories.jsonl").read_text(encoding="utf-8").splitlines() if line]


def _needs() -> list[dict[str, object]]:
    needs = yaml.safe_load((DATA / "needs.yaml").read_text(encoding="utf-8"))
    assert isinstance(needs, list)
    return needs


def test_stories_have_every_field_and_unique_ids() -> None:
    stories = _stories()
    assert len(stories) >= 150
    for s in stories:
        assert set(s) == STORY_FIELDS, s.get("id")
        assert s["title"].strip() and len(s["text"]) >= 100, s["id"]
        assert len(s["text"]) <= 1600, s["id"]
    ids = Counter(s["id"] for s in stories)
    assert [i for i, n in ids.items() if n > 1] == []


def test_needs_are_complete_and_their_labels_name_stories() -> None:
    ids = {s["id"] for s in _stories()}
    needs = _needs()
    assert len(needs) >= 30
    assert len({n["name"] for n in needs}) == len(needs)
    for n in needs:
        assert set(n) <= NEED_FIELDS and {"name", "about", "query", "relevant"} <= set(n), n.get("name")
        relevant = n["relevant"]
        borderline = n.get("borderline") or {}
        assert isinstance(relevant, dict) and isinstance(borderline, dict)
        assert relevant, f"{n['name']}: no relevant story"
        assert set(relevant) <= ids, f"{n['name']}: unknown ids {sorted(set(relevant) - ids)}"
        assert set(borderline) <= ids, f"{n['name']}: unknown ids {sorted(set(borderline) - ids)}"
        assert not set(relevant) & set(borderline), f"{n['name']}: a story both relevant and borderline"
        reasons = list(relevant.values()) + list(borderline.values())
        assert all(isinstance(r, str) and r.strip() for r in reasons), f"{n['name']}: a label without its reason"


@pytest.mark.parametrize("need", _needs(), ids=lambda n: str(n["name"]))
def test_every_query_parses(need: dict[str, object]) -> None:
    query = need["query"]
    assert isinstance(query, str)
    parse_query(query)
