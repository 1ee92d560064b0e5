"""The local servers tests talk to, all on 127.0.0.x: one way to build each.

- :class:`Site`: the HTTP(S) server tests build: an aiohttp site whose routes each test adds;
  it records every request and how many were in flight at once.
- :class:`Feed`: an RSS feed at one path whose stories the test changes between polls; served by
  a :class:`Site` or by pytest-httpserver's ``httpserver`` fixture (for tests that script canned
  answers with it).
- :class:`Canary`: a TCP listener that must never be contacted (the SSRF oracle of
  RELIABILITY.md §8.0); it counts every connection.
- :func:`raw_server`: a bare TCP server for responses no HTTP server would send.

Webhook deliveries go to :class:`monitor.demo.receiver.Receiver` (the ``receiver`` fixture).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import selectors
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support.feeds import Item, rss

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Seen:
    """One request as the site saw it."""

    method: str
    path: str
    headers: dict[str, str]
    peer: str


@dataclass
class Site:
    """An aiohttp site on 127.0.0.1 with routes added per test; records requests and concurrency.

    A route is an exact path or a compiled pattern the whole path must match (exact paths
    first, then patterns in the order added); anything else is a 404. With ``tls`` the site
    speaks HTTPS and :attr:`base` says so.
    """

    host: str = "127.0.0.1"
    port: int = 0
    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    starts: list[float] = field(default_factory=list)
    disconnects: int = 0
    _routes: dict[str, Handler] = field(default_factory=dict)
    _patterns: list[tuple[re.Pattern[str], Handler]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def allow(self) -> list[str]:
        """The ``allow_networks`` entry that permits exactly this site."""
        return [f"{self.host}:{self.port}"]

    def route(self, path: str | re.Pattern[str], handler: Handler) -> None:
        """Answer requests for ``path`` (any method) with ``handler``."""
        if isinstance(path, str):
            self._routes[path] = handler
        else:
            self._patterns.append((path, handler))

    def static(
        self, path: str, body: bytes, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        """Answer ``path`` with a fixed response."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(body=body, status=status, headers=headers or {})

        self.route(path, handler)

    def conditional(self, path: str, body: bytes, *, etag: str, content_type: str) -> None:
        """Answer ``path`` with ``body`` and its ``etag``, or 304 Not Modified when the request
        names that ETag in If-None-Match (as real servers and CDNs do)."""

        async def handler(request: web.Request) -> web.StreamResponse:
            if request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(body=body, headers={"ETag": etag, "Content-Type": content_type})

        self.route(path, handler)

    def _handler(self, path: str) -> Handler | None:
        handler = self._routes.get(path)
        if handler is None:
            handler = next((h for p, h in self._patterns if p.fullmatch(path)), None)
        return handler

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            Seen(
                request.method,
                request.path_qs,
                dict(request.headers),
                str(request.transport.get_extra_info("peername")[0]) if request.transport else "",
            )
        )
        self.starts.append(asyncio.get_running_loop().time())
        handler = self._handler(request.path)
        if handler is None:
            return web.Response(status=404)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await handler(request)
        except (ConnectionResetError, asyncio.CancelledError):
            self.disconnects += 1
            raise
        finally:
            self.in_flight -= 1

    async def start(self) -> Site:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.tls)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Feed:
    """An RSS feed at ``path`` on a local server; the test changes :attr:`items` between polls.

    :attr:`hits` counts the requests. ``server`` is a :class:`Site` or pytest-httpserver's
    ``HTTPServer``; either way the feed answers ``application/rss+xml``.
    """

    def __init__(self, server: Site | HTTPServer, path: str = "/feed.xml") -> None:
        self.items: list[Item] = []
        self.hits = 0
        self.server = server
        self.path = path
        if isinstance(server, Site):
            server.route(path, self._answer_site)
        else:
            server.expect_request(path).respond_with_handler(self._answer_httpserver)

    @property
    def url(self) -> str:
        if isinstance(self.server, Site):
            return self.server.base + self.path
        return str(self.server.url_for(self.path))

    def stories(self) -> list[Item]:
        """What the feed lists on this request (a subclass may compute it)."""
        return self.items

    def _document(self) -> str:
        self.hits += 1
        return rss(self.stories())

    async def _answer_site(self, _: web.Request) -> web.Response:
        return web.Response(text=self._document(), content_type="application/rss+xml")

    def _answer_httpserver(self, _: Request) -> Response:
        return Response(self._document(), content_type="application/rss+xml")


class Canary:
    """A TCP listener that must never be contacted: it accepts, closes and counts every connection.

    A thread does the accepting, so a canary also watches synchronous code (a parser that
    would fetch a DTD) and answers at once instead of leaving a client hanging. Reading
    :attr:`accepts` first takes any connection still queued, so the count never lags.
    With ``any_port_if_taken`` a wanted port that cannot be bound (not root, already used)
    falls back to any free port.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, any_port_if_taken: bool = False) -> None:
        self.host = host
        self.port = port
        self.any_port_if_taken = any_port_if_taken
        self._accepts = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def accepts(self) -> int:
        """Connections accepted so far."""
        self._take_queued()
        return self._accepts

    def _take_queued(self) -> None:
        with self._lock:
            if self._sock is None:
                return
            while True:
                try:
                    conn, _ = self._sock.accept()
                except OSError:  # nothing queued (BlockingIOError) or already closed
                    return
                self._accepts += 1
                conn.close()

    def _watch(self, sock: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                if selector.select(timeout=0.05):
                    self._take_queued()

    def start(self) -> Canary:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            if not self.any_port_if_taken:
                sock.close()
                raise
            sock.bind((self.host, 0))
        sock.listen(16)
        sock.setblocking(False)
        self.port = int(sock.getsockname()[1])
        self._sock = sock
        self._thread = threading.Thread(target=self._watch, args=(sock,), name="canary", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        self._take_queued()
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def __enter__(self) -> Canary:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.asynccontextmanager
async def raw_server(
    on_connect: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    """A bare TCP server on 127.0.0.1 speaking whatever ``on_connect`` writes; yields its port."""
    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)
