"""Test helpers around the matcher's internals."""

from __future__ import annotations

import pytest

from monitor.rules import matcher as matcher_module


def index_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The languages whose index is built from now on (by any matcher), in order: a test
    of the kept indexes (see ``monitor.daemon.rulecache``) shows none was built again."""
    built: list[str] = []
    init = matcher_module._Index.__init__

    def counted(self: object, rules: object, lang: str, *args: object) -> None:
        built.append(lang)
        init(self, rules, lang, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(matcher_module._Index, "__init__", counted)
    return built
