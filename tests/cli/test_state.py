"""``sources`` and ``outbox`` only look: no database is created or migrated, and they work beside a daemon."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.store.db import Database
from monitor.store.migrations import latest
from tests.support.store import v1_database


def write_config(tmp_path: Path, database: Path) -> Path:
    path = tmp_path / "nm.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{database}",
                "allow_networks": ["127.0.0.1:1"],
                "notifiers": {"chat": "json://127.0.0.1:1/hook"},
                "sources": [{"name": "wire", "feed": "http://127.0.0.1:1/feed.xml"}],
                "rules": [{"name": "r", "query": "x", "notify": ["chat"]}],
            }
        )
    )
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_no_database_yet_is_said_and_not_created(tmp_path: Path) -> None:
    database = tmp_path / "state" / "nm.db"
    config = write_config(tmp_path, database)
    code, out = run("sources", "--config", str(config))
    assert code == 0 and "wire" in out and "never polled" in out and "no database yet" in out
    assert "POLLED BY" not in out  # a column of instances sharing a PostgreSQL database only
    code, out = run("outbox", "--config", str(config))
    assert code == 0 and "0 rows" in out and "no database yet" in out
    code, out = run("outbox", "retry", "--all-dead", "--config", str(config))
    assert code == 0 and "requeued 0 rows" in out
    assert not database.exists() and not database.parent.exists()


def test_an_old_schema_is_reported_and_left_as_it_is(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    v1_database(database)
    config = write_config(tmp_path, database)
    for args in (["sources"], ["outbox"], ["outbox", "retry", "--all-dead"]):
        code, out = run(*args, "--config", str(config))
        assert code == 1, out
        assert f"schema version 1, this newsmonitor reads version {latest()}" in out
        assert "start the daemon once" in out and "Traceback" not in out
    db = Database(f"sqlite:///{database}")
    assert db.version() == 1
    db.close()


def test_they_read_while_a_daemon_holds_the_database(tmp_path: Path) -> None:
    database = tmp_path / "nm.db"
    config = write_config(tmp_path, database)
    daemon_db = Database(f"sqlite:///{database}")
    daemon_db.lock.acquire()
    daemon_db.migrate()
    try:
        code, out = run("sources", "--config", str(config))
        assert code == 0 and "wire" in out and "never polled" in out and "no database" not in out
        code, out = run("outbox", "--config", str(config))
        assert code == 0 and "0 rows" in out
    finally:
        daemon_db.close()
