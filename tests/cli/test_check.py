"""``check`` says what cannot work."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from monitor.cli import main


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


# ---------------------------------------------------------------------------- what check says


def test_an_empty_file_is_not_ok(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# to do\n")
    code, out = run("check", "--config", str(path))
    assert code == 2
    assert f"{path}:1:1: the file is empty" in out and "OK" not in out


def test_check_names_the_source_the_address_guard_refuses(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sources:\n  - name: intranet\n    feed: http://10.0.0.7:8080/rss\nrules: []\n")
    code, out = run("check", "--config", str(path))
    assert code == 2
    assert f"{path}:3:11: sources[0].feed: every poll of http://10.0.0.7:8080/rss would fail" in out
    assert 'allow_networks: ["10.0.0.7:8080"]' in out
