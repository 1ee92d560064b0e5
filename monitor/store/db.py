"""The database engine: SQLite done right (WAL, busy timeout, ``BEGIN IMMEDIATE``), migrations, single-instance lock.

The lock, and the keeper that puts a database file deleted under the daemon back before
the next transaction, are in :mod:`monitor.store.owner`.

Every write transaction starts with ``BEGIN IMMEDIATE``: a deferred transaction that
reads and then writes fails with "database is locked" without waiting for the busy
handler, so writers take the write lock up front.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StoreError
from monitor.store import migrations
from monitor.store.owner import FileKeeper, InstanceLock
from monitor.store.schema import meta

log = logging.getLogger(__name__)


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:":
        return None
    return Path(database)


def libpq_url(url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (``postgresql+psycopg://``),
    for the connections the store opens with psycopg itself (LISTEN, the hosts' claims)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


#: how long a SQLite transaction waits for another's write lock before "database is locked" (seconds)
BUSY_TIMEOUT = 30.0


def make_engine(url: str, busy_timeout: float = BUSY_TIMEOUT) -> Engine:
    """An engine for ``url``; for SQLite, creates the directory and sets WAL/busy timeout pragmas
    (a transaction waits up to ``busy_timeout`` seconds for another's write lock)."""
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = create_engine(url, connect_args={"timeout": busy_timeout, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            _use_wal(cur, busy_timeout)
            # FULL: a committed seen-mark or sent-mark survives power loss, not only a crash
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            mode = "DEFERRED" if conn.get_execution_options().get("readonly") else "IMMEDIATE"
            conn.exec_driver_sql(f"BEGIN {mode}")

        if not path.exists():
            # the database holds story history and outbox payloads: owner-only
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        return engine
    if make_url(url).get_backend_name() == "sqlite":
        # in-memory SQLite (test-source, dry runs): one shared connection, or each one is empty
        from sqlalchemy.pool import StaticPool

        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect_memory(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_memory(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _use_wal(cur: Any, busy_timeout: float) -> None:
    """Put the database in WAL mode (it stays so in the file). Switching a new file's mode
    can fail at once with "database is locked" while another connection opening it at the
    same moment switches it too: SQLite does not wait on the busy handler there. So this
    tries again for up to ``busy_timeout`` seconds, as the busy handler would have waited."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


class Database:
    """Owns the engine; ``write()`` and ``read()`` give transactions of the right kind."""

    def __init__(self, url: str, *, busy_timeout: float = BUSY_TIMEOUT) -> None:
        """Open (for SQLite: create if missing) the database at ``url``; raises StoreError.

        ``busy_timeout``: how long a transaction waits for another process's write lock (seconds).
        """
        self.url = url
        try:
            self.engine = make_engine(url, busy_timeout)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"cannot open database: {exc}") from None
        self.lock = InstanceLock(self.engine, _sqlite_path(url))
        #: keeps the file at its path while the lock is held (see :class:`FileKeeper`)
        self.keeper = FileKeeper(self.lock, self.engine)

    @property
    def shared(self) -> bool:
        """Whether several instances may use this database at once (PostgreSQL; a SQLite file
        belongs to one daemon, see :class:`~monitor.store.owner.InstanceLock`)."""
        return self.engine.dialect.name == "postgresql"

    @classmethod
    def open_existing(cls, url: str) -> Database | None:
        """Open the database for reading as it is: no file is created, nothing is migrated.

        For commands that only look (``sources``, ``outbox``), so that they work beside a
        running daemon and never change the schema under it. Returns ``None`` when a SQLite
        file does not exist yet (the daemon never ran with this configuration); raises
        :class:`~monitor.errors.StoreError` when the schema is not the one this version
        of newsmonitor reads.
        """
        path = _sqlite_path(url)
        if path is not None and not path.exists():
            return None
        database = cls(url)
        found, expected = database.version(), migrations.latest()
        if found != expected:
            database.close()
            if found < expected:
                raise StoreError(
                    f"the database has schema version {found}, this newsmonitor reads version "
                    f"{expected}: start the daemon once (it upgrades the database), then try again"
                )
            raise StoreError(
                f"the database has schema version {found}, newer than this newsmonitor knows "
                f"({expected}); upgrade newsmonitor"
            )
        return database

    def migrate(self) -> int:
        """Bring the schema to the newest version; returns that version."""
        try:
            with self.write() as conn:
                return migrations.upgrade(conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"database migration failed: {exc}") from None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success."""
        self.keeper.check()
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction."""
        self.keeper.check()
        with self.engine.connect().execution_options(readonly=True) as conn, conn.begin():
            yield conn

    def version(self) -> int:
        with self.read() as conn:
            try:
                value = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
            except SQLAlchemyError:
                return 0
        return int(value or 0)

    def size_bytes(self) -> int | None:
        """How many bytes the database takes: for a SQLite file, the file and its write-ahead
        log as they are on disk (pruned rows leave free pages that are reused, so the file
        does not shrink); in memory, its pages; on PostgreSQL, ``pg_database_size``. None
        for another database."""
        path = _sqlite_path(self.url)
        if path is not None:
            files = (path, path.with_name(path.name + "-wal"))
            return sum(f.stat().st_size for f in files if f.exists())
        with self.read() as conn:
            if conn.dialect.name == "sqlite":
                pages = conn.exec_driver_sql("PRAGMA page_count").scalar() or 0
                return int(pages) * int(conn.exec_driver_sql("PRAGMA page_size").scalar() or 0)
            if conn.dialect.name == "postgresql":
                return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0)
        return None

    def close(self) -> None:
        self.lock.release()
        self.engine.dispose()
        self.keeper.close()
