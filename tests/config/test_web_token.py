"""web.token: long enough, required off loopback, its value never quoted in an error."""

from __future__ import annotations

from monitor.config import parse_settings
from tests.support.configs import config_problems

BASE = "sources: [{name: a, feed: 'https://example.org/feed.xml'}]\nrules: [{name: r, query: x}]\n"


def test_a_short_token_is_refused_at_its_line_without_its_value() -> None:
    problems = config_problems(BASE + "web:\n  listen: 127.0.0.1:8321\n  token: ${TOK}\n", env={"TOK": "short-secret"})
    assert len(problems) == 1 and problems[0].startswith("cfg.yaml:5:")
    assert "web.token" in problems[0] and "too short" in problems[0] and "short-secret" not in problems[0]


def test_a_token_is_required_off_loopback() -> None:
    problems = config_problems(BASE + "web:\n  listen: 0.0.0.0:8321\n")
    assert len(problems) == 1 and problems[0].startswith("cfg.yaml:4:") and "required" in problems[0]


def test_loopback_without_a_token_and_any_address_with_one_are_accepted() -> None:
    parse_settings(BASE + "web: {listen: 127.0.0.1:8321}\n", "cfg.yaml", {})
    parse_settings(BASE + "web: {listen: '[::1]:8321'}\n", "cfg.yaml", {})
    settings = parse_settings(
        BASE + "web: {listen: 0.0.0.0:8321, token: '${T}'}\n", "cfg.yaml", {"T": "x" * 32}
    ).settings
    assert settings.web.token == "x" * 32 and settings.web.refresh == 30.0
