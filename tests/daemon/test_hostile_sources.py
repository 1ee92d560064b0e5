"""Every hostile corpus file through the real pipeline from a local server (issue: hardened fetcher).

One daemon, one source per file, served by a local HTTP server (compression bombs with their
Content-Encoding). The daemon must keep running; each source ends with stories or one clear
error; memory stays bounded; nothing reaches 127.0.0.1:9 (where the files' SSRF links point).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import psutil
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from monitor.daemon.service import Daemon
from tests.support.configs import make_config
from tests.support.paths import need_corpus
from tests.support.servers import Canary

SKIP_SUFFIXES = {".md", ".py", ".jsonl"}
SKIP_NAMES = {"LICENSE", "manifest.json", ".gitignore"}


def hostile_files() -> list[Path]:
    root = need_corpus("hostile")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix not in SKIP_SUFFIXES
        and p.name not in SKIP_NAMES
        and not p.name.endswith(".evaldata.json")
        and "large" not in p.parts
    )


def encoding_for(path: Path) -> str | None:
    name = path.name
    if "compression" not in path.parts:
        return None
    if "double" in name:
        return "gzip, gzip"
    if "deflate" in name or name.endswith(".zz"):
        return "deflate"
    if "br" in name.split(".")[-1]:
        return "br"
    return "gzip"


@pytest.mark.timeout(300)
async def test_every_hostile_file_through_the_pipeline(tmp_path: Path, httpserver: HTTPServer) -> None:
    files = hostile_files()
    assert len(files) > 50
    routes: dict[str, tuple[bytes, str | None, str]] = {}
    sources = []
    for i, path in enumerate(files):
        data = path.read_bytes()
        if path.name.endswith(".html.gz") and "compression" not in path.parts:
            data = gzip.decompress(data)
        kind = "page" if ".htm" in path.name else "feed"
        ctype = (
            "text/html"
            if kind == "page"
            else ("application/feed+json" if path.suffix == ".json" else "application/xml")
        )
        route = f"/h/{i}/{path.name}"
        routes[route] = (data, encoding_for(path), ctype)
        sources.append({"name": f"{i:03d}-{path.name}"[:120], kind: httpserver.url_for(route)})

    def handler(request: Request) -> Response:
        body, encoding, ctype = routes[request.path]
        headers = {"Content-Encoding": encoding} if encoding else {}
        return Response(body, headers=headers, content_type=ctype)

    for route in routes:
        httpserver.expect_request(route).respond_with_handler(handler)
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    canary = Canary(port=9, any_port_if_taken=True).start()  # where the corpus's SSRF links point
    config = make_config(
        tmp_path,
        sources=[{**s, "alert_on_first_poll": True} for s in sources],
        rules=[{"name": "any", "query": "the OR a OR root"}],
        # a dead address, not the canary's port: the rest of the suite uses 127.0.0.1:1 for
        # "nothing listens" too, so a late send of another test never counts here
        notifiers={"chat": "json://127.0.0.1:1/x"},
        allow=[f"127.0.0.1:{httpserver.port}"],
        extra="http: {max_bytes: 5000000, timeout: 20s}\n",
    )
    me = psutil.Process()
    rss_before = me.memory_info().rss
    daemon = Daemon(config, workers=1)
    try:
        results = await daemon.run_once(deliver=False)
    finally:
        await daemon.close()
        canary.stop()
    rss_growth_mb = (me.memory_info().rss - rss_before) / 2**20
    assert len(results) == len(sources)
    for result in results:
        assert result.status in {"ok", "error"}, (result.source, result.status)
        if result.status == "error":
            assert result.error and len(result.error) < 400, result.source
        for story in result.stories:
            assert "root:x:0:0" not in story.title + story.text, result.source
    assert canary.accepts == 0
    assert rss_growth_mb < 300, f"memory grew by {rss_growth_mb:.0f} MB"
    bombs = [
        r
        for r, path in zip(results, files, strict=True)
        if "compression" in path.parts and "bomb" in path.name
    ]
    assert bombs
    for r in bombs:
        assert r.status == "error" and "too_large" in (r.error or ""), r
