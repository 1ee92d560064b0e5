"""Config loading: every broken file gives file:line, key path, the bad value and what is allowed (G-1, G-3, G-6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import expand_string, load_config, load_rules_only, parse_settings
from monitor.config.durations import parse_duration
from monitor.config.models import WebSettings
from monitor.errors import ConfigError
from monitor.redact import known_secrets
from tests.support.configs import config_problems as problems
from tests.support.paths import ROOT

GOOD = """\
notifiers:
  chat: "json://127.0.0.1:1/hook"
  mail:
    urls: ["mailto://127.0.0.1:2525?to=a@example.com&from=n@example.com&mode=insecure"]
    format: html
defaults:
  notify: [chat]
sources:
  - name: wire
    feed: https://example.com/feed.xml
    tags: [world]
rules:
  - name: rare
    query: '"rare earths"'
    notify: [mail]
"""


def test_good_config_loads() -> None:
    config = parse_settings(GOOD, "cfg.yaml", {})
    s = config.settings
    assert [n for n in s.notifiers] == ["chat", "mail"]
    assert s.notifiers["chat"].urls == ["json://127.0.0.1:1/hook"]
    assert s.notifiers["mail"].format == "html"
    assert config.rule_targets(s.rules[0]) == ["mail"]
    assert config.source_interval(s.sources[0]) == 900
    assert config.warnings == []


def test_every_error_reported_at_once() -> None:
    text = GOOD.replace("notify: [mail]", "notify: [nope]").replace("    tags: [world]", "    intervall: 5m")
    found = problems(text)
    assert len(found) == 2
    assert "rules[0].notify[0]" in found[1] and "sources[0]" in found[0]


def test_python_tag_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwn"
    problems(f"sources: !!python/object/apply:os.system ['touch {marker}']\n")
    assert not marker.exists()


def test_env_expansion_forms(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cr3t-from-file\n")
    env = {"HOOK": "127.0.0.1:1"}
    assert expand_string("json://${HOOK}/x", env)[0] == "json://127.0.0.1:1/x"
    assert expand_string("${MISSING:-fallback}", env)[0] == "fallback"
    assert expand_string("price $$5 and $bare", env)[0] == "price $5 and $bare"
    assert expand_string(f"${{file:{secret}}}", env)[0] == "s3cr3t-from-file"
    assert "s3cr3t-from-file" in known_secrets()
    with pytest.raises(ValueError, match="MISSING is not set"):
        expand_string("${MISSING}", env)
    with pytest.raises(ValueError, match="cannot read secret file"):
        expand_string(f"${{file:{tmp_path / 'nope'}}}", env)


def test_missing_variable_error_never_shows_values() -> None:
    text = GOOD.replace("json://127.0.0.1:1/hook", "json://user:${TOKEN_A}@127.0.0.1/${TOKEN_B}")
    found = problems(text, {"TOKEN_A": "canary-value-123"})
    joined = "\n".join(found)
    assert "TOKEN_B is not set" in joined
    assert "canary-value-123" not in joined


def test_expansion_happens_after_parsing() -> None:
    # a value with a colon and quotes stays one string
    config = parse_settings(
        GOOD.replace("json://127.0.0.1:1/hook", "json://${H}/x"), "cfg.yaml", {"H": "127.0.0.1:1"}
    )
    assert config.settings.notifiers["chat"].urls == ["json://127.0.0.1:1/x"]


def test_short_interval_is_a_warning_not_an_error() -> None:
    config = parse_settings(GOOD.replace("    tags: [world]", "    interval: 1s"), "cfg.yaml", {})
    assert config.settings.sources[0].interval == 1
    assert any("under 60s" in w for w in config.warnings)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("2d", 172800),
        ("1h30m", 5400),
        (90, 90),
        ("45", 45),
        (2.5, 2.5),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(str(tmp_path / "nope.yaml"))


def test_load_rules_only_needs_no_secrets(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD.replace("json://127.0.0.1:1/hook", "tgram://${NO_SUCH_TOKEN}/1"))
    rules = load_rules_only(str(path))
    assert [r.name for r in rules] == ["rare"]


def test_example_config_passes_check_with_its_variables() -> None:
    example = ROOT / "config.example.yaml"
    env = {
        "TELEGRAM_BOT_TOKEN": "123456789:AAHfakefakefakefakefakefakefakefake1",
        "TELEGRAM_CHAT_ID": "42",
        "SMTP_USER": "desk",
        "SMTP_PASSWORD": "pw",
    }
    config = parse_settings(example.read_text(), str(example), env)
    assert len(config.settings.sources) >= 3 and len(config.settings.rules) >= 3


def test_the_example_web_section_is_valid_and_states_the_defaults() -> None:
    text = (ROOT / "config.example.yaml").read_text()
    block = text[text.index("# web:") :].split("\n\n")[0]
    uncommented = "\n".join(line.removeprefix("# ") for line in block.splitlines())
    token = "example-token-0123456789"
    web = parse_settings(uncommented, "example-web.yaml", {"NEWSMONITOR_TOKEN": token}).settings.web
    assert web.listen == "127.0.0.1:8321" and web.hosts == ["status.example.org"]
    assert web.token == token
    stated = {"listen", "hosts", "token"}
    assert web.model_dump(exclude=stated) == WebSettings().model_dump(exclude=stated)
