"""When the process is out of descriptors, failed accepts are one log line and a count.

asyncio's own accept loop logs a traceback for every failed accept, for every connection in
the backlog, on every wake-up (2.4 MB of log a second in the issue's flood). Here a status
server runs in a child process that then fills its descriptor table for real; connections
wait in the backlog, accepts fail with EMFILE again and again, and the log must hold one
line about it, then one line with the count once descriptors are free and the page answers.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import sys
from pathlib import Path

import aiohttp

from tests.support.paths import ROOT

CHILD = r"""
import asyncio, logging, os, sys
from pathlib import Path
from monitor.web.server import StatusServer
from monitor.web.view import StatusView

logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
flags = Path(sys.argv[1])

class Provider:
    async def status_view(self):
        return StatusView([], {}, {}, [], [], "c.yaml", 0.0, None)
    def metrics_text(self):
        return b""

async def flag(name):
    while not (flags / name).exists():
        await asyncio.sleep(0.05)

async def main():
    server = await StatusServer(Provider(), "127.0.0.1:0").start()
    hog = []
    try:
        while True:
            hog.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
    print(server.port, flush=True)
    await flag("connected")
    while server.accept_errors.failures < 3:  # three rounds of failed accepts, a second apart
        await asyncio.sleep(0.05)
    for fd in hog:
        os.close(fd)
    while server.accept_errors.failures:  # reset by the next accepted connection
        await asyncio.sleep(0.05)
    print("accepting", flush=True)
    await flag("stop")
    await server.stop()

asyncio.run(main())
"""


def _few_descriptors() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))


async def test_failed_accepts_are_one_line_then_a_count(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=_few_descriptors,
    )
    assert proc.stdout is not None and proc.stderr is not None
    waiting: list[asyncio.StreamWriter] = []
    try:
        port = int(await asyncio.wait_for(proc.stdout.readline(), 60))
        for _ in range(8):  # they wait in the backlog: the child has no descriptor to accept them with
            waiting.append((await asyncio.open_connection("127.0.0.1", port))[1])
        (tmp_path / "connected").touch()
        assert await asyncio.wait_for(proc.stdout.readline(), 60) == b"accepting\n"
        for writer in waiting:
            writer.close()
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/api/status") as resp:
            assert resp.status == 200
        (tmp_path / "stop").touch()
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = err.decode()
    lines = log.splitlines()
    started = [line for line in lines if "cannot accept connections" in line]
    again = [line for line in lines if "accepting connections again" in line]
    assert len(started) == 1 and "too many open files" in started[0], log
    assert len(again) == 1, log
    match = re.search(r"after (\d+) failed accepts", again[0])
    assert match is not None and int(match.group(1)) >= 3, log
    assert "Traceback" not in log and "out of system resource" not in log, log
    assert len(lines) <= 4, log  # the start line, the two above, nothing per failure
