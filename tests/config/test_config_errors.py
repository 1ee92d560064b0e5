"""Config-error cases from tests/data/config_errors.yaml: a broken file's error names the line, the key
path, the bad value and what is allowed (G-1, G-3, G-6). One case per entry."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.support.configs import config_problems
from tests.support.paths import DATA

CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "config_errors.yaml").read_text(encoding="utf-8"))


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 24


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_broken_config_names_line_and_key(case: dict[str, Any]) -> None:
    joined = "\n".join(config_problems(case["yaml"]))
    assert case["at"] in joined, joined
    for fragment in case["says"]:
        assert fragment in joined, joined
    for fragment in case.get("never", []):
        assert fragment not in joined, joined
