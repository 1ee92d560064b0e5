"""The dashboard's HTML pages: sources, alerts, rules, the outbox (with its retry button),
the try-a-rule box, and signing in and out.

Every page is plain server-rendered HTML that works without script (sorting and filtering
go through the query string, the retry button is a form); ``static/dashboard.js`` adds
instant filtering, sorting in place and the refresh. Every form that changes something
carries the CSRF token (:mod:`monitor.web.auth`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment

from monitor.web.auth import CREDENTIAL, CSRF_FIELD, SESSION_COOKIE, Credential, WebAuth, safe_next
from monitor.web.render import environment, render, static_files
from monitor.web.sourcelist import BadSourceQuery, SourceQuery, source_page
from monitor.web.view import DashboardProvider, OutboxItem, SourceHealth

NAV = (("/", "Sources"), ("/alerts", "Alerts"), ("/rules", "Rules"), ("/outbox", "Outbox"), ("/try", "Try a rule"))
#: the columns of the sources table: query-string key (a sort key of :mod:`~monitor.web.sourcelist`), heading
SOURCE_COLUMNS = (
    ("name", "source"),
    ("state", "state"),
    ("kind", "kind"),
    ("last_poll", "last poll"),
    ("next_poll", "next poll"),
    ("stories", "stories"),
    ("last_error", "last error"),
)
#: how many alerts the alert page and the feeds show
ALERTS_SHOWN = 100
OUTBOX_SHOWN = 500
MAX_QUERY = 2000
#: the days of stored history the try box searches (as the provider does)
HISTORY_DAYS = 30


def held(row: OutboxItem) -> bool:
    """Whether a waiting row is held (quiet hours, a digest, the throttle, a backoff) rather
    than due or being sent."""
    return row.status == "pending" and not row.waiting.startswith("due")


@dataclass
class Pages:
    """The page handlers, reading from ``provider``; ``refresh`` is the seconds between refreshes."""

    provider: DashboardProvider
    auth: WebAuth
    refresh: int = 30
    env: Environment = field(default_factory=environment)
    static: dict[str, tuple[bytes, str]] = field(default_factory=static_files)

    def feed_url(self, rule: str | None = None) -> str:
        """The path of the feed of all alerts (or of ``rule``'s), with the feed token when auth is on."""
        path = "/feeds/all.atom" if rule is None else f"/feeds/rules/{quote(rule, safe='')}.atom"
        return path + (f"?token={self.auth.feed_token}" if self.auth.enabled else "")

    def _page(self, request: web.Request, template: str, title: str, **context: Any) -> web.Response:
        text = render(
            self.env,
            template,
            title=title,
            nav=NAV,
            here=request.path,
            csrf=self.auth.csrf_token(request),
            signed_in=request.get(CREDENTIAL) is Credential.COOKIE,
            refresh=self.refresh,
            feed_all=self.feed_url(),
            **context,
        )
        return web.Response(text=text, content_type="text/html")

    def _check_csrf(self, request: web.Request, form: Any) -> None:
        given = request.headers.get("X-CSRF-Token") or str(form.get(CSRF_FIELD, ""))
        if not self.auth.csrf_ok(request, given):
            raise web.HTTPForbidden(text="403 Forbidden: the form's CSRF token is missing or stale; reload the page")

    # ------------------------------------------------------------------ pages

    async def sources(self, request: web.Request) -> web.Response:
        try:
            query = SourceQuery.parse(request.query)
        except BadSourceQuery as exc:
            raise web.HTTPBadRequest(text=f"400 Bad Request: {exc}") from None
        view = await self.provider.status_view()
        page = source_page(view.sources, query)
        return self._page(
            request,
            "sources.html",
            "Sources",
            page=page,
            sources=page.rows,
            counts=list(page.counts.items()),
            states=[h.value for h in SourceHealth],
            columns=SOURCE_COLUMNS,
            query=query,
            prev_link=page.link("/", query.page - 1),
            next_link=page.link("/", query.page + 1),
            advice=[(state, SourceHealth(state).advice) for state in page.counts if state != SourceHealth.OK.value],
            config=view.config_json(),
            outbox=sorted(view.outbox.items()),
            instances=view.instances,
            mismatch=view.config_mismatch,
        )

    async def alerts(self, request: web.Request) -> web.Response:
        rule = request.query.get("rule") or None
        alerts = await self.provider.alert_items(ALERTS_SHOWN, rule)
        return self._page(request, "alerts.html", "Alerts", alerts=alerts, rule=rule, feed=self.feed_url(rule))

    async def rules(self, request: web.Request) -> web.Response:
        rules = await self.provider.rule_items()
        feeds = {r.name: self.feed_url(r.name) for r in rules}
        window = max((r.window_days for r in rules), default=0)
        silent = [(i, r) for i, r in enumerate(rules) if r.silent]  # (its row, the rule)
        return self._page(request, "rules.html", "Rules", rules=rules, feeds=feeds, window_days=window, silent=silent)

    async def outbox(self, request: web.Request) -> web.Response:
        rows = await self.provider.outbox_items(OUTBOX_SHOWN)
        waiting = [r for r in rows if r.status in ("pending", "sending")]
        groups = [
            ("pending", "Pending", [r for r in waiting if not held(r)]),
            ("held", "Held", [r for r in waiting if held(r)]),
            ("dead", "Dead", [r for r in rows if r.status == "dead"]),
        ]
        retried = request.query.get("retried", "")
        message = f"Alert {int(retried)} is pending again." if retried.isdigit() else ""
        return self._page(request, "outbox.html", "Outbox", groups=groups, message=message)

    async def retry(self, request: web.Request) -> web.Response:
        form = await request.post()
        self._check_csrf(request, form)
        try:
            row_id = int(request.match_info["row_id"])
        except ValueError:
            raise web.HTTPNotFound(text="404 Not Found: no such alert") from None
        if not await self.provider.retry_alert(row_id):
            raise web.HTTPNotFound(text="404 Not Found: no such alert, or it was sent or cancelled")
        raise web.HTTPSeeOther(f"/outbox?retried={row_id}")

    async def try_form(self, request: web.Request) -> web.Response:
        return self._page(request, "try.html", "Try a rule", query="", url="", text="", about="", result=None,
                          history=True, history_days=HISTORY_DAYS)

    async def try_rule(self, request: web.Request) -> web.Response:
        form = await request.post()
        self._check_csrf(request, form)
        query, url, text, about = (str(form.get(k, "")) for k in ("query", "url", "text", "about"))
        result = await self.provider.try_rule(query[:MAX_QUERY], text=text, url=url.strip(), about=about[:MAX_QUERY])
        return self._page(
            request, "try.html", "Try a rule", query=query, url=url, text=text, about=about, result=result,
            history=True, history_days=HISTORY_DAYS,
        )

    # ------------------------------------------------------------------ signing in

    async def login_form(self, request: web.Request) -> web.Response:
        if not self.auth.enabled:
            raise web.HTTPSeeOther("/")
        text = render(self.env, "login.html", next=safe_next(request.query.get("next")), failed=False)
        return web.Response(text=text, content_type="text/html")

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        target = safe_next(str(form.get("next", "")))
        if not self.auth.token_matches(str(form.get("token", ""))):
            text = render(self.env, "login.html", next=target, failed=True)
            return web.Response(status=403, text=text, content_type="text/html")
        response = web.HTTPSeeOther(target)
        response.set_cookie(
            SESSION_COOKIE, self.auth.session, httponly=True, samesite="Strict", secure=request.secure, path="/"
        )
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        form = await request.post()
        self._check_csrf(request, form)
        response = web.HTTPSeeOther("/login")
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    async def static_file(self, request: web.Request) -> web.Response:
        found = self.static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound(text="404 Not Found")
        body, content_type = found
        return web.Response(body=body, content_type=content_type, headers={"Cache-Control": "no-cache"})

    def add_routes(self, app: web.Application) -> None:
        """Put the pages on ``app``."""
        router = app.router
        router.add_get("/", self.sources)
        router.add_get("/alerts", self.alerts)
        router.add_get("/rules", self.rules)
        router.add_get("/outbox", self.outbox)
        router.add_post("/outbox/{row_id}/retry", self.retry)
        router.add_get("/try", self.try_form)
        router.add_post("/try", self.try_rule)
        router.add_get("/login", self.login_form)
        router.add_post("/login", self.login)
        router.add_post("/logout", self.logout)
        router.add_get("/static/{name}", self.static_file)
