"""C-3: SIGTERM stops the daemon within 8 s with status 0, nothing half-sent."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import yaml


async def test_sigterm_exits_cleanly_within_deadline(tmp_path: Path) -> None:
    config = {
        "database": f"sqlite:///{tmp_path}/s.db",
        "allow_networks": ["127.0.0.1:1"],
        "defaults": {"interval": "1s"},
        "notifiers": {"hook": "json://127.0.0.1:1/x"},
        "sources": [{"name": "dead", "feed": "http://127.0.0.1:1/feed.xml"}],
        "rules": [{"name": "r", "query": "x"}],
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "monitor",
        "run",
        "--config",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ},
    )
    assert proc.stderr is not None
    seen = b""
    while b"newsmonitor running" not in seen:  # signal handlers are installed by then
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert line, f"daemon exited early: {seen.decode()[-2000:]}"
        seen += line
    await asyncio.sleep(1)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, err.decode()[-2000:]
    assert elapsed < 8
    assert b"stopping" in err


async def test_invalid_config_exits_2_for_run_and_check(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("sources:\n  - name: x\n    feed: ftp://example.com/\nrulez: []\n")
    for command in ("run", "check"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor",
            command,
            "--config",
            str(path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 2
        text = err.decode()
        assert "bad.yaml:3:11: sources[0].feed" in text
        assert "bad.yaml:4:1: rulez" in text and "did you mean 'rules'" in text
