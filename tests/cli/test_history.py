"""``newsmonitor backtest`` and ``newsmonitor rules --report`` over a history the daemon
stored by polling a local site in the last three days (tests/support/history.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.demo.receiver import Receiver
from tests.support.history import Seeded, seed_history
from tests.support.servers import Site


@pytest.fixture
async def seeded(tmp_path: Path, site: Site, receiver: Receiver) -> Seeded:
    return await seed_history(tmp_path, site, receiver)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_backtest_prints_the_matches_their_snippets_and_the_days(seeded: Seeded) -> None:
    code, out = run("backtest", "tariffs", "--config", str(seeded.path))
    assert code == 0, out
    lines = out.splitlines()
    titles = [line.split("  ")[-1] for line in lines if line.startswith("MATCH ")]
    assert titles == ["Tariffs lifted on grain", "Ministers talk trade", "Tariffs hit car exports",
                      "Tariffs loom over steel"]
    assert "  [title] **Tariffs** lifted on grain" in lines
    assert "  terms: tariffs" in lines
    days = {line.split()[0]: int(line.split()[1]) for line in lines if line.startswith("  20")}
    assert len(days) == 31 and sum(days.values()) == 4  # every day of the last 30, today's included
    assert days[seeded.days[1].date().isoformat()] == 2
    assert "4 of 7 stories matched, first seen since" in out


def test_backtest_json_and_its_limits(seeded: Seeded) -> None:
    code, out = run("backtest", "tariffs OR magistrates", "--config", str(seeded.path), "--json", "--limit", "2",
                    "--since", "7d")
    assert code == 0, out
    data = json.loads(out)
    assert (data["searched"], data["matched"], data["without_text"], data["timezone"]) == (7, 5, 0, "UTC")
    assert sum(data["per_day"].values()) == 5 and len(data["per_day"]) == 8
    newest = data["matches"][0]
    assert len(data["matches"]) == 2 and newest["title"] == "Tariffs lifted on grain"
    assert newest["first_seen"] == seeded.days[2].isoformat() and newest["source"] == "wire"
    assert newest["snippets"][0] == "**Tariffs** lifted on grain" and newest["terms"] == ["tariffs"]

    code, out = run("backtest", "tariffs", "--config", str(seeded.path), "--source", "The Gazette")
    assert code == 1 and "0 of 1 stories matched" in out
    code, out = run("backtest", "magistrates", "--config", str(seeded.path), "--tag", "trade")
    assert code == 1 and "0 of 6 stories matched" in out
    code, out = run("backtest", "tariffs", "--config", str(seeded.path), "--limit", "1")
    assert code == 0 and "4 of 7 stories matched" in out and "the newest 1 shown" in out


def test_backtest_refuses_an_invalid_query_and_a_missing_database(tmp_path: Path) -> None:
    code, out = run("backtest", "tariffs AND (", "--config", str(tmp_path / "none.yaml"))
    assert code == 2 and "invalid query" in out and "^" in out
    config = tmp_path / "nm.yaml"
    config.write_text(f"database: sqlite:///{tmp_path}/never.db\nrules:\n  - name: r\n    query: tariffs\n")
    code, out = run("backtest", "tariffs", "--config", str(config))
    assert code == 1 and "no database yet" in out
    code, out = run("rules", "--report", "--config", str(config))
    assert code == 0 and "no database yet" in out
    assert not (tmp_path / "never.db").exists()  # only read, never created


def test_rules_report_shows_noisy_rules_first_and_silent_ones(seeded: Seeded) -> None:
    code, out = run("rules", "--report", "--config", str(seeded.path))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["RULE", "MATCHES", "ALERTS", "LAST"]
    rows = [line.split() for line in lines[1:4]]
    assert [row[:3] for row in rows] == [["tariffs", "3", "3"], ["courts", "1", "1"], ["silent", "0", "0"]]
    assert rows[2][3] == "never" and [int(n) for n in rows[2][4:]] == [0] * 8
    assert [int(n) for n in rows[0][-8:]].count(0) == 6  # 2 then 1, on the days they came
    assert lines[-1].startswith("no match since") and lines[-1].endswith(": silent")

    code, out = run("rules", "--report", "--json", "--since", "30d", "--config", str(seeded.path))
    data = json.loads(out)
    assert [r["rule"] for r in data["rules"]] == ["tariffs", "courts", "silent"]  # the configuration's order
    tariffs = data["rules"][0]
    assert (tariffs["matches"], tariffs["alerts"], tariffs["last_match"]) == (3, 3, seeded.days[2].isoformat())
    assert tariffs["per_day"][seeded.days[1].date().isoformat()] == 2 and len(tariffs["per_day"]) == 31
    assert data["silent"] == ["silent"]
    code, out = run("rules", "--report", "--config", str(seeded.path), "--since", "30d")
    assert "the last 14 days shown" in out


def test_rules_lists_the_configured_rules(seeded: Seeded) -> None:
    code, out = run("rules", "--config", str(seeded.path))
    assert code == 0, out
    assert [line.split()[:2] for line in out.splitlines()[1:]] == [["tariffs", "on"], ["courts", "on"],
                                                                   ["silent", "on"]]
    assert "chat,locked" in out
    data = json.loads(run("rules", "--json", "--config", str(seeded.path))[1])
    assert data["rules"][1] == {"name": "courts", "enabled": True, "query": "magistrates",
                                "notify": ["chat", "locked"]}


def test_backtest_of_a_topic_rule_explains_each_score(seeded: Seeded) -> None:
    code, out = run("backtest", "--about", "tariffs and trade disputes between countries", "--config",
                    str(seeded.path), "--json", "--threshold", "0.3")
    assert code == 0, out
    data = json.loads(out)
    titles = {m["title"] for m in data["matches"]}
    assert {"Tariffs hit car exports", "Ministers talk trade"} <= titles
    assert "Rain expected at weekend" not in titles and "Harbour festival opens" not in titles
    for found in data["matches"]:
        assert found["similarity"] >= found["threshold"] == 0.3 and found["sentence"]
        assert found["snippets"][0].startswith(f"(similarity {found['similarity']:.2f}) ")
    code, out = run("backtest", "--about", "tariffs and trade disputes", "--config", str(seeded.path), "--threshold",
                    "0.3")
    assert code == 0 and "similarity 0." in out and "(threshold 0.300)" in out
    code, out = run("backtest", "--config", str(seeded.path))
    assert code == 2 and "expected QUERY, --about TEXT, or both" in out
    code, out = run("backtest", "--about", "tariffs", "--config", str(seeded.path))
    assert code == 2 and "in a few words" in out
