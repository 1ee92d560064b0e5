"""Fixtures of the store tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitor.store.db import Database


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database on each store (the ``db_url`` fixture: SQLite and PostgreSQL), closed afterwards."""
    database = Database(db_url)
    database.migrate()
    yield database
    database.close()
