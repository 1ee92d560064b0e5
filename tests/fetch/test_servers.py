"""Real local servers for the HTTP client tests: a scriptable aiohttp site and canary listeners.

Everything listens on 127.0.0.x only. A :class:`Canary` is a TCP listener that must never
be contacted: it counts accepted connections, the SSRF oracle of RELIABILITY.md §8.0.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Canary:
    """A TCP listener that records every connection it accepts (and answers nothing)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.accepts = 0
        self._server: asyncio.Server | None = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepts += 1
        writer.close()

    async def start(self) -> Canary:
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@dataclass
class Seen:
    """One request as the site saw it."""

    method: str
    path: str
    headers: dict[str, str]
    peer: str


@dataclass
class Site:
    """An aiohttp site on 127.0.0.1 with routes added per test; records requests and concurrency."""

    host: str = "127.0.0.1"
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    starts: list[float] = field(default_factory=list)
    disconnects: int = 0
    _routes: dict[str, Handler] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def allow(self) -> list[str]:
        return [f"{self.host}:{self.port}"]

    def route(self, path: str, handler: Handler) -> None:
        self._routes[path] = handler

    def static(
        self, path: str, body: bytes, status: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(body=body, status=status, headers=headers or {})

        self.route(path, handler)

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
        handler = self._routes.get(request.path)
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
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture(name="site")
async def site_fixture() -> AsyncIterator[Site]:
    s = await Site().start()
    yield s
    await s.stop()


@pytest.fixture(name="other_site")
async def other_site_fixture() -> AsyncIterator[Site]:
    """A second origin: same address, another port."""
    s = await Site().start()
    yield s
    await s.stop()


@pytest.fixture(name="canary")
async def canary_fixture() -> AsyncIterator[Canary]:
    c = await Canary().start()
    yield c
    await c.stop()


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


async def test_canary_counts_connections(canary: Canary) -> None:
    """The SSRF oracle itself works: a real connection is counted."""
    _, writer = await asyncio.open_connection("127.0.0.1", canary.port)
    writer.close()
    await asyncio.sleep(0.05)
    assert canary.accepts == 1
