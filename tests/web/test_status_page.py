"""The read-only status page, JSON status and /metrics: escaped, no secrets, strict headers."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from monitor.daemon.service import Daemon
from monitor.daemon.status import RuntimeStatus
from monitor.web.server import start
from tests.support.configs import make_config


async def test_status_page_metrics_and_headers(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        sources=[{"name": "<script>alert(1)</script>", "feed": "http://127.0.0.1:1/feed.xml"}],
        rules=[{"name": "r", "query": "x"}],
        notifiers={"chat": "json://user:s3cretpass@127.0.0.1:1/hook"},
        allow=["127.0.0.1:1"],
    )
    daemon = Daemon(config, workers=0)
    await daemon.run_once(deliver=False)
    server = await start(RuntimeStatus(daemon.rt), "127.0.0.1:0")
    port = server.port
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/") as resp:
                page = await resp.text()
                assert resp.status == 200
                assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
            async with http.get(f"http://127.0.0.1:{port}/api/status") as resp:
                data = await resp.json()
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                metrics = await resp.text()
    finally:
        await server.stop()
        await daemon.close()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "s3cretpass" not in page + str(data) + metrics
    assert data["sources"][0]["status"] == "failing" and data["targets"] == ["chat"]
    assert 'newsmonitor_polls_total{outcome="error"' in metrics
