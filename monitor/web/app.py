"""The read-only web endpoints: ``/`` (status page), ``/api/status`` (JSON), ``/metrics`` (Prometheus).

Nothing here changes state, so there is nothing to authenticate; it binds to 127.0.0.1
unless ``web.listen`` says otherwise. Every string from a source, a story or the config is
escaped, secrets are never shown (targets are listed by name only), and every response
carries a strict Content-Security-Policy.
"""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from monitor.web.view import StatusProvider

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def make_app(provider: StatusProvider) -> web.Application:
    """The aiohttp application serving the read-only endpoints."""

    @web.middleware
    async def headers(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        response.headers.update(SECURITY_HEADERS)
        return response

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

    app = web.Application(middlewares=[headers])
    app.router.add_get("/", page)
    app.router.add_get("/api/status", api)
    app.router.add_get("/metrics", metrics)
    return app


async def start(provider: StatusProvider, listen: str) -> web.AppRunner:
    """Serve on ``listen`` (``host:port``); returns the runner to clean up.

    Raises OSError when the address cannot be listened on (nothing is left open then).
    """
    host, _, port = listen.rpartition(":")
    runner = web.AppRunner(make_app(provider), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host.strip("[]") or "127.0.0.1", int(port)).start()
    except OSError:
        await runner.cleanup()  # nothing is served: leave nothing open behind the error
        raise
    return runner
