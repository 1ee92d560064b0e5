"""The JSON API: the dashboard's views as JSON, the retry action, and ``/api/openapi.json``.

Reads need the token like every page; a change (``POST``) needs the bearer token or the
CSRF token in ``X-CSRF-Token`` (``GET /api/csrf`` gives it to a signed-in browser session).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from monitor.web.auth import CSRF_HEADER, WebAuth
from monitor.web.openapi import OPENAPI
from monitor.web.sourcelist import BadSourceQuery, SourceQuery, source_page
from monitor.web.view import DashboardProvider

MAX_LIMIT = 1000
MAX_QUERY = 2000


def _limit(request: web.Request, default: int) -> int:
    value = request.query.get("limit", "")
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise web.HTTPBadRequest(text=f"400 Bad Request: limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="400 Bad Request: the body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="400 Bad Request: expected a JSON object")
    return body


@dataclass
class Api:
    """The API's handlers, reading from ``provider``."""

    provider: DashboardProvider
    auth: WebAuth

    def _check_csrf(self, request: web.Request) -> None:
        if not self.auth.csrf_ok(request, request.headers.get(CSRF_HEADER, "")):
            raise web.HTTPForbidden(text=f"403 Forbidden: send the bearer token or the {CSRF_HEADER} header")

    async def status(self, _: web.Request) -> web.Response:
        return web.json_response((await self.provider.status_view()).to_json())

    async def sources(self, request: web.Request) -> web.Response:
        try:
            query = SourceQuery.parse(request.query)
        except BadSourceQuery as exc:
            raise web.HTTPBadRequest(text=f"400 Bad Request: {exc}") from None
        view = await self.provider.status_view()
        return web.json_response(source_page(view.sources, query).to_json(request.path))

    async def outbox(self, request: web.Request) -> web.Response:
        rows = await self.provider.outbox_items(_limit(request, 500))
        return web.json_response({"outbox": [r.to_json() for r in rows]})

    async def retry(self, request: web.Request) -> web.Response:
        self._check_csrf(request)
        row = request.match_info["row_id"]
        if not row.isdigit() or not await self.provider.retry_alert(int(row)):
            raise web.HTTPNotFound(text="404 Not Found: no such alert, or it was sent or cancelled")
        return web.json_response({"id": int(row), "status": "pending"})

    async def alerts(self, request: web.Request) -> web.Response:
        items = await self.provider.alert_items(_limit(request, 100), request.query.get("rule") or None)
        return web.json_response({"alerts": [a.to_json() for a in items]})

    async def rules(self, _: web.Request) -> web.Response:
        return web.json_response({"rules": [r.to_json() for r in await self.provider.rule_items()]})

    async def try_rule(self, request: web.Request) -> web.Response:
        self._check_csrf(request)
        body = await _json_body(request)
        query, text, url, about = (body.get(k, "") for k in ("query", "text", "url", "about"))
        if not all(isinstance(v, str) for v in (query, text, url, about)):
            raise web.HTTPBadRequest(text="400 Bad Request: query, text, url and about are strings")
        result = await self.provider.try_rule(query[:MAX_QUERY], text=text, url=url.strip(), about=about[:MAX_QUERY])
        return web.json_response(result.to_json(), status=400 if result.error else 200)

    async def csrf(self, request: web.Request) -> web.Response:
        return web.json_response({"header": CSRF_HEADER, "token": self.auth.csrf_token(request)})

    async def openapi(self, _: web.Request) -> web.Response:
        return web.json_response(OPENAPI)

    def add_routes(self, app: web.Application) -> None:
        """Put the API on ``app``."""
        router = app.router
        router.add_get("/api/status", self.status)
        router.add_get("/api/sources", self.sources)
        router.add_get("/api/outbox", self.outbox)
        router.add_post("/api/outbox/{row_id}/retry", self.retry)
        router.add_get("/api/alerts", self.alerts)
        router.add_get("/api/rules", self.rules)
        router.add_post("/api/try", self.try_rule)
        router.add_get("/api/csrf", self.csrf)
        router.add_get("/api/openapi.json", self.openapi)
