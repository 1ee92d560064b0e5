"""The dashboard, API and feeds over HTTP against a running daemon: auth on every route, CSRF
on every change, strict headers on every answer, escaping, no secret anywhere."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree

import aiohttp
import pytest

from monitor.demo.receiver import Receiver
from monitor.models import OutboxStatus
from monitor.web.openapi import OPENAPI
from tests.support.dashboard import QUAKE_TITLE, TOKEN, DashboardRig, dashboard_rig
from tests.support.servers import Site

BEARER = {"Authorization": f"Bearer {TOKEN}"}
OPEN = {"/healthz", "/login"}


@pytest.fixture
async def rig(tmp_path: Path, site: Site, receiver: Receiver) -> AsyncIterator[DashboardRig]:
    r = await dashboard_rig(tmp_path, site, receiver, canary_port=9)
    yield r
    await r.close()


def routes(rig: DashboardRig) -> list[tuple[str, str]]:
    """Every (method, path) the application serves, with sample values in its placeholders."""
    app = rig.server._runner.app  # type: ignore[union-attr]
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        path = path.replace("{row_id}", str(rig.dead_id)).replace("{name}", "quakes").replace("{name:[^/]+}", "quakes")
        path = path.replace("/static/{name}", "/static/dashboard.css")
        if route.method != "HEAD":
            out.append((route.method, path))
    return out


def assert_headers(resp: aiohttp.ClientResponse) -> None:
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp, (resp.url, csp)
    assert resp.headers.get("X-Content-Type-Options") == "nosniff", resp.url


async def test_every_route_refuses_without_the_token_and_answers_with_it(rig: DashboardRig) -> None:
    seen = []
    async with aiohttp.ClientSession() as http:
        for method, path in routes(rig):
            async with http.request(method, rig.base + path, allow_redirects=False) as resp:
                assert_headers(resp)
                if path in OPEN:
                    assert resp.status in (200, 403), (method, path, resp.status)  # login: a wrong (empty) token
                else:
                    assert resp.status == 401, (method, path, resp.status)
            async with http.request(method, rig.base + path, headers=BEARER, allow_redirects=False) as resp:
                assert_headers(resp)
                body = await resp.text()
                assert resp.status not in (401, 500), (method, path, resp.status, body)
                assert resp.status != 403 or (method, path) == ("POST", "/login")  # no (empty) token given
                assert TOKEN not in body
            seen.append(path)
        # a wrong token, and the token in a query string outside /feeds/
        for headers, url in (({"Authorization": "Bearer wrong"}, "/"), ({}, f"/api/status?token={TOKEN}")):
            async with http.get(rig.base + url, headers=headers) as resp:
                assert resp.status == 401
        # errors carry the headers too
        async with http.get(rig.base + "/nope/<script>", headers=BEARER) as resp:
            assert resp.status == 404
            assert_headers(resp)
            assert "<script>" not in await resp.text()
    assert {"/", "/outbox", "/api/openapi.json", "/feeds/all.atom", "/readyz", "/healthz"} <= set(seen)


async def test_login_cookie_feed_token_and_csrf(rig: DashboardRig) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(rig.base + "/login", data={"token": "wrong", "next": "/"}, allow_redirects=False) as resp:
            assert resp.status == 403 and "Set-Cookie" not in resp.headers
        async with http.post(
            rig.base + "/login", data={"token": TOKEN, "next": "//evil.example/"}, allow_redirects=False
        ) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/"
            cookie = resp.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        pages = []
        for path in ("/", "/alerts", "/rules", "/outbox", "/try"):
            async with http.get(rig.base + path) as resp:
                assert resp.status == 200, path
                pages.append(await resp.text())
        outbox = pages[3]
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', outbox)[1]  # type: ignore[index]
        retry = f"{rig.base}/outbox/{rig.dead_id}/retry"
        # no CSRF token, a wrong one, another site's origin: refused, the row stays dead
        for data, headers in (({}, {}), ({"csrf": "0" * 64}, {}), ({"csrf": csrf}, {"Origin": "http://evil.example"})):
            async with http.post(retry, data=data, headers=headers, allow_redirects=False) as resp:
                assert resp.status == 403
        assert await rig.status_of(rig.dead_id) is OutboxStatus.DEAD
        async with http.post(retry, data={"csrf": csrf}, allow_redirects=False) as resp:
            assert resp.status == 303
        assert await rig.status_of(rig.dead_id) is OutboxStatus.PENDING
        feed_link = re.search(r'href="(/feeds/all\.atom\?token=[^"]+)"', pages[1])[1]  # type: ignore[index]
    async with aiohttp.ClientSession() as http:
        async with http.get(rig.base + feed_link) as resp:
            assert resp.status == 200 and resp.content_type == "application/atom+xml"
            atom = await resp.text()
        feed_token = feed_link.split("token=")[1]
        async with http.get(f"{rig.base}/api/alerts?token={feed_token}") as resp:
            assert resp.status == 401  # the feed token opens the feeds only
    assert all(TOKEN not in page for page in pages)
    entries = ElementTree.fromstring(atom).findall("{http://www.w3.org/2005/Atom}entry")
    assert QUAKE_TITLE in [e.findtext("{http://www.w3.org/2005/Atom}title") for e in entries]


async def test_views_escape_third_party_text_and_show_no_secret(rig: DashboardRig) -> None:
    bodies = {}
    async with aiohttp.ClientSession(headers=BEARER) as http:
        for path in ("/", "/alerts", "/rules", "/outbox", "/api/sources", "/api/alerts", "/api/outbox",
                     "/api/rules", "/feeds/all.atom", "/feeds/rules/quakes.atom", "/metrics", "/readyz"):
            async with http.get(rig.base + path) as resp:
                assert resp.status == 200, path
                bodies[path] = await resp.text()
        async with http.get(rig.base + "/api/sources") as resp:
            sources = {s["name"]: s["status"] for s in (await resp.json())["sources"]}
        async with http.get(rig.base + "/readyz") as resp:
            ready = await resp.json()
    assert sources == {"news": "ok", "broken": "failing"}
    assert ready["database"] == "ok"
    for path, body in bodies.items():
        assert "s3cretpass" not in body and TOKEN not in body, path
        if not path.startswith("/api/"):
            assert "<script" not in body.replace('<script src="/static/dashboard.js" defer></script>', ""), path
            assert "<img" not in body and "<b>odd" not in body, path
    assert 'state state-failing">failing since' in bodies["/"]
    assert "&lt;b&gt;odd&lt;/b&gt;" in bodies["/rules"]
    assert "<mark>earthquake</mark>" in bodies["/alerts"].lower() or "<mark>Earthquake</mark>" in bodies["/alerts"]


async def test_try_a_rule_on_pasted_text_and_a_bad_query(rig: DashboardRig) -> None:
    async with aiohttp.ClientSession(headers=BEARER) as http:
        pasted = {"query": "earthquake AND coast", "text": "An earthquake hit the coast."}
        async with http.post(rig.base + "/api/try", json=pasted) as resp:
            found = await resp.json()
        async with http.post(rig.base + "/api/try", json={"query": "earthquake AND (", "text": "x"}) as resp:
            assert resp.status == 400
            bad = await resp.json()
        async with http.post(rig.base + "/api/try", json={"query": "x", "url": "http://127.0.0.2:9/"}) as resp:
            guarded = await resp.json()
    assert found["searched"] == 1 and len(found["matches"]) == 1
    assert any(span for s in found["matches"][0]["snippets"] for span in s["spans"])
    assert bad["error"].startswith("invalid query")
    assert guarded["error"] and not guarded["matches"]  # the address guard: not in allow_networks


async def test_try_a_topic_rule_on_pasted_text(rig: DashboardRig) -> None:
    text = ("A strong earthquake shook the coast on Monday, damaging houses and roads. Rescue teams searched "
            "collapsed buildings as aftershocks continued.")
    async with aiohttp.ClientSession(headers=BEARER) as http:
        async with http.post(rig.base + "/api/try", json={"about": "earthquakes and the damage they do",
                                                          "text": text}) as resp:
            found = await resp.json()
        async with http.post(rig.base + "/api/try", json={"about": "football transfers and league results",
                                                          "text": text}) as resp:
            other = await resp.json()
        async with http.post(rig.base + "/api/try", json={"about": "quakes", "text": text}) as resp:
            assert resp.status == 400
            short = await resp.json()
        async with http.get(rig.base + "/try") as resp:
            form = await resp.text()
    assert found["searched"] == 1 and len(found["matches"]) == 1, found
    snippet = found["matches"][0]["snippets"][0]
    assert snippet["text"].startswith("(similarity 0.") and "earthquake" in snippet["text"]
    assert other["searched"] == 1 and other["matches"] == []
    assert "in a few words" in short["error"]
    assert 'name="about"' in form


async def test_trying_a_rule_over_the_history_escapes_what_the_sources_wrote(rig: DashboardRig) -> None:
    async with aiohttp.ClientSession(headers=BEARER) as http:
        async with http.post(rig.base + "/api/try", json={"query": "earthquake"}) as resp:
            assert resp.status == 200
            found = await resp.json()
        async with http.get(rig.base + "/try") as resp:
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', await resp.text())[1]  # type: ignore[index]
        async with http.post(rig.base + "/try", data={"csrf": csrf, "query": "earthquake"}) as resp:
            page = await resp.text()
    assert found["matched"] == 2 and QUAKE_TITLE in [m["title"] for m in found["matches"]]
    assert "<img" not in page and "<script" not in page.replace('<script src="/static/dashboard.js" defer></script>', "")
    assert "Earthquake &lt;img" in page and "<mark>" in page


def test_openapi_describes_every_route(rig: DashboardRig) -> None:
    described = set(OPENAPI["paths"])
    for _, path in routes(rig):
        if path.startswith(("/api", "/feeds", "/healthz", "/readyz", "/metrics")):
            generic = path.replace(str(rig.dead_id), "{row_id}").replace("quakes", "{name}")
            assert generic in described, path


async def test_without_a_token_everything_is_open_but_changes_need_csrf(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    rig = await dashboard_rig(tmp_path, site, receiver, canary_port=9, token=None)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(rig.base + "/api/outbox") as resp:
                assert resp.status == 200
            async with http.post(f"{rig.base}/api/outbox/{rig.dead_id}/retry") as resp:
                assert resp.status == 403
            async with http.get(rig.base + "/api/csrf") as resp:
                csrf = (await resp.json())["token"]
            async with http.post(f"{rig.base}/api/outbox/{rig.dead_id}/retry", headers={"X-CSRF-Token": csrf}) as resp:
                assert resp.status == 200
    finally:
        await rig.close()


async def test_the_sources_are_paged_with_links_and_filtered_on_the_server(rig: DashboardRig) -> None:
    async with aiohttp.ClientSession(headers=BEARER) as http:
        async with http.get(rig.base + "/api/sources?per_page=1") as resp:
            first = await resp.json()
        async with http.get(rig.base + first["next"]) as resp:
            second = await resp.json()
        async with http.get(rig.base + "/?q=BROK&per_page=1") as resp:
            page = await resp.text()
        for bad in ("state=fine", "page=0", "per_page=501", "sort=colour"):
            async with http.get(f"{rig.base}/api/sources?{bad}") as resp:
                assert resp.status == 400, bad
            async with http.get(f"{rig.base}/?{bad}") as resp:
                assert resp.status == 400, bad
    # the failing source first; the second page ends the list
    assert [s["name"] for s in first["sources"]] == ["broken"] and first["pages"] == 2
    assert (first["total"], first["matched"], first["counts"]) == (2, 2, {"failing": 1, "ok": 1})
    assert [s["name"] for s in second["sources"]] == ["news"] and second["next"] is None
    assert "<td>broken</td>" in page and "<td>news</td>" not in page and "1–1 of 1 matching (of 2)" in page
