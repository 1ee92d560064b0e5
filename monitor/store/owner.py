"""What the daemon that owns a SQLite database holds: the single-instance lock, and the file at its path.

:class:`InstanceLock` refuses a second daemon on the same file, whatever path reaches it.

:class:`FileKeeper` keeps the file where the configuration says it is. A deleted SQLite
file lives on while a connection holds it open: a daemon whose database directory was
deleted went on writing alerts into a file no path named, said nothing, and after a
restart its pending alerts were gone (issue 12). The keeper holds a connection of its
own to the file for as long as the lock is held, and before each transaction compares
the file at the path with the one held (device and inode); when they differ, it copies
the held file back to its path with SQLite's backup API.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import socket
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from sqlalchemy import Connection, Engine

from monitor.errors import StoreError

log = logging.getLogger("monitor.store")

#: what SQLite keeps beside a database file, named after it
_SIDECARS = ("-wal", "-shm", "-journal")


def _identity(path: Path) -> tuple[int, int] | None:
    """The file at ``path`` as the kernel knows it (device, inode), or None when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class InstanceLock:
    """Refuses a second daemon on the same database, whatever path it is reached by.

    SQLite (``path`` is the file): an exclusive ``flock`` on ``<database>.lock`` beside the
    file the path resolves to (symlinks and ``..`` resolved, so a directory linked or
    mounted elsewhere shares the lock file), and, on Linux, an abstract socket named by
    the file's device and inode (a hard link, or a file bind-mounted under another name,
    is the same inode). The kernel releases both when the process dies, so a kill -9 never
    leaves a stale lock. PostgreSQL (``path`` None): nothing is locked; any number of
    instances share the database, and its work by leases (:mod:`monitor.store.cluster`).
    """

    def __init__(self, engine: Engine, path: Path | None) -> None:
        self._engine = engine
        self._given = path
        self._fd: int | None = None
        self._socket: socket.socket | None = None
        self._conn: Connection | None = None
        #: the database file this lock holds, symlinks resolved (None: no file held)
        self.path: Path | None = None
        #: that file's (device, inode) when the lock was taken
        self.identity: tuple[int, int] | None = None

    def acquire(self) -> None:
        """Take the lock; raises StoreError naming the daemon that holds it."""
        if self._given is not None:
            self._lock_file(self._given)
            self._bind_inode()
            return
        # PostgreSQL: no lock; instances share the database and its work through leases
        # (monitor.store.cluster), and migrations take an advisory lock of their own

    def _lock_file(self, path: Path) -> None:
        real = Path(os.path.realpath(path))
        lock_path = real.with_name(real.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = ""
            with suppress(OSError):
                pid = lock_path.read_text().strip()
            raise StoreError(_held(path, real, f" (pid {pid})" if pid else "")) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd, self.path = fd, real

    def _bind_inode(self) -> None:
        assert self.path is not None
        identity = _identity(self.path)
        try:
            self._socket = _inode_socket(identity) if identity is not None else None
        except BlockingIOError:
            path = self.path
            self.release()
            raise StoreError(_held(self._given or path, path, " (through another name of the same file)")) from None
        self.identity = identity

    def renew(self, put_back: Callable[[Path], None]) -> None:
        """Take the lock again for a database file that is gone from :attr:`path`: the lock
        file first (it went with its directory), then ``put_back(path)`` restores the file,
        then its new inode. Raises StoreError (holding nothing) when another daemon holds
        the path now."""
        path = self.path
        assert path is not None
        self.release()
        self._lock_file(path)
        put_back(path)
        self._bind_inode()

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self.path = self.identity = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def holder_pid(database: Path) -> int | None:
    """The process id of the daemon that holds the lock of the SQLite file ``database`` (None:
    no daemon holds it), read from the kernel's table of file locks (``/proc/locks``), so that a
    pid left in the lock file by a daemon that died is never taken for a running one. None
    too where there is no such table (not Linux)."""
    real = Path(os.path.realpath(database))
    lock_path = real.with_name(real.name + ".lock")
    try:
        st = os.stat(lock_path)
        table = Path("/proc/locks").read_text()
    except OSError:
        return None
    written = ""
    with suppress(OSError):
        written = lock_path.read_text().strip()
    for line in table.splitlines():
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF" (a blocked waiter's line has "->")
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK" or "->" in parts:
            continue
        try:
            major, minor, inode = parts[5].split(":")
            pid = int(parts[4])
            same_device = os.makedev(int(major, 16), int(minor, 16)) == st.st_dev
            if int(inode) == st.st_ino and pid > 0 and (same_device or written == str(pid)):
                return pid
        except ValueError:
            continue
    return None


def _held(path: Path, real: Path, who: str) -> str:
    named = str(path) if Path(os.path.abspath(path)) == real else f"{path} (the file {real})"
    return (
        f"another newsmonitor daemon{who} is already using the database {named}; "
        "stop it first, or give this one a database of its own (the database: setting)"
    )


def _inode_socket(identity: tuple[int, int]) -> socket.socket | None:
    """A socket bound to a name that is this file's alone (Linux's abstract namespace: no
    file, gone with the process), or None where the system has no such namespace (the lock
    file alone decides). Raises BlockingIOError when another process holds the name."""
    if not sys.platform.startswith("linux"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind("\0newsmonitor-database-{}-{}".format(*identity))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BlockingIOError(exc.errno, "held by another process") from None
        return None
    return sock


class FileKeeper:
    """Keeps the database file that ``lock`` holds at its path while the daemon runs.

    :meth:`check` runs before each transaction, on the thread that runs them: it opens the
    keeper's own connection to the file the first time, and puts the file back when it is
    gone from its path (see :meth:`restore`). :meth:`gone` is the same comparison alone,
    for any thread. What was done is in :meth:`take_incidents`, for the daemon to tell.
    """

    def __init__(self, lock: InstanceLock, engine: Engine) -> None:
        self._lock = lock
        self._engine = engine
        self._held: sqlite3.Connection | None = None
        self._given_up = False
        self._incidents: deque[str] = deque()

    def gone(self) -> bool:
        """Whether the file the lock holds is no longer at its path (deleted or replaced). One stat."""
        path, identity = self._lock.path, self._lock.identity
        return identity is not None and path is not None and not self._given_up and _identity(path) != identity

    def check(self) -> None:
        """Before a transaction: hold the file, and put it back if it is gone."""
        path = self._lock.path
        if self._lock.identity is None or path is None or self._given_up:
            return
        if self._held is None:
            self._held = self._hold(path)
        if self.gone():
            self.restore(path, self._held)

    def _hold(self, path: Path) -> sqlite3.Connection:
        # after the engine's first connection made the file a write-ahead-log database, and
        # with one read, so that this connection has the log open too: the newest commits
        # are there, and a log deleted with its directory is reached through open handles only
        with self._engine.connect():
            pass
        held = sqlite3.connect(path, check_same_thread=False)
        held.execute("SELECT count(*) FROM sqlite_master").fetchall()
        return held

    def restore(self, path: Path, held: sqlite3.Connection) -> None:
        """Copy the held file back to ``path`` and take the lock again; never raises.

        The pool's connections (to the deleted file) are closed first, so that the next
        transaction opens the restored one; a file found at the path is moved aside, never
        overwritten. When the lock cannot be taken again (another daemon holds the path
        now), the copy goes beside it as ``<name>.recovered-<pid>`` instead, and this
        daemon stops checking.
        """
        log.error("the database file %s is gone (deleted, or replaced) while this daemon uses it; restoring it", path)
        self._engine.dispose()
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock.renew(lambda at: _put_back(held, at))
        except (OSError, sqlite3.Error, StoreError) as exc:
            self._given_up = True
            self._incidents.append(self._not_restored(path, held, exc))
            return
        held.close()
        self._held = None
        said = (
            f"The database file {path} was deleted while the daemon ran; it is restored from the "
            "open database, with every pending alert."
        )
        log.error("%s", said)
        self._incidents.append(said)

    def _not_restored(self, path: Path, held: sqlite3.Connection, exc: Exception) -> str:
        side = path.with_name(f"{path.name}.recovered-{os.getpid()}")
        try:
            _put_back(held, side)
            kept = f"a copy of it, with every pending alert, is {side}"
        except (OSError, sqlite3.Error) as again:
            kept = f"no copy could be written either ({again})"
        said = f"The database file {path} was deleted while the daemon ran and cannot be restored ({exc}); {kept}."
        log.error("%s", said)
        return said

    def take_incidents(self) -> list[str]:
        """What the keeper did since the last call, oldest first (any thread)."""
        taken: list[str] = []
        while self._incidents:
            taken.append(self._incidents.popleft())
        return taken

    def close(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None


def _put_back(held: sqlite3.Connection, path: Path) -> None:
    """Write the database ``held`` to ``path``, the copy complete on disk before it is there.

    A file found in its place is moved aside with its write-ahead log and shared memory
    (``<name>.replaced-<time>``); when the path is empty, what is left of those beside it
    belonged to the held file (they are in the copy) and is removed, so that the restored
    file never starts with a log that is not its own.
    """
    stamp = time.strftime("%Y%m%dT%H%M%S")
    foreign = path.exists()
    for name in (*(path.name + s for s in _SIDECARS), path.name):
        found = path.with_name(name)
        if foreign and found.exists():
            os.replace(found, found.with_name(f"{name}.replaced-{stamp}"))
        elif found.exists():
            found.unlink()
    partial = path.with_name(path.name + ".restoring")
    os.close(os.open(partial, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600))
    copy = sqlite3.connect(partial)
    try:
        held.backup(copy)
    finally:
        copy.close()
    _fsync(partial)
    os.replace(partial, path)
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
