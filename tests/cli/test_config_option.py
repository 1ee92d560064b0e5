"""``--config`` works before the command too (``newsmonitor --config FILE check``), for every
command that takes one; the command's own ``--config`` wins, ``NEWSMONITOR_CONFIG`` still works."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def good(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/{name}.db",
                "sources": [{"name": "wire", "feed": "https://example.com/feed.xml"}],
                "rules": [{"name": "r", "query": "lithium"}],
            }
        )
    )
    return path


def test_config_before_the_command_is_accepted(tmp_path: Path) -> None:
    config = good(tmp_path, "a.yaml")
    code, out = run("--config", str(config), "check")
    assert code == 0, out
    assert f"{config}: OK: 1 sources, 1 rules, 0 notifiers" in out


@pytest.mark.parametrize(
    ("env", "before", "after", "used"),
    [
        ("env.yaml", None, None, "env.yaml"),  # NEWSMONITOR_CONFIG keeps working
        ("env.yaml", "group.yaml", None, "group.yaml"),  # the command line wins over the environment
        (None, "group.yaml", "own.yaml", "own.yaml"),  # the command's own --config wins
        ("env.yaml", None, "own.yaml", "own.yaml"),
        ("env.yaml", "group.yaml", "own.yaml", "own.yaml"),
    ],
)
def test_which_config_a_command_uses(
    tmp_path: Path, env: str | None, before: str | None, after: str | None, used: str
) -> None:
    for name in ("env.yaml", "group.yaml", "own.yaml"):
        good(tmp_path, name)
    args = [*(["--config", str(tmp_path / before)] if before else []), "check"]
    args += ["--config", str(tmp_path / after)] if after else []
    code, out = run(*args, env={"NEWSMONITOR_CONFIG": str(tmp_path / env)} if env else None)
    assert code == 0, out
    assert f"{tmp_path / used}: OK" in out


def test_every_command_with_a_config_takes_it_from_before_the_command(tmp_path: Path) -> None:
    config = good(tmp_path, "a.yaml")
    missing = {"NEWSMONITOR_CONFIG": str(tmp_path / "missing.yaml")}  # used would be exit 2
    for args in (["sources"], ["outbox"], ["outbox", "retry", "--all-dead"]):
        code, out = run("--config", str(config), *args, env=missing)
        assert code == 0, (args, out)
        assert "no database yet" in out
    code, out = run("--config", str(tmp_path / "missing.yaml"), "outbox", "--config", str(config), "retry", "--all-dead")
    assert code == 0 and "requeued 0 rows" in out, out


def test_match_takes_the_config_from_before_the_command_unless_given_rules(tmp_path: Path) -> None:
    config = good(tmp_path, "a.yaml")
    stories = tmp_path / "s.jsonl"
    stories.write_text('{"id": 1, "title": "Lithium prices", "text": "Lithium."}\n')
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {name: other, query: cobalt}\n")
    code, out = run("--config", str(config), "match", str(stories))
    assert code == 0 and '"rule": "r"' in out, out
    code, out = run("--config", str(config), "match", "--rules", str(rules), str(stories))
    assert code == 0 and '"matches": []' in out, out
