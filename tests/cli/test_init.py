"""``newsmonitor init``: the starter file passes ``check`` and the schema, keeps the notifier's
secret out of itself, never overwrites, and asks in a terminal."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner, Result

from monitor.cli import main
from monitor.config import load_config
from monitor.config.schema import config_schema
from tests.support.paths import DATA

HOOK = "json://user:canaryinit93f1@127.0.0.1:1/hook"


def init(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["init", "--config", str(tmp_path / "nm.yaml"), *args], env=env)


def newsmonitor(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})}, check=False,
    )


def test_the_starter_passes_check_and_the_schema_and_keeps_the_secret_apart(tmp_path: Path) -> None:
    result = init(tmp_path, "--notify", HOOK, "--rule", '"rare earths" OR lithium')
    assert result.exit_code == 0, result.output
    config, secret, schema = tmp_path / "nm.yaml", tmp_path / "nm.alerts.secret", tmp_path / "newsmonitor.schema.json"
    text = config.read_text()
    assert "canaryinit93f1" not in text and "canaryinit93f1" not in result.output
    assert secret.read_text() == HOOK + "\n" and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert f"${{file:{secret.resolve()}}}" in text
    assert text.splitlines()[0] == "# yaml-language-server: $schema=newsmonitor.schema.json" and schema.exists()
    errors = list(jsonschema.Draft202012Validator(config_schema()).iter_errors(yaml.safe_load(text)))
    assert errors == []
    check = newsmonitor("check", "--config", str(config), cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK: 0 sources, 1 rules, 1 notifiers" in check.stdout and check.stderr == ""
    settings = load_config(str(config)).settings
    assert settings.rules[0].name == "rare-earths-or-lithium" and settings.rules[0].query == '"rare earths" OR lithium'
    assert settings.notifiers["alerts"].urls == [HOOK] and settings.defaults.notify == ["alerts"]


@pytest.mark.parametrize(
    "query",
    ["yes", "title: Japan", "Japan # not a comment", "- minus", "'quoted' AND \"double\"", "Zürich OR 東京", "%percent"],
)
def test_any_query_is_written_so_it_reads_back_the_same(tmp_path: Path, query: str) -> None:
    result = init(tmp_path, "--rule", query, "--rule-name", "r")
    if result.exit_code == 2:  # not a query at all: said, and nothing written
        assert "--rule:" in result.stderr and not (tmp_path / "nm.yaml").exists()
        return
    assert result.exit_code == 0, result.output
    assert load_config(str(tmp_path / "nm.yaml")).settings.rules[0].query == query


def test_without_a_notifier_the_file_is_still_valid(tmp_path: Path) -> None:
    result = init(tmp_path, "--rule", "lithium")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "nm.alerts.secret").exists()
    check = CliRunner().invoke(main, ["check", "--config", str(tmp_path / "nm.yaml")])
    assert check.exit_code == 0 and "OK: 0 sources, 1 rules, 0 notifiers" in check.output


def test_a_variable_reference_is_written_as_it_is(tmp_path: Path) -> None:
    result = init(tmp_path, "--notify", "${NM_TEST_HOOK}", "--rule", "lithium", env={"NM_TEST_HOOK": ""})
    assert result.exit_code == 0, result.output
    assert "note: environment variable NM_TEST_HOOK is not set" in result.output
    assert "alerts: ${NM_TEST_HOOK}" in (tmp_path / "nm.yaml").read_text()
    assert not (tmp_path / "nm.alerts.secret").exists()
    check = CliRunner().invoke(main, ["check", "--config", str(tmp_path / "nm.yaml")], env={"NM_TEST_HOOK": HOOK})
    assert check.exit_code == 0, check.output


@pytest.mark.parametrize("existing", ["nm.yaml", "nm.alerts.secret"])
def test_it_never_overwrites(tmp_path: Path, existing: str) -> None:
    (tmp_path / existing).write_text("mine\n")
    result = init(tmp_path, "--notify", HOOK, "--rule", "lithium")
    assert result.exit_code == 2
    assert f"{tmp_path / existing} exists; init never overwrites a file" in result.stderr
    assert (tmp_path / existing).read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([], "give the first rule with --rule QUERY (or run init in a terminal to be asked)"),
        (["--rule", "Japan AND ("], "--rule: "),
        (["--rule", "x", "--notify", "nope://x"], "--notify: apprise cannot use this URL (scheme 'nope')"),
        (["--rule", "x", "--notify", "no scheme at all"], "--notify: not an apprise URL"),
    ],
)
def test_what_cannot_work_is_exit_2_and_writes_nothing(tmp_path: Path, args: list[str], said: str) -> None:
    result = init(tmp_path, *args)
    assert result.exit_code == 2
    assert said in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_init_then_import_then_check(tmp_path: Path) -> None:
    assert init(tmp_path, "--notify", HOOK, "--rule", "lithium").exit_code == 0
    config = tmp_path / "nm.yaml"
    starter = config.read_text()
    imported = CliRunner().invoke(main, ["import-opml", "--config", str(config), str(DATA / "opml" / "feedly.opml")])
    assert imported.exit_code == 0, imported.output
    after = config.read_text()
    kept = [line for line in starter.splitlines() if line != "sources: []"]
    assert all(line in after.splitlines() for line in kept)
    check = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert check.exit_code == 0 and "OK: 6 sources, 1 rules, 1 notifiers" in check.output, check.output


class Terminal:
    """The leader side of a pseudo-terminal: what the program wrote, read up to each prompt."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.seen = bytearray()
        self.at = 0

    def expect(self, wanted: bytes, timeout: float = 30) -> None:
        """Read until ``wanted`` appears after what was expected before; move past it."""
        deadline = time.monotonic() + timeout
        while (found := self.seen.find(wanted, self.at)) < 0:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {wanted!r}; got {bytes(self.seen)!r}"
            if select.select([self.fd], [], [], left)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the program closed the terminal
                    chunk = b""
                assert chunk, f"the program ended before {wanted!r}; got {bytes(self.seen)!r}"
                self.seen.extend(chunk)
        self.at = found + len(wanted)

    def answer(self, line: bytes) -> None:
        os.write(self.fd, line + b"\n")


def test_in_a_terminal_it_asks_until_the_answers_work(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "init"], cwd=tmp_path, stdin=follower, stdout=follower, stderr=follower,
        env={**os.environ, "NEWSMONITOR_CONFIG": ""}, close_fds=True,
    )
    os.close(follower)
    terminal = Terminal(leader)
    try:
        terminal.expect(b"First rule")
        terminal.answer(b"Japan AND (")  # does not parse: asked again
        terminal.expect(b"try again")
        terminal.expect(b"First rule")
        terminal.answer(b"Japan NEAR/10 defence")
        terminal.expect(b"Where alerts go")
        terminal.answer(b"nope://x")  # apprise does not know it: asked again
        terminal.expect(b"scheme 'nope'")
        terminal.expect(b"Where alerts go")
        terminal.answer(HOOK.encode())
        terminal.expect(b"next: add sources")
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    config = tmp_path / "newsmonitor.yaml"
    settings = load_config(str(config)).settings
    assert settings.rules[0].query == "Japan NEAR/10 defence" and settings.notifiers["alerts"].urls == [HOOK]
    assert (tmp_path / "newsmonitor.alerts.secret").exists()
    assert b"canaryinit93f1" not in terminal.seen  # the URL is a credential: never echoed
