"""Store values for tests: a database written by an older newsmonitor, and outbox rows as read back."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from monitor.models import MessageKind, OutboxStatus
from monitor.store import repo
from monitor.store.payload import AlertPayload
from tests.support.paths import DATA

V1_DUMP = DATA / "store" / "schema_v1.sql"


def v1_database(path: Path) -> str:
    """A SQLite file at schema version 1 (see the dump's header) at ``path``; returns its URL."""
    con = sqlite3.connect(path)
    con.executescript(V1_DUMP.read_text(encoding="utf-8"))
    con.close()
    return f"sqlite:///{path}"


def outbox_entry(**fields: Any) -> repo.OutboxEntry:
    """A pending alert row of destination ``d`` of notifier ``chat``, as the delivery loop
    reads it; ``fields`` override any column (``next_attempt_at`` defaults to ``due_at``)."""
    row: dict[str, Any] = {
        "id": 1,
        "key": "nm-1",
        "kind": MessageKind.ALERT,
        "rule": "r",
        "target": "chat",
        "dest": "d",
        "story_id": 1,
        "cluster": None,
        "status": OutboxStatus.PENDING,
        "urgent": False,
        "digest": None,
        "payload": AlertPayload(),
        "created_at": 0.0,
        "due_at": 0.0,
        "attempts": 0,
        "first_failed_at": None,
        "last_error": None,
        "sent_at": None,
        **fields,
    }
    row.setdefault("next_attempt_at", row["due_at"])
    return repo.OutboxEntry(**row)
