"""The import rules of docs/architecture.md, read from the code's own imports.

Every ``import monitor...`` in ``monitor/`` (function-local ones included) is mapped to
the layer of its package; an import a layer is not allowed is a failure that names the
file, the line and the rule. A new package must be given a layer here and in the doc.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import ROOT

PACKAGE = ROOT / "monitor"

#: what every layer may import, besides itself (see docs/architecture.md)
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "settings": {"base"},
    "extract": {"base"},
    "rules": {"base"},
    "store": {"base"},
    "notify": {"base"},
    "fetch": {"base"},
    "web": {"base"},
    "identity": {"base", "extract"},
    "subscriptions": {"base", "settings", "extract"},
    "sources": {"base", "settings", "extract"},
    "config": {"base", "settings", "rules", "notify", "fetch", "sources"},
    "daemon": {
        "base", "settings", "config", "extract", "rules", "store", "notify", "fetch", "identity",
        "sources", "web", "subscriptions",
    },
    "demo": {"base", "settings", "config", "daemon"},
    "cli": {
        "base", "settings", "config", "extract", "rules", "store", "notify", "fetch", "identity",
        "sources", "web", "daemon", "demo", "subscriptions",
    },
    "main": {"cli"},
}

#: modules that form a layer of their own inside a package (most specific first)
SPECIAL = {
    "monitor.config.models": "settings",
    "monitor.config.durations": "settings",
    "monitor.__main__": "main",
}
BASE = {"monitor", "monitor.errors", "monitor.models", "monitor.clock", "monitor.redact", "monitor.logformat"}


def layer_of(module: str) -> str:
    """The layer of a dotted module name under ``monitor``."""
    for prefix, layer in SPECIAL.items():
        if module == prefix or module.startswith(prefix + "."):
            return layer
    if module in BASE:
        return "base"
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ALLOWED:
        return parts[1]
    raise AssertionError(f"{module} belongs to no layer: add it to tests/test_architecture.py and the doc")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every monitor module ``path`` imports, with the line (``from monitor import x`` counts x)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "monitor":
                for alias in node.names:
                    target = f"monitor.{alias.name}"
                    yield node.lineno, target if (PACKAGE / alias.name).exists() else "monitor"
            elif node.module.startswith("monitor."):
                yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("monitor"):
                    yield node.lineno, alias.name


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        here = layer_of(source)
        for line, target in imports(path):
            there = layer_of(target)
            if there != here and there not in ALLOWED[here]:
                found.append(f"{path.relative_to(ROOT)}:{line}: {here} may not import {there} ({target})")
    return found


def test_every_import_follows_the_layers() -> None:
    assert violations() == []


def test_the_layers_form_no_cycle() -> None:
    done: set[str] = set()

    def visit(layer: str, path: tuple[str, ...]) -> None:
        if layer in path:
            pytest.fail("layer cycle: " + " -> ".join((*path, layer)))
        if layer in done:
            return
        for lower in ALLOWED[layer]:
            visit(lower, (*path, layer))
        done.add(layer)

    for layer in ALLOWED:
        visit(layer, ())


def test_the_check_sees_a_bad_import(tmp_path: Path) -> None:
    # the rule engine itself: a rules module importing the daemon must be reported
    bad = tmp_path / "bad.py"
    bad.write_text("from monitor.daemon.service import Daemon\nimport monitor.fetch.client\n")
    found = [t for _, t in imports(bad)]
    assert found == ["monitor.daemon.service", "monitor.fetch.client"]
    assert "daemon" not in ALLOWED[layer_of("monitor.rules.matcher")]
    assert layer_of("monitor.config.models") == "settings" and layer_of("monitor.config.load") == "config"


def test_the_doc_names_every_layer() -> None:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for layer in ALLOWED:
        if layer not in {"base", "settings", "main"}:
            assert f"`{layer}/`" in doc, layer
