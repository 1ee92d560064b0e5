"""Databases for tests: one written by an older newsmonitor, to test upgrades and readers."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.paths import DATA

V1_DUMP = DATA / "store" / "schema_v1.sql"


def v1_database(path: Path) -> str:
    """A SQLite file at schema version 1 (see the dump's header) at ``path``; returns its URL."""
    con = sqlite3.connect(path)
    con.executescript(V1_DUMP.read_text(encoding="utf-8"))
    con.close()
    return f"sqlite:///{path}"
