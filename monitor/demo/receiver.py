"""A local webhook receiver for apprise's ``json://`` (the demo prints what it gets; tests count it)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    title: str
    body: str
    key: str | None
    raw: dict[str, Any]


@dataclass
class Receiver:
    """Accepts apprise JSON posts on ``/hook``; ``fail_with`` makes it answer an error status."""

    messages: list[Received] = field(default_factory=list)
    attempts: int = 0
    fail_with: int | None = None
    on_message: Callable[[Received], None] | None = None
    #: tests: an error status to answer for a particular message (a poison message), or None
    reject: Callable[[dict[str, Any]], int | None] | None = None
    #: tests: accept the message, then answer only after this many seconds (an "unknown outcome");
    #: a client that gives up first cuts the wait short (the message stays received)
    respond_after: float = 0.0
    #: tests: the Retry-After header of a ``fail_with`` answer (a 429 or 503), or None
    retry_after: str | None = None
    runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    async def _hook(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.fail_with is not None:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return web.Response(status=self.fail_with, text="failing on purpose", headers=headers)
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = {"message": await request.text()}
        status = self.reject(data) if self.reject is not None else None
        if status is not None:
            return web.Response(status=status, text="rejected")
        msg = Received(
            title=str(data.get("title", "")),
            body=str(data.get("message", "")),
            key=request.headers.get("X-Newsmonitor-Key"),
            raw=data,
        )
        self.messages.append(msg)
        if self.on_message is not None:
            self.on_message(msg)
        if self.respond_after:
            await asyncio.sleep(self.respond_after)
        return web.json_response({"ok": True})

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        self.port = int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
