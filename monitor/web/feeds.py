"""Atom feeds of alerts: ``/feeds/all.atom`` and ``/feeds/rules/NAME.atom`` (made with feedgen).

Feed readers send no header and no cookie, so these URLs take ``?token=`` (the feed token the
dashboard shows, or the token itself); see :mod:`monitor.web.auth`. Text from feeds may hold
characters XML cannot carry (control characters, lone surrogates): they are dropped, so one
odd title cannot break the feed; feedgen escapes the rest. Links other than http(s) are left out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp import web
from feedgen.feed import FeedGenerator

from monitor.web.render import safe_link
from monitor.web.view import AlertItem, DashboardProvider

ATOM = "application/atom+xml"
FEED_ENTRIES = 100
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold."""
    return _NOT_XML.sub("", text)


def _stamp(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def atom(alerts: list[AlertItem], *, title: str, feed_id: str, self_url: str) -> bytes:
    """The Atom document of ``alerts`` (newest first)."""
    fg = FeedGenerator()
    fg.id(feed_id)
    fg.title(xml_text(title))
    fg.link(href=self_url, rel="self")
    fg.updated(_stamp(max((a.at for a in alerts), default=0.0)))
    fg.generator("newsmonitor")
    for alert in reversed(alerts):  # feedgen puts each new entry first
        entry = fg.add_entry()
        entry.id(f"urn:newsmonitor:alert:{alert.id}")
        entry.title(xml_text(alert.title or alert.url or "(untitled)"))
        link = safe_link(alert.url)
        if link:
            entry.link(href=xml_text(link))
        entry.updated(_stamp(alert.at))
        if alert.published:
            entry.published(_stamp(alert.published))
        entry.author(name=xml_text(alert.outlet or alert.source or "newsmonitor"))
        entry.category(term=xml_text(alert.rule))
        text = "\n\n".join([*(s.plain() for s in alert.snippets), *([alert.outcome_text] if alert.outcomes else [])])
        if text:
            entry.summary(xml_text(text))
    body: bytes = fg.atom_str(pretty=False)
    return body


def add_routes(app: web.Application, provider: DashboardProvider) -> None:
    """Put the feeds on ``app``."""

    def self_url(request: web.Request) -> str:
        return str(request.url.with_query(None))

    async def all_alerts(request: web.Request) -> web.Response:
        alerts = await provider.alert_items(FEED_ENTRIES)
        body = atom(alerts, title="newsmonitor: all alerts", feed_id="urn:newsmonitor:feed:all", self_url=self_url(request))
        return web.Response(body=body, content_type=ATOM, charset="utf-8")

    async def rule_alerts(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in {r.name for r in await provider.rule_items()}:
            raise web.HTTPNotFound(text="404 Not Found: no rule of that name")
        alerts = await provider.alert_items(FEED_ENTRIES, name)
        body = atom(
            alerts, title=f"newsmonitor: {name}", feed_id=f"urn:newsmonitor:feed:rule:{name}", self_url=self_url(request)
        )
        return web.Response(body=body, content_type=ATOM, charset="utf-8")

    app.router.add_get("/feeds/all.atom", all_alerts)
    app.router.add_get(r"/feeds/rules/{name:[^/]+}.atom", rule_alerts)
