"""The daemon's hold on its SQLite file (issue 12): one daemon per file whatever the path, and a
file deleted under the running daemon put back with everything in it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.models import MessageKind, OutboxStatus
from monitor.store import repo
from monitor.store.db import Database
from monitor.store.payload import AlertPayload


def alias_by_symlinked_directory(real: Path, tmp: Path) -> Path:
    (tmp / "link").symlink_to(real.parent, target_is_directory=True)
    return tmp / "link" / real.name


def alias_by_symlinked_file(real: Path, tmp: Path) -> Path:
    (tmp / "other.db").symlink_to(real)
    return tmp / "other.db"


def alias_by_dotdot(real: Path, tmp: Path) -> Path:
    (tmp / "elsewhere").mkdir()
    return tmp / "elsewhere" / ".." / real.parent.name / real.name


def alias_by_hard_link(real: Path, tmp: Path) -> Path:
    os.link(real, tmp / "hard.db")  # another name, another directory entry, the same inode
    return tmp / "hard.db"


@pytest.mark.parametrize(
    "alias",
    [alias_by_symlinked_directory, alias_by_symlinked_file, alias_by_dotdot, alias_by_hard_link],
    ids=lambda f: f.__name__,
)
def test_the_same_file_by_another_path_is_refused(tmp_path: Path, alias: Callable[[Path, Path], Path]) -> None:
    real = tmp_path / "data" / "nm.db"
    first = Database(f"sqlite:///{real}")
    first.lock.acquire()
    other = alias(real, tmp_path)
    second = Database(f"sqlite:///{other}")
    try:
        with pytest.raises(StoreError, match="already using the database") as info:
            second.lock.acquire()
        assert str(other) in str(info.value)
    finally:
        second.close()
        first.close()
    # free again once the first stopped, by either name
    third = Database(f"sqlite:///{other}")
    third.lock.acquire()
    third.close()


@pytest.fixture
def owned(tmp_path: Path) -> Iterator[Database]:
    """A database as the daemon holds it: locked, migrated, two alerts pending."""
    db = Database(f"sqlite:///{tmp_path}/data/nm.db")
    db.lock.acquire()
    db.migrate()
    rows = [
        repo.OutboxRow(key=f"k{i}", kind=MessageKind.ALERT, rule="r", target="t", dest="d",
                       payload=AlertPayload(), due_at=1.0)
        for i in range(2)
    ]
    with db.write() as conn:
        repo.add_outbox(conn, rows, [], now=1.0)
    yield db
    db.close()


def pending(db: Database) -> int:
    with db.read() as conn:
        return repo.outbox_counts(conn).get(OutboxStatus.PENDING, 0)


def test_a_deleted_directory_is_put_back_before_the_next_transaction(tmp_path: Path, owned: Database) -> None:
    path = tmp_path / "data" / "nm.db"
    shutil.rmtree(tmp_path / "data")
    assert owned.keeper.gone()
    assert pending(owned) == 2  # the read put the file back first
    assert path.exists() and not owned.keeper.gone()
    assert (path.stat().st_mode & 0o777) == 0o600 and (path.parent.stat().st_mode & 0o777) == 0o700
    [said] = owned.keeper.take_incidents()
    assert f"The database file {path} was deleted while the daemon ran" in said
    assert owned.keeper.take_incidents() == []
    with owned.write() as conn:  # later writes go to the restored file
        repo.mark_dead(conn, [1], "x")
    # and it is locked again: the lock file went with the directory
    other = Database(f"sqlite:///{path}")
    with pytest.raises(StoreError, match="already using"):
        other.lock.acquire()
    owned.close()
    assert pending(other) == 1
    other.close()


def test_a_file_put_in_its_place_is_moved_aside_not_overwritten(tmp_path: Path, owned: Database) -> None:
    path = tmp_path / "data" / "nm.db"
    path.unlink()
    path.write_bytes(b"someone's file")
    assert pending(owned) == 2
    [aside] = [p for p in path.parent.iterdir() if p.name.startswith("nm.db.replaced-")]
    assert aside.read_bytes() == b"someone's file"
    assert len(owned.keeper.take_incidents()) == 1


def test_when_another_daemon_holds_the_path_now_a_copy_goes_beside_it(tmp_path: Path, owned: Database) -> None:
    path = tmp_path / "data" / "nm.db"
    shutil.rmtree(tmp_path / "data")
    newcomer = Database(f"sqlite:///{path}")
    newcomer.lock.acquire()
    try:
        owned.keeper.check()
        [said] = owned.keeper.take_incidents()
        copy = path.with_name(f"nm.db.recovered-{os.getpid()}")
        assert "cannot be restored" in said and str(copy) in said
        assert pending(Database(f"sqlite:///{copy}")) == 2
        assert not owned.keeper.gone()  # said once; it does not try again
    finally:
        newcomer.close()
