"""The config stage's place in the house: what it may import, and what of it the sources may see."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported(package: str) -> dict[str, set[str]]:
    """Every module each file of ``monitor/<package>`` imports, at any depth (type-checking blocks too)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "monitor" / package).glob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_sources_see_only_the_settings_models_of_config() -> None:
    for path, names in imported("sources").items():
        reaching = {n for n in names if n.startswith("monitor.config")}
        assert reaching <= {"monitor.config.models"}, (path, reaching)


def test_config_imports_no_stage_that_runs_it() -> None:
    for path, names in imported("config").items():
        upward = {
            n
            for n in names
            if n.split(".")[:2] in (["monitor", "daemon"], ["monitor", "web"], ["monitor", "cli"])
        }
        assert not upward, (path, upward)
