"""A real PostgreSQL server on 127.0.0.1 for the PostgreSQL half of the suite.

``NEWSMONITOR_TEST_POSTGRES`` names a server to use (``postgresql+psycopg://user@127.0.0.1:port/db``;
``.ci/run`` starts one with ``python3 tests/support/postgres.py start`` and exports it). Without
it, the first test that needs PostgreSQL starts a throwaway server of its own from Debian's
packages (``/usr/lib/postgresql/*/bin``), as the ``postgres`` user when run as root, in a
temporary directory, with fsync off (tests, not durability), and stops it at the end.

Each test gets a database of its own (:meth:`Postgres.new_database`), dropped afterwards.

This module uses the standard library only, so that CI can run it before the virtualenv exists.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ENV = "NEWSMONITOR_TEST_POSTGRES"
_counter = itertools.count(1)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be had here (no URL given and no binaries installed)."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL is not installed (no initdb): `apt-get install postgresql`, or set "
        f"{ENV}=postgresql+psycopg://user@127.0.0.1:PORT/postgres"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class Postgres:
    """A PostgreSQL server reached at ``url`` (its maintenance database), started here or not."""

    def __init__(self, url: str, data_dir: Path | None = None) -> None:
        self.url = url
        self._data_dir = data_dir
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 5432
        self.user = parts.username or "postgres"

    @classmethod
    def start(cls, directory: Path | None = None, settings: dict[str, str] | None = None) -> Postgres:
        """initdb and start a server on a free port of 127.0.0.1; raises PostgresUnavailable.
        ``settings``: more server settings (``shared_preload_libraries``, ...)."""
        bin_dir = _bin_dir()
        base = Path(directory or tempfile.mkdtemp(prefix="newsmonitor-pg-"))
        base.mkdir(parents=True, exist_ok=True)
        data = base / "data"
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
        run = subprocess.run
        run(
            _as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]),
            check=True, capture_output=True,
        )
        port = _free_port()
        options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off -c max_connections=200"
        options += "".join(f" -c {key}={value}" for key, value in (settings or {}).items())
        run(
            _as_owner([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-o", options, "-w", "start"]),
            check=True, capture_output=True,
        )
        return cls(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", data)

    @property
    def data_dir(self) -> Path | None:
        """The data directory of a server started here (None: a server named by URL)."""
        return self._data_dir

    def stop(self) -> None:
        """Stop the server if this process started it."""
        if self._data_dir is None:
            return
        subprocess.run(
            _as_owner([str(_bin_dir() / "pg_ctl"), "-D", str(self._data_dir), "-m", "immediate", "stop"]),
            check=False, capture_output=True,
        )
        shutil.rmtree(self._data_dir.parent, ignore_errors=True)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def new_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        name = f"nm_{os.getpid()}_{next(_counter)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{name}"

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`new_database` (its connections closed first)."""
        name = urlsplit(url).path.lstrip("/")
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server() -> Postgres:
    """The server named by ``NEWSMONITOR_TEST_POSTGRES``, else one started here."""
    url = os.environ.get(ENV)
    if url:
        return Postgres(url)
    return Postgres.start()


if __name__ == "__main__":
    # `python3 tests/support/postgres.py start [DIR]`: start a server (it keeps running) and
    # print the line that exports its URL, for `eval` in a shell
    if sys.argv[1:2] != ["start"]:
        sys.exit("usage: postgres.py start [DIR]")
    pg = Postgres.start(Path(sys.argv[2]) if len(sys.argv) > 2 else None)
    print(f"export {ENV}={pg.url}")
