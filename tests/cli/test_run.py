"""``newsmonitor run`` fails in one clear line, before polling anything, when its web port is taken."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import yaml

from tests.support.configs import config_data
from tests.support.feeds import story_items
from tests.support.servers import Feed, Site


async def test_a_web_port_in_use_is_one_line_and_exit_2(tmp_path: Path, site: Site) -> None:
    feed = Feed(site, "/feed.xml")
    feed.items = story_items(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = config_data(
            tmp_path,
            sources=[{"name": "wire", "feed": feed.url}],
            rules=[{"name": "r", "query": "x"}],
            notifiers={},
            allow=site.allow,
            extra=f"web: {{listen: '127.0.0.1:{port}'}}",
        )
        path = tmp_path / "nm.yaml"
        path.write_text(yaml.safe_dump(data))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "run", "--config", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ},
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode()
    assert proc.returncode == 2, text
    assert "Traceback" not in text
    said = [line for line in text.splitlines() if line.startswith("newsmonitor:")]
    assert said == [
        f"newsmonitor: {path}: web.listen: cannot listen on 127.0.0.1:{port}: address already in use; "
        "stop what listens there, or set another port"
    ], text
    assert feed.hits == 0  # it stopped before polling anything
