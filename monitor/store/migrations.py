"""Schema migrations, applied in order inside one transaction each (Alembic operations).

Each migration is a function of an :class:`alembic.operations.Operations`; the version
reached is stored in ``meta.schema_version``. SQLite runs DDL transactionally, so a
crash mid-migration leaves the previous version intact and the next start redoes it.
New migrations are appended to :data:`MIGRATIONS`; released ones are never edited.
"""

from __future__ import annotations

from collections.abc import Callable

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, inspect, select

from monitor.store import schema


def _v1_initial(ops: Operations) -> None:
    """Create every table of the first schema."""
    bind = ops.get_bind()
    schema.metadata.create_all(bind, checkfirst=True)


MIGRATIONS: list[Callable[[Operations], None]] = [_v1_initial]


def upgrade(conn: Connection) -> int:
    """Apply every migration newer than the database's version; return the new version."""
    ctx = MigrationContext.configure(conn)
    ops = Operations(ctx)
    if not inspect(conn).has_table("meta"):
        schema.meta.create(conn)
    current = conn.execute(select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).scalar()
    version = int(current or 0)
    if version > len(MIGRATIONS):
        from monitor.errors import StoreError

        raise StoreError(
            f"the database has schema version {version}, newer than this newsmonitor knows "
            f"({len(MIGRATIONS)}); upgrade newsmonitor"
        )
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        migration(ops)
        if current is None and number == 1:
            conn.execute(schema.meta.insert().values(key="schema_version", value=str(number)))
        else:
            conn.execute(
                schema.meta.update().where(schema.meta.c.key == "schema_version").values(value=str(number))
            )
        current = str(number)
    return len(MIGRATIONS)
