"""The status server: its listening sockets, a capped accept loop, and the application.

Descriptors are what a flood of connections takes from the daemon (a fetch, a delivery, a
template file and the database all need one), so the server bounds its own share:

- at most ``max_connections`` open at once, and never more than a quarter of the process's
  ``RLIMIT_NOFILE``; a connection over the cap gets ``503`` and is closed as soon as it is
  accepted, before any transport or request handler exists for it;
- every connection has a deadline in every phase (:mod:`monitor.web.connection`), so an idle
  or trickling client frees its slot within seconds.

The accept loop is ours rather than ``loop.create_server``'s for two reasons: the cap must
act before aiohttp builds a handler, and asyncio's own loop reacts to a full descriptor table
(EMFILE) by logging a traceback and scheduling a retry for every connection waiting in the
backlog, again on every wake-up (measured: 2.4 MB of log a second, and the retries pile up).
Ours pauses that socket, retries once a second, and logs one line, then a count
(:class:`AcceptErrors`). Accepted sockets are handed to ``loop.connect_accepted_socket``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import web

from monitor.web.app import make_app
from monitor.web.auth import WebAuth
from monitor.web.connection import Deadlines, StatusConnection, track_phases
from monitor.web.headers import raw_answer
from monitor.web.hosts import AllowedHosts
from monitor.web.view import DashboardProvider

log = logging.getLogger("monitor.web")

#: the listen queue: connections the kernel holds while we are busy
BACKLOG = 128
#: connections taken from the queue in one wake-up, so accepting cannot starve the loop
ACCEPT_BATCH = 64
#: after a failed accept (no descriptor left), how long the socket rests before the next try
ACCEPT_RETRY = 1.0
#: while accepts keep failing, how often the count of failures is logged
REPORT_EVERY = 60.0
#: the share of RLIMIT_NOFILE the status server may hold at most (1/4: 256 of systemd's 1 024)
NOFILE_SHARE = 4
#: how long stopping waits for answers in progress
SHUTDOWN_TIMEOUT = 1.0

_REFUSED = raw_answer("503 Service Unavailable")


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The status server's bounds (``web.*`` in the configuration; seconds).

    Defaults: a status page has a handful of clients (a scraper, a few browser tabs), each of
    which sends its whole request head in one packet and is answered in milliseconds, so
    ``header_timeout`` 5 s is long even for a slow link, ``idle_timeout`` 5 s keeps a browser's
    connection for a page and its reload (as Apache and uvicorn do), ``request_timeout`` 30 s
    leaves the page time to read the database while a long write holds it, and
    ``max_connections`` 100 is ten times what the page needs yet a tenth of systemd's default
    descriptor limit.
    """

    max_connections: int = 100
    header_timeout: float = 5.0
    request_timeout: float = 30.0
    idle_timeout: float = 5.0

    @property
    def deadlines(self) -> Deadlines:
        return Deadlines(self.header_timeout, self.request_timeout, self.idle_timeout)


def connection_cap(configured: int) -> int:
    """``configured``, lowered to a quarter of this process's soft ``RLIMIT_NOFILE`` (at least 1):
    the other three quarters stay for fetches, deliveries, the database and the parsers."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, soft // NOFILE_SHARE))


@dataclass
class AcceptErrors:
    """Failed accepts, logged without flooding: one line when they start, a count every
    ``every`` seconds while they last, one line when a connection is accepted again."""

    every: float = REPORT_EVERY
    failures: int = 0
    _reported_at: float = 0.0

    def failed(self, exc: OSError, now: float) -> None:
        self.failures += 1
        if self.failures == 1:
            log.error(
                "status page: cannot accept connections (%s); retrying every %gs, further failures "
                "are counted, not logged one by one",
                _reason(exc),
                ACCEPT_RETRY,
            )
            self._reported_at = now
        elif now - self._reported_at >= self.every:
            log.error("status page: still cannot accept connections: %d failures so far (%s)", self.failures, _reason(exc))
            self._reported_at = now

    def accepted(self) -> None:
        if self.failures:
            log.warning("status page: accepting connections again after %d failed accepts", self.failures)
            self.failures = 0


def _reason(exc: OSError) -> str:
    text = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    if exc.errno == errno.EMFILE:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        text += f": all {soft} descriptors the process may open are in use (LimitNOFILE, ulimit -n)"
    return text


@dataclass
class _Slot:
    """One connection's place under the cap; released exactly once."""

    server: StatusServer
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.server.open_connections -= 1


@dataclass
class StatusServer:
    """Serves ``provider``'s pages on ``listen`` (``host:port``; an empty host is 127.0.0.1).

    ``hosts`` are the extra ``Host`` names to answer to (``web.hosts``); see
    :class:`~monitor.web.hosts.AllowedHosts` for the ones always allowed. ``auth`` holds
    ``web.token`` (none: no authentication).
    """

    provider: DashboardProvider
    listen: str
    hosts: Iterable[str] = ()
    limits: ServerLimits = field(default_factory=ServerLimits)
    auth: WebAuth = field(default_factory=WebAuth)
    #: seconds between the pages' refreshes
    refresh: int = 30
    open_connections: int = 0
    #: connections refused at the cap since start
    refused: int = 0
    cap: int = 0
    accept_errors: AcceptErrors = field(default_factory=AcceptErrors)
    _runner: web.AppRunner | None = None
    _sockets: list[socket.socket] = field(default_factory=list)
    _retries: dict[int, asyncio.TimerHandle] = field(default_factory=dict)
    _pending: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def port(self) -> int:
        """The port of the first listening socket (the one chosen, when listen asked for 0)."""
        return int(self._sockets[0].getsockname()[1])

    async def start(self) -> StatusServer:
        """Listen and serve. Raises OSError when the address cannot be listened on (then
        nothing is left open)."""
        host, _, port = self.listen.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        self.cap = connection_cap(self.limits.max_connections)
        allowed = AllowedHosts.for_listener(host, self.hosts)
        app = make_app(self.provider, allowed, auth=self.auth, refresh=self.refresh, outer=[track_phases])
        runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            self._sockets = await _bind(host, int(port))
        except OSError:
            await runner.cleanup()  # nothing is served: leave nothing open behind the error
            raise
        self._runner = runner
        loop = asyncio.get_running_loop()
        for sock in self._sockets:
            loop.add_reader(sock.fileno(), self._accept, sock)
        log.info(
            "status page on %s (at most %d connections at once%s)",
            ", ".join(_where(sock) for sock in self._sockets),
            self.cap,
            "" if self.cap == self.limits.max_connections else ", a quarter of the descriptor limit",
        )
        return self

    async def stop(self) -> None:
        """Stop listening, close every connection (answers in progress get a second) and
        release everything."""
        loop = asyncio.get_running_loop()
        for sock in self._sockets:
            with contextlib.suppress(ValueError, OSError):  # already closed
                loop.remove_reader(sock.fileno())
            sock.close()
        for handle in self._retries.values():
            handle.cancel()
        self._retries.clear()
        for task in self._pending:
            task.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ accepting

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # nothing more waiting
            except ConnectionAbortedError:
                continue  # the client gave up before we took it
            except OSError as exc:
                self._pause(sock, exc)
                return
            self.accept_errors.accepted()
            self._serve(conn)

    def _pause(self, sock: socket.socket, exc: OSError) -> None:
        """Rest a socket whose accept failed (no descriptor left, most likely): the kernel
        would report it ready again at once, and a retry now would fail the same way."""
        loop = asyncio.get_running_loop()
        self.accept_errors.failed(exc, loop.time())
        loop.remove_reader(sock.fileno())
        self._retries[sock.fileno()] = loop.call_later(ACCEPT_RETRY, self._resume, sock)

    def _resume(self, sock: socket.socket) -> None:
        self._retries.pop(sock.fileno(), None)
        if sock.fileno() != -1:
            asyncio.get_running_loop().add_reader(sock.fileno(), self._accept, sock)

    def _serve(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        if self.open_connections >= self.cap:
            self.refused += 1
            with contextlib.suppress(OSError):
                conn.send(_REFUSED)
            conn.close()
            return
        self.open_connections += 1
        task = asyncio.get_running_loop().create_task(self._connect(conn, _Slot(self)))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _connect(self, conn: socket.socket, slot: _Slot) -> None:
        assert self._runner is not None and self._runner.server is not None
        loop = asyncio.get_running_loop()
        limits = self.limits
        protocol = StatusConnection(
            self._runner.server,
            deadlines=limits.deadlines,
            on_close=slot.release,
            loop=loop,
            # aiohttp's own keep-alive timer is only a backstop behind ours
            keepalive_timeout=limits.idle_timeout + limits.header_timeout,
            # a body the page did not read is not waited for: the connection closes after the answer
            lingering_time=0.0,
            access_log=None,
        )
        try:
            await loop.connect_accepted_socket(lambda: protocol, conn)
        except OSError as exc:  # the client went away while the transport was being made
            log.debug("status page: connection lost while being set up: %s", exc)
            slot.release()
            conn.close()


def _where(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _bind(host: str, port: int) -> list[socket.socket]:
    """Listening, non-blocking sockets on every address ``host`` resolves to."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


async def start(
    provider: DashboardProvider,
    listen: str,
    *,
    hosts: Iterable[str] = (),
    limits: ServerLimits | None = None,
    token: str | None = None,
    refresh: int = 30,
) -> StatusServer:
    """Serve the dashboard on ``listen`` (``host:port``); returns the server to :meth:`~StatusServer.stop`.

    ``token``: every route but ``/healthz`` needs it (None: open). Raises OSError when the
    address cannot be listened on (nothing is left open then).
    """
    server = StatusServer(
        provider,
        listen,
        hosts=tuple(hosts),
        limits=limits or ServerLimits(),
        auth=WebAuth(token or None),
        refresh=refresh,
    )
    return await server.start()
