"""A feed that moved permanently (301/308) is polled at its new address from then on, and the
user is told once to update the configuration; temporary redirects change nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.config import load_config
from monitor.daemon.service import Daemon
from monitor.fetch.client import HttpClient
from tests.support.feeds import rss, story_items


def redirect(server: HTTPServer, path: str, to: str, code: int) -> None:
    server.expect_request(path).respond_with_response(Response(status=code, headers={"Location": to}))


async def test_moved_to_only_after_permanent_redirects(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/new").respond_with_data(rss(story_items(1)), content_type="application/rss+xml")
    redirect(httpserver, "/old", "/new", 301)
    redirect(httpserver, "/old308", "/new", 308)
    redirect(httpserver, "/temporary", "/new", 302)
    redirect(httpserver, "/mixed", "/temporary", 301)
    new = httpserver.url_for("/new")
    async with HttpClient(allow_networks=[f"127.0.0.1:{httpserver.port}"]) as http:
        assert (await http.get(httpserver.url_for("/old"))).moved_to == new
        assert (await http.get(httpserver.url_for("/old308"))).moved_to == new
        assert (await http.get(httpserver.url_for("/temporary"))).moved_to is None
        assert (await http.get(httpserver.url_for("/mixed"))).moved_to is None
        assert (await http.get(new)).moved_to is None


async def test_daemon_polls_the_new_address_and_says_so_once(
    tmp_path: Path, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    hits = {"old": 0, "new": 0}

    def old(_: Request) -> Response:
        hits["old"] += 1
        return Response(status=301, headers={"Location": "/feeds/new.xml"})

    def new(_: Request) -> Response:
        hits["new"] += 1
        return Response(rss(story_items(2)), content_type="application/rss+xml")

    httpserver.expect_request("/feed.xml").respond_with_handler(old)
    httpserver.expect_request("/feeds/new.xml").respond_with_handler(new)
    path = tmp_path / "newsmonitor.yaml"
    path.write_text(yaml.safe_dump({
        "database": f"sqlite:///{tmp_path}/state.db",
        "allow_networks": [f"127.0.0.1:{httpserver.port}"],
        "defaults": {"notify": ["hook"]},
        "notifiers": {"hook": "json://127.0.0.1:1/x"},
        "sources": [{"name": "wire", "feed": httpserver.url_for("/feed.xml"), "full_text": False}],
        "rules": [{"name": "r", "query": "story"}],
    }))
    caplog.set_level(logging.WARNING, logger="monitor.daemon")
    daemon = Daemon(load_config(str(path)), workers=0)
    try:
        for _ in range(3):
            [result] = await daemon.run_once(deliver=False)
            assert result.error is None
    finally:
        await daemon.close()
    assert hits == {"old": 1, "new": 3}
    moves = [r.getMessage() for r in caplog.records if "moved permanently" in r.getMessage()]
    assert len(moves) == 1
    assert "source=wire" in moves[0] and "/feeds/new.xml" in moves[0] and "update the configuration" in moves[0]


async def test_a_moved_address_that_fails_is_given_up(tmp_path: Path, httpserver: HTTPServer) -> None:
    """The new address answering 500: that poll is an error (counted, retried as usual) and
    the next one goes back to the configured address; nothing is lost on the way."""
    hits = {"old": 0, "new": 0}
    broken = {"now": False}

    def old(_: Request) -> Response:
        hits["old"] += 1
        return Response(status=301, headers={"Location": "/feeds/new.xml"})

    def new(_: Request) -> Response:
        hits["new"] += 1
        if broken["now"]:
            return Response("down", status=500)
        return Response(rss(story_items(2)), content_type="application/rss+xml")

    httpserver.expect_request("/feed.xml").respond_with_handler(old)
    httpserver.expect_request("/feeds/new.xml").respond_with_handler(new)
    path = tmp_path / "newsmonitor.yaml"
    path.write_text(yaml.safe_dump({
        "database": f"sqlite:///{tmp_path}/state.db",
        "allow_networks": [f"127.0.0.1:{httpserver.port}"],
        "defaults": {"notify": ["hook"]},
        "notifiers": {"hook": "json://127.0.0.1:1/x"},
        "sources": [{"name": "wire", "feed": httpserver.url_for("/feed.xml"), "full_text": False}],
        "rules": [{"name": "r", "query": "story"}],
    }))
    daemon = Daemon(load_config(str(path)), workers=0)
    try:
        [first] = await daemon.run_once(deliver=False)
        broken["now"] = True
        [failed] = await daemon.run_once(deliver=False)
        assert hits == {"old": 1, "new": 2}
        [again] = await daemon.run_once(deliver=False)
    finally:
        await daemon.close()
    assert first.error is None
    assert failed.status == "error" and "HTTP 500" in (failed.error or "")
    assert again.status == "error"
    assert hits == {"old": 2, "new": 3}  # back to the configured address, which moves again
