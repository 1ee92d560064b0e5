"""The read-only web endpoints: ``/`` (status page), ``/api/status`` (JSON), ``/metrics`` (Prometheus).

Nothing here changes state, so there is nothing to authenticate; it binds to 127.0.0.1
unless ``web.listen`` says otherwise. Every string from a source, a story or the config is
escaped, secrets are never shown (targets are listed by name only), and every response
carries a strict Content-Security-Policy.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitor.daemon.runtime import Runtime
from monitor.redact import redact_text
from monitor.store import repo

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "-"


def status(rt: Runtime) -> dict[str, Any]:
    """The daemon's state as plain data (also the JSON API)."""
    with rt.database.read() as conn:
        states = {s.name: s for s in repo.all_sources(conn)}
        counts = repo.outbox_counts(conn)
        dead = repo.dead_targets(conn)
    sources = []
    for name, src in rt.sources.items():
        st = states.get(name)
        sources.append(
            {
                "name": name,
                "kind": src.kind,
                "enabled": src.enabled,
                "status": "never polled" if st is None else ("failing" if st.failing_since else "ok"),
                "failing_since": _when(st.failing_since) if st else "-",
                "last_poll": _when(st.last_poll_at) if st else "-",
                "next_poll": _when(st.next_poll_at) if st else "-",
                "last_error": redact_text(st.last_error or "") if st else "",
                "stories": st.stories_total if st else 0,
            }
        )
    return {
        "sources": sources,
        "outbox": counts,
        "dead_by_target": dead,
        "rules": [r.name for r in rt.rules],
        "targets": sorted(rt.targets),
        "config": {
            "path": rt.config.path,
            "loaded": _when(rt.config_loaded_at),
            # the problems themselves are in the log: a message may quote a value
            "last_reload": "failed at " + _when(rt.reload_failed_at) + " (see the log)"
            if rt.reload_failed_at else "ok",
        },
    }


def make_app(rt: Runtime) -> web.Application:
    """The aiohttp application serving the read-only endpoints."""

    @web.middleware
    async def headers(request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    async def page(_: web.Request) -> web.Response:
        data = await rt.db(status, rt)
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(s[k]))}</td>"
                for k in ("name", "kind", "status", "last_poll", "next_poll", "stories", "last_error")
            )
            + "</tr>"
            for s in data["sources"]
        )
        outbox = ", ".join(f"{html.escape(k)}: {v}" for k, v in sorted(data["outbox"].items())) or "empty"
        body = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>newsmonitor</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style></head><body>"
            f"<h1>newsmonitor</h1><p>Configuration: {html.escape(data['config']['path'])}, loaded "
            f"{html.escape(data['config']['loaded'])}; last reload: {html.escape(data['config']['last_reload'])}</p>"
            f"<p>Outbox: {outbox}</p><table><tr><th>source</th><th>kind</th><th>status</th>"
            f"<th>last poll</th><th>next poll</th><th>stories</th><th>last error</th></tr>{rows}</table></body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    async def api(_: web.Request) -> web.Response:
        return web.json_response(await rt.db(status, rt))

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(rt.metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application(middlewares=[headers])
    app.router.add_get("/", page)
    app.router.add_get("/api/status", api)
    app.router.add_get("/metrics", metrics)
    return app


async def start(rt: Runtime, listen: str) -> web.AppRunner:
    """Serve on ``listen`` (``host:port``); returns the runner to clean up."""
    host, _, port = listen.rpartition(":")
    runner = web.AppRunner(make_app(rt), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host.strip("[]") or "127.0.0.1", int(port)).start()
    return runner
