"""``newsmonitor match`` prints what it printed before its speed work, byte for byte.

The stories are corpus articles in eight languages, declared right, wrong or not at all,
with hand-written lines for the edge cases (a lone surrogate, bad lines, upper case); the
rules use every operator, ``lang:`` and inflections. ``tests/data/cli/match-output.jsonl``
was written by the code before the change (``python tests/cli/test_match_output.py OUT``
writes the input files; ``newsmonitor match --rules OUT/rules.yaml OUT/stories.jsonl``
the output).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.matching import index_builds
from tests.support.paths import DATA, need_corpus

EXPECTED = DATA / "cli" / "match-output.jsonl"

RULES = [
    "government", "market* NOT stock*", '"prime minister"', "Google OR Apple", "=US", "sanction*",
    "election*", "compan* AND (oil OR gas OR energy)", "data NEAR/5 privacy", "title:apple", "president",
    '"artificial intelligence" OR AI', "price* -Bitcoin", "lang:de Regierung", "lang:de (Bundes* OR Kanzler*)",
    "lang:fr gouvernement", "lang:es gobierno", "lang:en city", "lang:zh 中国", "lang:ar السعودية",
    "Japan NEAR/10 (China OR Korea)", "design* AND user*", "year NOT title:year", "children", "police",
    "lang:lv Latvija*", "lang:th ประเทศ", "lang:ja 日本",
]
#: what each story declares, in turn: right, nothing, wrong (German), a region tag, blank
DECLARED = ["en", None, "de", "en-GB", ""]


def story_lines() -> list[str]:
    """The input lines: the multilingual corpus articles and every fourth other one, cut to
    3 000 characters, and the edge cases."""
    rows = [json.loads(line) for line in need_corpus("articles", "index.jsonl").open(encoding="utf-8")]
    rows = [row for i, row in enumerate(rows) if row["set"] == "newspaper4k" or i % 4 == 0]
    lines = []
    for i, row in enumerate(rows):
        story = {"id": row["id"].split(":")[-1][:16], "title": row["title"] or "",
                 "text": (row["ground_truth"] or "")[:3000], "url": row["url"], "source": row["domain"]}
        declared = row.get("language") if row["set"] == "newspaper4k" else DECLARED[i % len(DECLARED)]
        if declared is not None:
            story["lang"] = declared
        lines.append(json.dumps(story, ensure_ascii=i % 2 == 0))
    lines += [
        '{"id": "surrogate\\ud800", "title": "Government \\udc00 sanctions", "text": "The president said."}',
        json.dumps({"id": "upper", "text": "THE GOVERNMENT OF JAPAN AND CHINA TALKED ABOUT PRICES " * 4}),
        "{not json", json.dumps({"title": "no id"}), "", json.dumps([1]), json.dumps({"id": 1, "text": 5}),
        json.dumps({"id": "summary only", "summary": "Die Regierung hat am Montag neue Sanktionen beschlossen, "
                    "sagte die Bundeskanzlerin in Berlin vor Journalisten und Vertretern der Wirtschaft.",
                    "source_tags": ["de"]}),
    ]
    return lines


def rules_yaml() -> str:
    return "".join(f"- name: r{i}\n  query: {json.dumps(query, ensure_ascii=False)}\n" for i, query in enumerate(RULES))


@pytest.mark.corpus
def test_match_prints_what_it_printed_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.cli.rules import match

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / "rules.yaml").write_text(rules_yaml(), encoding="utf-8")
    (tmp_path / "stories.jsonl").write_text("\n".join(story_lines()) + "\n", encoding="utf-8")
    result = CliRunner().invoke(match, ["--rules", str(tmp_path / "rules.yaml"), str(tmp_path / "stories.jsonl")])
    assert result.exit_code == 1  # the bad lines
    expected = EXPECTED.read_text(encoding="utf-8")
    assert sum(bool(json.loads(line).get("matches")) for line in expected.splitlines()) > 20  # it tests something
    assert result.stdout == expected


@pytest.mark.corpus
def test_a_second_run_reads_the_languages_indexes_the_first_built(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """With the rules cached (as a large rule set is), the first run keeps the index of each
    language its stories are in, and the next run reads them instead of building any: the
    same output, byte for byte."""
    from monitor.cli.rules import match
    from monitor.daemon import rulecache

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(rulecache, "CACHE_FROM", 1)
    (tmp_path / "rules.yaml").write_text(rules_yaml(), encoding="utf-8")
    (tmp_path / "stories.jsonl").write_text("\n".join(story_lines()) + "\n", encoding="utf-8")
    built = index_builds(monkeypatch)
    expected = EXPECTED.read_text(encoding="utf-8")
    outputs, builds = [], []
    for _ in range(2):
        result = CliRunner().invoke(match, ["--rules", str(tmp_path / "rules.yaml"), str(tmp_path / "stories.jsonl")])
        assert result.exit_code == 1  # the bad lines
        outputs.append(result.stdout)
        builds.append(list(built))
        built.clear()
    assert len(builds[0]) > 4 and builds[0][0] == "en"  # English with the matcher, then each language met
    kept = sorted(p.name.split(".")[1] for p in (tmp_path / "state").rglob("rules-*.*.pickle"))
    assert kept == sorted(builds[0][1:])
    assert builds[1] == []
    assert outputs == [expected, expected]


@pytest.mark.corpus
def test_names_only_gives_the_same_matches_without_their_evidence(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.cli.rules import match

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / "rules.yaml").write_text(rules_yaml(), encoding="utf-8")
    (tmp_path / "stories.jsonl").write_text("\n".join(story_lines()) + "\n", encoding="utf-8")
    result = CliRunner().invoke(match, ["--names-only", "--rules", str(tmp_path / "rules.yaml"),
                                        str(tmp_path / "stories.jsonl")])
    assert result.exit_code == 1  # the bad lines
    expected = []
    for line in EXPECTED.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if "matches" in obj:
            obj["matches"] = [{"rule": m["rule"]} for m in obj["matches"]]
        expected.append(obj)
    assert [json.loads(line) for line in result.stdout.splitlines()] == expected


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    (out / "rules.yaml").write_text(rules_yaml(), encoding="utf-8")
    (out / "stories.jsonl").write_text("\n".join(story_lines()) + "\n", encoding="utf-8")
