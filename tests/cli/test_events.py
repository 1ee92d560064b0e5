"""``newsmonitor events``: a file of stories grouped into events as ``group: event`` would."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "events" / "stories.jsonl"
STORIES = {row["id"]: row for row in map(json.loads, DATA.open(encoding="utf-8"))}


def line(story_id: str, published: str | None = None) -> str:
    row = STORIES[story_id]
    obj = {"id": story_id, "title": row["title"], "text": row["lead"]}
    if published:
        obj["published"] = published
    return json.dumps(obj)


def test_write_ups_of_one_event_join_the_first_and_another_event_starts_its_own(tmp_path: Path) -> None:
    path = tmp_path / "stories.jsonl"
    ids = ["c7e39ac4", "06e5123e", "dc7ccccc", "bc13ff87", "1ace8c85"]  # Assange, WeWork x3 (one layoffs)
    path.write_text("\n".join(line(i) for i in ids) + "\n\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["events", str(path)])
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.output.splitlines()]
    assert [(o["id"], o["event"], o["started"]) for o in out] == [
        ("c7e39ac4", "c7e39ac4", True),
        ("06e5123e", "06e5123e", True),
        ("dc7ccccc", "c7e39ac4", False),
        ("bc13ff87", "bc13ff87", True),  # WeWork's layoffs: another event of the same company
        ("1ace8c85", "06e5123e", False),
    ]
    assert out[2]["score"] >= 0.25 and out[2]["details"]


def test_the_window_counts_from_published_dates_and_bad_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "stories.jsonl"
    path.write_text(
        "\n".join(
            [line("c7e39ac4", "2019-11-19T10:00:00Z"), "[1, 2]", line("dc7ccccc", "2019-11-19T10:20:00Z")]
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["events", "--window", "10m", str(path)])
    assert result.exit_code == 1
    assert "line 2: not a JSON object" in result.output
    events = [json.loads(x)["event"] for x in result.output.splitlines() if x.startswith("{")]
    assert events == ["c7e39ac4", "dc7ccccc"]  # 20 minutes apart: outside a 10m window


def test_bad_options_name_the_option_and_what_is_allowed() -> None:
    result = CliRunner().invoke(main, ["events", "--threshold", "1.5", "-"], input="")
    assert result.exit_code == 2 and "--threshold" in result.output and "at most 1" in result.output
