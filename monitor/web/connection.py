"""One connection to the status page, with a deadline in every phase of its life.

aiohttp's server parses requests but does not time out a request head that never completes
(a client trickling one header line every few seconds keeps its connection, and a
descriptor, for as long as it likes), and before 3.14 not even a connection that sends
nothing. So each connection here carries one timer that is always armed, and only progress
into the next phase moves it; bytes alone never do:

- ``head``: from the connection's first moment, or from the first byte after an idle spell,
  the request line and headers must be complete within ``header_timeout``;
- ``request``: from a complete head, the request (its body, our answer) gets ``request_timeout``;
- ``idle``: after the answer, a keep-alive connection may wait ``idle_timeout`` for the next
  request (the answer is written in this phase too; a client that does not read it runs out
  of the same time).

When the timer fires the connection is closed at once (a ``408`` first when nothing else is
waiting to be written). The middleware :func:`track_phases` tells a connection when a head is
complete and when the answer is ready; it is the only place that knows aiohttp handed a
request to the application.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_request import BaseRequest

from monitor.web.headers import SECURITY_HEADERS, raw_answer

log = logging.getLogger("monitor.web")

_REQUEST_TIMEOUT = raw_answer("408 Request Timeout")


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How long a connection may spend in each phase (seconds, each > 0)."""

    header_timeout: float
    request_timeout: float
    idle_timeout: float


class Phase(Enum):
    HEAD = "head"
    REQUEST = "request"
    IDLE = "idle"


class StatusConnection(web.RequestHandler):
    """aiohttp's request handler (one per connection) plus a per-phase deadline.

    ``on_close`` is called exactly once, when the connection is gone. Error answers aiohttp
    writes itself (a request it cannot parse) carry the security headers too.
    """

    def __init__(
        self,
        manager: web.Server,
        *,
        deadlines: Deadlines,
        on_close: Callable[[], None],
        loop: asyncio.AbstractEventLoop,
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, loop=loop, **kwargs)
        self._deadlines = deadlines
        self._on_close: Callable[[], None] | None = on_close
        self._phase = Phase.HEAD
        self._timer: asyncio.TimerHandle | None = None
        # ours, not aiohttp's `transport` attribute: aiohttp lets go of that one when it closes
        # the connection, and a close can hang for ever behind a client that does not read
        self._socket_transport: asyncio.Transport | None = None
        # bytes came in while a request was being answered (a pipelined request, or a body
        # the handler did not read): the next head is already under way
        self._early_bytes = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._socket_transport = transport
        super().connection_made(transport)
        self._enter(Phase.HEAD)

    def data_received(self, data: bytes) -> None:
        if self._phase is Phase.IDLE:
            self._enter(Phase.HEAD)
        elif self._phase is Phase.REQUEST:
            self._early_bytes = True
        super().data_received(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._socket_transport = None
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()
        super().connection_lost(exc)

    def head_complete(self) -> None:
        """A request head was parsed and handed to the application."""
        self._early_bytes = False
        self._enter(Phase.REQUEST)

    def answered(self) -> None:
        """The application returned its answer (aiohttp writes it next)."""
        self._enter(Phase.HEAD if self._early_bytes else Phase.IDLE)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        response = super().handle_error(request, status, exc, message)
        response.headers.update(SECURITY_HEADERS)
        return response

    def _enter(self, phase: Phase) -> None:
        self._phase = phase
        if self._timer is not None:
            self._timer.cancel()
        seconds = {
            Phase.HEAD: self._deadlines.header_timeout,
            Phase.REQUEST: self._deadlines.request_timeout,
            Phase.IDLE: self._deadlines.idle_timeout,
        }[phase]
        self._timer = self._loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._timer = None
        transport = self._socket_transport
        if transport is None:
            return
        log.debug("status page: closing a connection that overran its %s deadline", self._phase.value)
        if not transport.is_closing() and transport.get_write_buffer_size() == 0:
            if self._phase is Phase.HEAD:
                transport.write(_REQUEST_TIMEOUT)
            if transport.get_write_buffer_size() == 0:
                transport.close()  # nothing left to write: the descriptor is freed at once
                return
        # a client that does not read what we write would keep a graceful close waiting for ever
        transport.abort()



@web.middleware
async def track_phases(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the request's :class:`StatusConnection` (if it is one) when its head is complete
    and when its answer is ready."""
    connection = request.protocol
    if not isinstance(connection, StatusConnection):
        return await handler(request)
    connection.head_complete()
    try:
        return await handler(request)
    finally:
        connection.answered()
