"""K-1: canary secrets in every secret-bearing place never appear in logs, errors, the database or the UI."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from pytest_httpserver import HTTPServer

from monitor.config import parse_settings
from monitor.daemon.service import Daemon
from monitor.daemon.status import RuntimeStatus
from monitor.redact import install_logging
from tests.support.servers import Site

CANARIES = {
    "HOOK_TOKEN": "canaryhook7f3a9",
    "FEED_PASS": "canaryfeed2b8c1",
    "API_KEY": "canaryapi9d4e6",
    "QUERY_KEY": "canaryquery5a7b",
}


async def test_canaries_never_leak(tmp_path: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/feed.xml").respond_with_data("denied", status=401)
    port = httpserver.port
    text = f"""
database: sqlite:///{tmp_path}/k.db
allow_networks: ["127.0.0.1:{port}", "127.0.0.1:1"]
notifiers:
  hook: "json://user:${{HOOK_TOKEN}}@127.0.0.1:1/hook?token=${{HOOK_TOKEN}}"
sources:
  - name: paid-wire
    feed: "http://reader:${{FEED_PASS}}@127.0.0.1:{port}/feed.xml?key=${{QUERY_KEY}}"
    headers: {{X-Api-Key: "${{API_KEY}}"}}
rules:
  - name: r
    query: anything
"""
    config = parse_settings(text, str(tmp_path / "c.yaml"), env=CANARIES)
    stream = io.StringIO()
    install_logging(logging.DEBUG, stream=stream)
    daemon = Daemon(config, workers=0)
    try:
        results = await daemon.run_once()
        page = (await RuntimeStatus(daemon.rt).status_view()).to_json()
    finally:
        await daemon.close()
        install_logging(logging.WARNING)
    assert results[0].status == "error"
    # the server did get the credentials: they work, they are just never shown
    request = httpserver.log[0][0]
    assert request.headers.get("X-Api-Key") == CANARIES["API_KEY"]
    outputs = {
        "log": stream.getvalue(),
        "error": results[0].error or "",
        "status": str(page),
        "database": (tmp_path / "k.db").read_bytes().decode("utf-8", "replace"),
    }
    assert "401" in outputs["error"]
    for where, output in outputs.items():
        for name, value in CANARIES.items():
            assert value not in output, f"{name} leaked into the {where}"


#: secrets of 2 and 3 characters, which were never masked (issue 12)
SHORT = {"FEED_USER": "ZQ", "FEED_PASS": "jqz", "EDITION": "Xw", "HOOK_PATH": "qZv"}


async def test_short_secrets_never_leak_from_urls(tmp_path: Path, site: Site) -> None:
    site.static("/Xw/feed.xml", b"denied", status=401)
    port = site.port
    text = f"""
database: sqlite:///{tmp_path}/k.db
allow_networks: ["127.0.0.1:{port}", "127.0.0.1:1"]
notifiers:
  hook: "json://127.0.0.1:1/hooks/${{HOOK_PATH}}"
sources:
  - name: paid-wire
    feed: "http://${{FEED_USER}}:${{FEED_PASS}}@127.0.0.1:{port}/${{EDITION}}/feed.xml?edition=${{EDITION}}"
rules:
  - name: r
    query: anything
"""
    config = parse_settings(text, str(tmp_path / "c.yaml"), env=SHORT)
    stream = io.StringIO()
    install_logging(logging.DEBUG, stream=stream)
    daemon = Daemon(config, workers=0)
    try:
        results = await daemon.run_once()
        page = (await RuntimeStatus(daemon.rt).status_view()).to_json()
    finally:
        await daemon.close()
        install_logging(logging.WARNING)
    outputs = {"log": stream.getvalue(), "error": results[0].error or "", "status": str(page)}
    assert "401" in outputs["error"] and f"127.0.0.1:{port}/***/feed.xml?edition=***" in outputs["error"]
    assert site.seen[0].path == "/Xw/feed.xml?edition=Xw"  # the server got the real URL
    for where, output in outputs.items():
        for name, value in SHORT.items():
            assert value not in output, f"{name} leaked into the {where}"
