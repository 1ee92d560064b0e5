"""``newsmonitor reload --all``: every instance sharing a PostgreSQL database re-reads its
configuration.

A request is a generation number and, optionally, the hash of the configuration asked for,
kept in ``meta`` (``reload_request``) and announced with ``NOTIFY newsmonitor_reload`` in the
same transaction. Each instance LISTENs on a connection of its own (:class:`ReloadListener`,
which reconnects with backoff when the connection is lost) and, on a notice, after each
(re)connection and at each heartbeat, compares the stored generation with the last one it
handled: a notice missed while its connection was down is therefore caught up at the
reconnection or the next heartbeat, never lost. A request with a hash is skipped by an
instance that already runs that configuration (so that a SIGHUP sent to every instance
in turn does not reload each one N times); one without is always carried out.

What each instance did with the latest request it handled is in its ``instances`` row
(``reload_gen``, ``reload_ok``), which ``reload --all`` reads back.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import psycopg
from sqlalchemy import Connection, select, text

from monitor.redact import redact_text
from monitor.store.db import libpq_url
from monitor.store.repo import _insert
from monitor.store.schema import meta

log = logging.getLogger("monitor.store")

CHANNEL = "newsmonitor_reload"
_KEY = "reload_request"


@dataclass(frozen=True, slots=True)
class ReloadRequest:
    """The latest request to re-read the configuration: its ``generation`` (1, 2, ...), the
    hash of the configuration asked for (None: reload whatever runs) and who asked."""

    generation: int
    config_hash: str | None = None
    by: str = ""


def latest_request(conn: Connection) -> ReloadRequest:
    """The latest request (generation 0 when there was none)."""
    value = conn.execute(select(meta.c.value).where(meta.c.key == _KEY)).scalar()
    if not value:
        return ReloadRequest(0)
    try:
        data = json.loads(value)
        return ReloadRequest(int(data["generation"]), data.get("hash") or None, str(data.get("by", "")))
    except (ValueError, KeyError, TypeError):  # written by another version: a new request replaces it
        return ReloadRequest(0)


def request_reload(conn: Connection, *, config_hash: str | None, by: str) -> ReloadRequest:
    """Record a new request (the next generation) and NOTIFY the listening instances when the
    transaction commits (PostgreSQL; SQLite has no one listening). Returns the request."""
    if conn.dialect.name == "postgresql":
        # one request at a time: two at once must not both take the same generation
        conn.execute(select(meta.c.value).where(meta.c.key == _KEY).with_for_update())
    request = ReloadRequest(latest_request(conn).generation + 1, config_hash, by)
    value = json.dumps({"generation": request.generation, "hash": config_hash, "by": by})
    conn.execute(
        _insert(conn, meta)
        .values(key=_KEY, value=value)
        .on_conflict_do_update(index_elements=["key"], set_={"value": value})
    )
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": str(request.generation)})
    return request


class ReloadListener:
    """LISTENs for reload requests on a PostgreSQL connection of its own, as long as :meth:`run` runs.

    ``on_notice`` is awaited after each (re)connection (a request may have been missed while
    there was none) and for each notice. A lost connection is opened again after
    ``backoff`` seconds, doubling up to ``max_backoff``; a silent connection is checked every
    ``ping`` seconds, so a connection that died without a word is noticed too.
    """

    def __init__(
        self,
        database_url: str,
        on_notice: Callable[[], Awaitable[None]],
        *,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        ping: float = 30.0,
    ) -> None:
        self._url = libpq_url(database_url)
        self._on_notice = on_notice
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._ping = ping
        #: how many times a connection was opened and listened on (tests, the log)
        self.connections = 0
        #: the server process of the current connection (None: not connected)
        self.backend_pid: int | None = None

    async def run(self) -> None:
        """Listen until cancelled; never returns otherwise."""
        delay = self._backoff
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True, connect_timeout=10) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connections += 1
                    self.backend_pid = conn.info.backend_pid
                    if self.connections > 1:
                        log.info("reload listener: connected again to the database")
                    delay = self._backoff
                    await self._on_notice()
                    await self._listen(conn)
            except (psycopg.Error, OSError) as exc:
                self.backend_pid = None
                log.warning(
                    "reload listener: connection to the database lost or refused (%s); trying again in %g s",
                    redact_text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__),
                    delay,
                )
            # real time, whatever the daemon's clock: this waits for a database to come back
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff)

    async def _listen(self, conn: psycopg.AsyncConnection[object]) -> None:
        while True:
            got = False
            async for _notice in conn.notifies(timeout=self._ping, stop_after=1):
                got = True
            if got:
                await self._on_notice()
            else:
                await conn.execute("SELECT 1")  # raises when the connection died in silence
