"""Slow HTTP clients: connections that hold a server's descriptors by never finishing a request.

:class:`SlowClients` opens ``n`` raw connections to a local server, starts a request on each
and then trickles one more header line every ``trickle`` seconds, never ending the head (a
slow-loris). When the server closes a connection, the client opens another one after
``reconnect`` seconds, as a real attacker would, so the pressure lasts until :meth:`stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class SlowClients:
    """``n`` trickling connections to ``127.0.0.1:port`` (see the module docstring)."""

    port: int
    n: int
    trickle: float = 1.0
    reconnect: float = 0.5
    host_header: str = "127.0.0.1"
    #: connections opened (TCP handshake done; the server may not have accepted them yet)
    opened: int = 0
    #: connection attempts that failed (refused, reset or timed out)
    failed: int = 0
    #: connections the server closed or reset
    closed_by_server: int = 0
    #: the first bytes the server sent on a connection before closing it, one entry per answer
    answers: list[bytes] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _tried: int = 0
    _all_tried: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> SlowClients:
        """Start the connections; returns once each has been tried once (opened or failed)."""
        self._tasks = [asyncio.create_task(self._hold()) for _ in range(self.n)]
        await self._all_tried.wait()
        return self

    async def stop(self) -> None:
        """Close every connection and stop reconnecting."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _tried_once(self) -> None:
        self._tried += 1
        if self._tried == self.n:
            self._all_tried.set()

    async def _hold(self) -> None:
        first = True
        while not self._stopping.is_set():
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 5)
            except (OSError, TimeoutError):
                self.failed += 1
            else:
                self.opened += 1
                if first:
                    self._tried_once()
                    first = False
                await self._trickle(reader, writer)
            if first:
                self._tried_once()
                first = False
            await asyncio.sleep(self.reconnect)

    async def _trickle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(f"GET / HTTP/1.1\r\nHost: {self.host_header}\r\n".encode())
            while not self._stopping.is_set():
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(4096), self.trickle)
                except TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
                    continue
                if data:
                    self.answers.append(data)
                    continue
                self.closed_by_server += 1
                return
        except OSError:  # reset by the server
            self.closed_by_server += 1
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
