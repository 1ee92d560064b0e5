"""The web application: the dashboard (:mod:`~monitor.web.pages`), the JSON API
(:mod:`~monitor.web.api`), the Atom feeds (:mod:`~monitor.web.feeds`), ``/metrics``
(Prometheus), ``/healthz`` (liveness) and ``/readyz`` (readiness).

It binds to 127.0.0.1 unless ``web.listen`` says otherwise; with ``web.token`` every route
but ``/healthz`` needs the token (:mod:`monitor.web.auth`), and every change a CSRF token.
Every string from a source, a story or the config is escaped, secrets are never shown
(targets are listed by name only), every answer (401, 404, 405 and error pages included)
carries a strict Content-Security-Policy and ``nosniff``, and a request whose ``Host`` is
not one the server knows (:mod:`monitor.web.hosts`) gets 421 and no data. The middlewares
run in that order: headers on everything, then the host, then the token.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CONTENT_TYPE_LATEST

from monitor.web import api, feeds
from monitor.web.auth import WebAuth, auth_check
from monitor.web.headers import PAGE_CSP, SECURITY_HEADERS
from monitor.web.hosts import AllowedHosts
from monitor.web.pages import Pages
from monitor.web.view import DashboardProvider

log = logging.getLogger("monitor.web")

#: the largest request body read (a pasted story for the try-a-rule box, a login form)
MAX_BODY = 1024 * 1024

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
    if response.content_type == "text/html" and response.status < 400:
        # our own pages load their own stylesheet and script; nothing else, and no inline code
        response.headers["Content-Security-Policy"] = PAGE_CSP
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
    provider: DashboardProvider,
    hosts: AllowedHosts,
    *,
    auth: WebAuth | None = None,
    refresh: int = 30,
    outer: Sequence[Middleware] = (),
) -> web.Application:
    """The aiohttp application serving the dashboard, API, feeds and probes to the names in ``hosts``.

    ``auth`` holds the token (none: every route is open, for a server on loopback);
    ``refresh`` is how often the pages refresh themselves (seconds); ``outer`` are middlewares
    that run before the others (the server's phase tracking).
    """
    auth = auth or WebAuth()

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=provider.metrics_text(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        ready = await provider.readiness()
        return web.json_response(ready.to_json(), status=200 if ready.ready else 503)

    app = web.Application(
        middlewares=[*outer, security_headers, host_check(hosts), auth_check(auth)], client_max_size=MAX_BODY
    )
    Pages(provider, auth, refresh).add_routes(app)
    api.Api(provider, auth).add_routes(app)
    feeds.add_routes(app, provider)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
