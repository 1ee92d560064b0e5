"""Config builders: settings pointing at local servers, validated the way the daemon validates them."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import Config, parse_settings
from monitor.errors import ConfigError


def config_data(
    tmp_path: Path,
    *,
    sources: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    notifiers: dict[str, Any],
    allow: list[str],
    extra: str = "",
    defaults_notify: list[str] | None = None,
) -> dict[str, Any]:
    """The settings a test daemon runs with, as the mapping a config file holds.

    A SQLite file in ``tmp_path``, 1 s polls, quick delivery retries, every notifier by default.
    ``extra`` is YAML merged on top: a mapping section is updated key by key, anything else replaced.
    """
    data: dict[str, Any] = {
        "database": f"sqlite:///{tmp_path}/state.db",
        "allow_networks": allow,
        "defaults": {
            "interval": "1s",
            "notify": defaults_notify if defaults_notify is not None else list(notifiers),
        },
        "delivery": {"retry_base": "1s", "retry_cap": "4s", "timeout": "5s"},
        "notifiers": notifiers,
        "sources": sources,
        "rules": rules,
    }
    for key, value in (yaml.safe_load(textwrap.dedent(extra)) or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def make_config(
    tmp_path: Path,
    *,
    sources: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    notifiers: dict[str, Any],
    allow: list[str],
    extra: str = "",
    defaults_notify: list[str] | None = None,
    write: bool = False,
) -> Config:
    """A validated config (see :func:`config_data`) with a SQLite file in ``tmp_path``.

    Its path is ``tmp_path/config.yaml``; with ``write`` the YAML is written there too, for
    CLI commands that read the file (``sources``, ``outbox``).
    """
    data = config_data(
        tmp_path,
        sources=sources,
        rules=rules,
        notifiers=notifiers,
        allow=allow,
        extra=extra,
        defaults_notify=defaults_notify,
    )
    text = yaml.safe_dump(data, sort_keys=False)
    path = tmp_path / "config.yaml"
    if write:
        path.write_text(text, encoding="utf-8")
    return parse_settings(text, str(path), env={})


def config_problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    """Every problem validation reports for the config ``text`` (read as ``cfg.yaml``).

    Fails the test when the text is accepted.
    """
    with pytest.raises(ConfigError) as info:
        parse_settings(textwrap.dedent(text), "cfg.yaml", env or {})
    return info.value.problems
