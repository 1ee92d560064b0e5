"""The read-only web endpoints: ``/`` (status page), ``/api/status`` (JSON), ``/metrics`` (Prometheus).

Nothing here changes state, so there is nothing to authenticate; it binds to 127.0.0.1
unless ``web.listen`` says otherwise. Every string from a source, a story or the config is
escaped, secrets are never shown (targets are listed by name only), every answer (404, 405
and error pages included) carries a strict Content-Security-Policy, and a request whose
``Host`` is not one the server knows (:mod:`monitor.web.hosts`) gets 421 and no data.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST

from monitor.web.headers import SECURITY_HEADERS
from monitor.web.hosts import AllowedHosts
from monitor.web.view import StatusProvider

log = logging.getLogger("monitor.web")

@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer gets :data:`SECURITY_HEADERS`: pages, HTTP errors (404, 405, 421) and the
    500 that an unexpected error in a page becomes (logged here, never shown)."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # aiohttp's HTTP errors are responses: send them with the headers
        exc.headers.update(SECURITY_HEADERS)
        raise
    except Exception:  # the top of one request: a bug in a page must not reach the client as a traceback
        log.exception("status page: error answering %s %s", request.method, request.path)
        response = web.Response(status=500, text="500 Internal Server Error: see the daemon's log")
    response.headers.update(SECURITY_HEADERS)
    return response


def host_check(hosts: AllowedHosts) -> Middleware:
    """The middleware that answers 421 to a request whose ``Host`` is not in ``hosts``."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.getall("Host", [])
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        local = str(sockname[0]) if isinstance(sockname, tuple) else None
        if len(given) != 1 or not hosts.allows(given[0], local):
            raise web.HTTPMisdirectedRequest(
                text="421 Misdirected Request: this host name is not one newsmonitor answers to "
                "(the names it accepts are set in web.hosts)"
            )
        return await handler(request)

    return check


def make_app(
    provider: StatusProvider, hosts: AllowedHosts, *, outer: Sequence[Middleware] = ()
) -> web.Application:
    """The aiohttp application serving the read-only endpoints to the names in ``hosts``.

    ``outer`` are middlewares that run before the others (the server's phase tracking).
    """

    async def page(_: web.Request) -> web.Response:
        data = (await provider.status_view()).to_json()
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(s[k]))}</td>"
                for k in ("name", "kind", "detail", "last_poll", "next_poll", "stories", "last_error")
            )
            + "</tr>"
            for s in data["sources"]
        )
        # what to do, once for each state a source is in (ok needs nothing)
        advice = {s["status"]: s["advice"] for s in data["sources"] if s["status"] != "ok"}
        todo = "".join(
            f"<li><b>{html.escape(state)}</b>: {html.escape(text)}</li>" for state, text in advice.items()
        )
        outbox = ", ".join(f"{html.escape(k)}: {v}" for k, v in sorted(data["outbox"].items())) or "empty"
        body = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>newsmonitor</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style></head><body>"
            f"<h1>newsmonitor</h1><p>Configuration: {html.escape(data['config']['path'])}, loaded "
            f"{html.escape(data['config']['loaded'])}; last reload: {html.escape(data['config']['last_reload'])}</p>"
            f"<p>Outbox: {outbox}</p><table><tr><th>source</th><th>kind</th><th>status</th>"
            f"<th>last poll</th><th>next poll</th><th>stories</th><th>last error</th></tr>{rows}</table>"
            + (f"<ul>{todo}</ul>" if todo else "")
            + "</body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    async def api(_: web.Request) -> web.Response:
        return web.json_response((await provider.status_view()).to_json())

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=provider.metrics_text(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application(middlewares=[*outer, security_headers, host_check(hosts)])
    app.router.add_get("/", page)
    app.router.add_get("/api/status", api)
    app.router.add_get("/metrics", metrics)
    return app
