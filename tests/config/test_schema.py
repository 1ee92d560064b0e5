"""The JSON Schema of the configuration: made from the models, shipped up to date in
docs/config.schema.json, named by the example's first line, and agreeing with the loader."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import parse_settings
from monitor.config.schema import config_schema, schema_text
from monitor.errors import ConfigError
from tests.support.paths import ROOT

SHIPPED = ROOT / "docs" / "config.schema.json"
EXAMPLE = ROOT / "config.example.yaml"


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(config_schema())


def test_the_shipped_schema_is_up_to_date() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == schema_text(), (
        "docs/config.schema.json is out of date: run `newsmonitor schema > docs/config.schema.json`"
    )


def test_the_schema_command_prints_it() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert result.output == SHIPPED.read_text(encoding="utf-8")
    assert json.loads(result.output)["title"] == "newsmonitor configuration"


def test_it_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(config_schema())


def test_the_example_names_the_schema_and_validates_against_it() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    assert (EXAMPLE.parent / first.split("$schema=", 1)[1]).resolve() == SHIPPED.resolve()
    errors = [f"{e.json_path}: {e.message}" for e in validator().iter_errors(yaml.safe_load(text))]
    assert errors == []


#: (a file, whether the loader accepts it): the schema must say the same
CASES: list[tuple[str, str, bool]] = [
    ("notifier as one URL", "notifiers: {a: 'json://127.0.0.1:1/x'}", True),
    ("notifier as a list", "notifiers: {a: ['json://127.0.0.1:1/x', 'json://127.0.0.1:1/y']}", True),
    ("notifier urls as one string", "notifiers: {a: {urls: 'json://127.0.0.1:1/x', format: html}}", True),
    ("durations in words and numbers", "defaults: {interval: 1h30m, max_age: 86400}\ndelivery: {timeout: 45s}", True),
    ("tags and notify as one string", "sources: [{name: s, feed: 'https://a.example/rss', tags: world}]", True),
    ("an inherited option set to null", "sources: [{name: s, feed: 'https://a.example/rss', interval: null}]", True),
    ("a page source", "sources: [{name: s, page: 'https://a.example/news/', links: 'a.story'}]", True),
    ("a secret reference", "notifiers: {a: '${HOOK}'}", True),
    ("an unknown top-level key", "sourcse: []", False),
    ("an unknown source key", "sources: [{name: s, feed: 'https://a.example/rss', intervall: 5m}]", False),
    ("a duration in words the loader cannot read", "defaults: {interval: 10 minutes}", False),
    ("a negative duration", "defaults: {interval: -5}", False),
    ("full_text neither boolean nor auto", "defaults: {full_text: sometimes}", False),
    ("a source without feed or page", "sources: [{name: s}]", False),
    ("a source with both feed and page", "sources: [{name: s, feed: 'https://a/rss', page: 'https://a/'}]", False),
    ("a rule without a query", "rules: [{name: r}]", False),
    ("a spike rule", "rules: [{name: base, query: x}, {name: s, spike: {rule: base, factor: 4, window: 2h}}]", True),
    ("a spike rule with a query too", "rules: [{name: base, query: x}, {name: s, query: y, spike: {rule: base}}]", False),
    ("a spike factor of 1", "rules: [{name: base, query: x}, {name: s, spike: {rule: base, factor: 1}}]", False),
    ("a notifier format that does not exist", "notifiers: {a: {urls: ['json://127.0.0.1:1/x'], format: pdf}}", False),
    ("max_per_hour zero", "notifiers: {a: {urls: ['json://127.0.0.1:1/x'], max_per_hour: 0}}", False),
]


@pytest.mark.parametrize(("text", "valid"), [(t, v) for _, t, v in CASES], ids=[c[0] for c in CASES])
def test_the_schema_and_the_loader_agree(text: str, valid: bool) -> None:
    base = "sources: [{name: base, feed: 'https://base.example/rss'}]\nrules: [{name: base, query: x}]\n"
    data: dict[str, Any] = {**yaml.safe_load(base), **yaml.safe_load(textwrap.dedent(text))}
    document = yaml.safe_dump(data)
    schema_ok = not list(validator().iter_errors(data))
    try:
        parse_settings(document, "c.yaml", {"HOOK": "json://127.0.0.1:1/hook"})
        loader_ok = True
    except ConfigError:
        loader_ok = False
    assert (schema_ok, loader_ok) == (valid, valid)


def test_durations_show_their_default_as_written() -> None:
    defaults = config_schema()["$defs"]["Defaults"]["properties"]
    assert defaults["interval"]["default"] == "15m" and defaults["max_age"]["default"] == "7d"
    assert "Poll interval" in defaults["interval"]["description"]
