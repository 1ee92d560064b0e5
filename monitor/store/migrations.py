"""Schema migrations, applied in order inside one transaction each (Alembic operations).

Each migration is a function of an :class:`alembic.operations.Operations`; the version
reached is stored in ``meta.schema_version``. SQLite runs DDL transactionally, so a
crash mid-migration leaves the previous version intact and the next start redoes it.
New migrations are appended to :data:`MIGRATIONS`; released ones are never edited.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import (
    Column,
    Connection,
    Float,
    Integer,
    LargeBinary,
    String,
    Text,
    column,
    func,
    inspect,
    null,
    select,
    table,
    text,
)

from monitor.store import schema


def _v1_initial(ops: Operations) -> None:
    """Create every table of the first schema."""
    bind = ops.get_bind()
    schema.metadata.create_all(bind, checkfirst=True)


#: how a poll failure on an HTTP status was written into ``sources.last_error`` before v2
_HTTP_STATUS_ERROR = re.compile(r"http_status: HTTP (\d{3}) ")


def _v2_source_http_status(ops: Operations) -> None:
    """Add ``sources.last_http_status`` (the status of the last failed poll) and fill it in
    for sources failing at the upgrade, from the error text that used to be its only record."""
    bind = ops.get_bind()
    # a database created by this version already has the column: _v1_initial creates today's tables
    if "last_http_status" not in {c["name"] for c in inspect(bind).get_columns("sources")}:
        ops.add_column("sources", Column("last_http_status", Integer))
    # the table as of v2, not schema.sources, so later changes to the schema cannot change this step
    sources = table("sources", column("name"), column("last_error"), column("last_http_status"))
    failing = bind.execute(
        select(sources.c.name, sources.c.last_error).where(sources.c.last_error.like("http_status: HTTP %"))
    ).all()
    for name, error in failing:
        found = _HTTP_STATUS_ERROR.match(error)
        if found:
            bind.execute(
                sources.update().where(sources.c.name == name).values(last_http_status=int(found[1]))
            )


def _v3_outbox_solo_failures(ops: Operations) -> None:
    """Add ``outbox.solo_failures``, the poison count that ``outbox.attempts`` used to be.

    Before v3 ``attempts`` counted only the failures of a message on its own (while its
    destination worked), so ``newsmonitor outbox`` showed 0 tries after a failing
    destination's sends; from v3 it counts every send attempt. The count at the upgrade
    moves to ``solo_failures`` and stays in ``attempts`` too (the fewest tries there were).
    """
    bind = ops.get_bind()
    # a database created by this version already has the column: _v1_initial creates today's tables
    if "solo_failures" not in {c["name"] for c in inspect(bind).get_columns("outbox")}:
        ops.add_column("outbox", Column("solo_failures", Integer, nullable=False, server_default="0"))
    # the table as of v3, not schema.outbox, so later changes to the schema cannot change this step
    outbox = table("outbox", column("attempts"), column("solo_failures"))
    bind.execute(outbox.update().values(solo_failures=outbox.c.attempts))


#: how the kind of a failed poll's error began ``sources.last_error`` before v4 ("parse_error: ...")
_ERROR_KIND = re.compile(r"([a-z_]{1,40}): ")


def _v4_source_health(ops: Operations) -> None:
    """Add what the health states need: ``last_error_kind`` (filled in from the error text of
    sources failing at the upgrade), ``empty_polls`` and ``last_new_story_at`` (from the times
    of the polls that found new stories, else when the source was primed).

    Also forget every source's validators (ETag, Last-Modified, body hash): before v4 they were
    stored even when the body's parse failed, so they may name a body that was never listed,
    which would then hide behind 304s for good. The next poll of each source fetches and reads
    its body once more; stories already seen stay seen.
    """
    bind = ops.get_bind()
    have = {c["name"] for c in inspect(bind).get_columns("sources")}
    # a database created by this version already has the columns: _v1_initial creates today's tables
    if "last_error_kind" not in have:
        ops.add_column("sources", Column("last_error_kind", String(40)))
    if "empty_polls" not in have:
        ops.add_column("sources", Column("empty_polls", Integer, nullable=False, server_default="0"))
    if "last_new_story_at" not in have:
        ops.add_column("sources", Column("last_new_story_at", Float))
    # the table as of v4, not schema.sources, so later changes to the schema cannot change this step
    sources = table(
        "sources",
        *(column(name) for name in ("name", "failures", "last_error", "primed_at", "new_story_times")),
        *(column(name) for name in ("last_error_kind", "last_new_story_at", "etag", "last_modified")),
        column("content_hash"),
    )
    rows = bind.execute(
        select(sources.c.name, sources.c.failures, sources.c.last_error, sources.c.primed_at, sources.c.new_story_times)
    ).all()
    for name, failures, error, primed_at, story_times in rows:
        found = _ERROR_KIND.match(error or "") if failures else None
        bind.execute(
            sources.update()
            .where(sources.c.name == name)
            .values(
                last_error_kind=found[1] if found else None,
                last_new_story_at=max(json.loads(story_times or "[]"), default=primed_at),
                etag=None,
                last_modified=None,
                content_hash=None,
            )
        )


def _v5_outbox_claims(ops: Operations) -> None:
    """Add what the delivery protocol's claims need: ``outbox.lease_until`` (the end of the claim
    of a row in the new ``sending`` status) and ``outbox.unknowns`` (sends whose outcome was
    unknown). No row is ``sending`` before v5, so there is nothing to fill in."""
    bind = ops.get_bind()
    have = {c["name"] for c in inspect(bind).get_columns("outbox")}
    # a database created by this version already has the columns: _v1_initial creates today's tables
    if "lease_until" not in have:
        ops.add_column("outbox", Column("lease_until", Float))
    if "unknowns" not in have:
        ops.add_column("outbox", Column("unknowns", Integer, nullable=False, server_default="0"))


def _v6_story_identity(ops: Operations) -> None:
    """Add what bounds a story's identity and remembers who listed it (issue 12):

    * ``sources.volatile_params``: the query parameters learned to change on every poll;
    * ``story_keys.alias`` and ``listed_at``: keys found after a story was recorded are
      aliases, at most so many a story (the least recently listed go); every key stored
      before v6 counts as recorded with its story, so none of them is ever dropped;
    * ``story_listers``: the sources that listed a story after the one that recorded it,
      filled in from what each source lists at the upgrade (``sources.listed_ids``), so that
      no rule limited to a source runs at the upgrade on a story the source listed before.
    """
    bind = ops.get_bind()
    # a database created by this version already has these: _v1_initial creates today's tables
    if "volatile_params" not in {c["name"] for c in inspect(bind).get_columns("sources")}:
        ops.add_column("sources", Column("volatile_params", Text))
    key_columns = {c["name"] for c in inspect(bind).get_columns("story_keys")}
    if "alias" not in key_columns:
        ops.add_column("story_keys", Column("alias", Integer, nullable=False, server_default="0"))
    if "listed_at" not in key_columns:
        ops.add_column("story_keys", Column("listed_at", Float))
    if not inspect(bind).has_table("story_listers"):
        ops.create_table(
            "story_listers",
            Column("story_id", Integer, primary_key=True),
            Column("source", String(200), primary_key=True),
        )
    # the tables as of v6, not the schema module, so later changes to the schema cannot change this step
    sources = table("sources", column("name"), column("listed_ids"))
    stories = table("stories", column("id"), column("source"))
    listers = table("story_listers", column("story_id"), column("source"))
    for name, listed in bind.execute(select(sources.c.name, sources.c.listed_ids)).all():
        ids = list(dict.fromkeys(json.loads(listed or "[]")))  # at most 5000 a source
        for i in range(0, len(ids), 500):
            others = bind.execute(
                select(stories.c.id).where(stories.c.id.in_(ids[i : i + 500]), stories.c.source != name)
            ).scalars()
            rows = [{"story_id": sid, "source": name} for sid in others]
            if rows:
                bind.execute(listers.insert(), rows)


def _v7_cluster(ops: Operations) -> None:
    """Add what several instances sharing one (PostgreSQL) database need (issue 16): source
    and destination leases (``lease_owner``, ``lease_until``), who polled a source last
    (``sources.polled_by``), the ``instances`` membership table and the ``lsh_bands`` index
    of story signatures. Nothing to fill in: no lease is held and no instance is known at
    the upgrade."""
    bind = ops.get_bind()
    have = {c["name"] for c in inspect(bind).get_columns("sources")}
    # a database created by this version already has these: _v1_initial creates today's tables
    for name, kind in (("lease_owner", String(100)), ("lease_until", Float), ("polled_by", String(100))):
        if name not in have:
            ops.add_column("sources", Column(name, kind))
    have = {c["name"] for c in inspect(bind).get_columns("destinations")}
    for name, kind in (("lease_owner", String(100)), ("lease_until", Float)):
        if name not in have:
            ops.add_column("destinations", Column(name, kind))
    for created in (schema.instances, schema.lsh_bands):
        created.create(bind, checkfirst=True)


def _v8_history(ops: Operations) -> None:
    """Add the stored history (issue 15): ``story_texts`` (each story's language and text,
    compressed), ``rule_matches`` (every match of a rule on a story) and ``alert_history``
    (how every outbox row ended).

    Filled in from the outbox rows at the upgrade: each alert row is a match of its rule on
    its story (at the row's creation; rows whose story is gone are left out), each sent row
    an alert sent at ``sent_at``, each dead one an alert given up at its first failure (the
    time of its last try was never stored). Stories recorded before keep no text: a backtest
    searches only their titles.
    """
    bind = ops.get_bind()
    # a database created by this version already has these: _v1_initial creates today's tables
    if not inspect(bind).has_table("story_texts"):
        ops.create_table(
            "story_texts",
            Column("story_id", Integer, primary_key=True, autoincrement=False),
            Column("lang", String(35)),
            Column("text", LargeBinary, nullable=False),
        )
    if not inspect(bind).has_table("rule_matches"):
        ops.create_table(
            "rule_matches",
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("rule", String(200), nullable=False),
            Column("story_id", Integer, nullable=False),
            Column("source", String(200), nullable=False),
            Column("matched_at", Float, nullable=False),
        )
        ops.create_index("ix_rule_matches_rule_at", "rule_matches", ["rule", "matched_at"])
        ops.create_index("ix_rule_matches_at", "rule_matches", ["matched_at"])
    if not inspect(bind).has_table("alert_history"):
        ops.create_table(
            "alert_history",
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("key", String(64), nullable=False),
            Column("kind", String(10), nullable=False),
            Column("rule", String(200), nullable=False),
            Column("target", String(200), nullable=False),
            Column("dest", String(64), nullable=False),
            Column("story_id", Integer),
            Column("cluster", String(64)),
            Column("outcome", String(10), nullable=False),
            Column("at", Float, nullable=False),
            Column("error", Text),
        )
        ops.create_index("ix_alert_history_at", "alert_history", ["at"])
        ops.create_index("ix_alert_history_rule_at", "alert_history", ["rule", "at"])
    # the tables as of v7, not the schema module, so later changes to the schema cannot change this step
    outbox = table(
        "outbox",
        *(column(name) for name in ("key", "kind", "rule", "target", "dest", "story_id", "cluster")),
        *(column(name) for name in ("status", "created_at", "sent_at", "first_failed_at", "last_error")),
    )
    stories = table("stories", column("id"), column("source"))
    matches = table("rule_matches", column("rule"), column("story_id"), column("source"), column("matched_at"))
    alerts = table(
        "alert_history",
        *(column(name) for name in ("key", "kind", "rule", "target", "dest", "story_id", "cluster")),
        *(column(name) for name in ("outcome", "at", "error")),
    )
    found = (
        select(outbox.c.rule, outbox.c.story_id, stories.c.source, func.min(outbox.c.created_at))
        .join(stories, stories.c.id == outbox.c.story_id)
        .where(outbox.c.kind == "alert")
        .group_by(outbox.c.rule, outbox.c.story_id, stories.c.source)
    )
    bind.execute(matches.insert().from_select(["rule", "story_id", "source", "matched_at"], found))
    row = [outbox.c[name] for name in ("key", "kind", "rule", "target", "dest", "story_id", "cluster")]
    names = ["key", "kind", "rule", "target", "dest", "story_id", "cluster", "outcome", "at", "error"]
    sent = select(*row, outbox.c.status, outbox.c.sent_at, null()).where(
        outbox.c.status == "sent", outbox.c.sent_at.is_not(None)
    )
    dead = select(
        *row, outbox.c.status, func.coalesce(outbox.c.first_failed_at, outbox.c.created_at), outbox.c.last_error
    ).where(outbox.c.status == "dead")
    bind.execute(alerts.insert().from_select(names, sent))
    bind.execute(alerts.insert().from_select(names, dead))


def _v11_events(ops: Operations) -> None:
    """Add event grouping (issue 17, ``group: event``): the ``events`` and ``event_members``
    tables and ``outbox.event``, the event a follow-up row waits for. Nothing to fill in: no
    rule grouped by event before."""
    bind = ops.get_bind()
    # a database created by this version already has these: _v1_initial creates today's tables
    if "event" not in {c["name"] for c in inspect(bind).get_columns("outbox")}:
        ops.add_column("outbox", Column("event", Integer))
    if not inspect(bind).has_table("events"):
        ops.create_table(
            "events",
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("rule", String(200), nullable=False),
            Column("first_at", Float, nullable=False),
            Column("last_at", Float, nullable=False),
            Column("profile", Text, nullable=False),
            Column("stories", Integer, nullable=False),
            Column("told_at", Float, nullable=False),
            Column("follow_up_at", Float),
        )
        ops.create_index("ix_events_rule_first", "events", ["rule", "first_at"])
        ops.create_index("ix_events_last", "events", ["last_at"])
    if not inspect(bind).has_table("event_members"):
        ops.create_table(
            "event_members",
            Column("rule", String(200), primary_key=True),
            Column("subject", String(300), primary_key=True),
            Column("event_id", Integer, nullable=False),
            Column("at", Float, nullable=False),
        )
        ops.create_index("ix_event_members_event", "event_members", ["event_id"])


MIGRATIONS: list[Callable[[Operations], None]] = [
    _v1_initial,
    _v2_source_http_status,
    _v3_outbox_solo_failures,
    _v4_source_health,
    _v5_outbox_claims,
    _v6_story_identity,
    _v7_cluster,
    _v8_history,
    _v11_events,
]


#: the PostgreSQL advisory lock key held while one instance migrates ("nm" "mg")
MIGRATION_LOCK = 0x6E6D6D67


def latest() -> int:
    """The schema version this code reads and writes."""
    return len(MIGRATIONS)


def upgrade(conn: Connection) -> int:
    """Apply every migration newer than the database's version; return the new version.

    On PostgreSQL, where several instances may start at once, the first to get here takes a
    transaction-level advisory lock and migrates; the others wait for its commit, then find
    the schema current and do nothing. (SQLite: ``BEGIN IMMEDIATE`` already serialises, and
    only one daemon opens a file.)
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
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
