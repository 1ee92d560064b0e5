"""Issue 12, item 4: a flood of idle, trickling connections to the status page must not starve
the daemon of file descriptors.

The daemon runs as a subprocess under a low ``RLIMIT_NOFILE`` (systemd's default of 1 024,
scaled down), with the status page on. Once its feed is primed, a few hundred slow-loris
connections (more than the limit leaves free) hold the status port while new matching
stories are published: every alert must reach the local receiver, none may go dead, the
page must answer again after the flood and the log must not fill with accept errors.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sys
from pathlib import Path

import aiohttp
import yaml

from monitor.demo.receiver import Receiver
from tests.support.feeds import Item
from tests.support.servers import Feed, Site, free_port
from tests.support.slowclients import SlowClients
from tests.support.waiting import wait_for

#: the daemon's descriptor limit: a quarter of systemd's default, so that the flood below
#: exhausts it when nothing bounds the status page's connections
NOFILE = 256
FLOOD = 320
NEW_STORIES = 6


def _low_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, hard))


def _story(i: int) -> Item:
    return Item(f"Rare earths story {i}", f"http://127.0.0.1/news/rare-{i}", f"g{i}", "rare earths supply")


async def _status(port: int) -> dict[str, object] | None:
    """``/api/status`` of the daemon, or None when it does not answer within a few seconds."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
            http.get(f"http://127.0.0.1:{port}/api/status") as resp,
        ):
            if resp.status != 200:
                return None
            data: dict[str, object] = await resp.json()
            return data
    except (aiohttp.ClientError, TimeoutError):
        return None


async def test_trickling_connection_flood_does_not_stop_delivery(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = Feed(site)
    old = Item("Old story about the weather", "http://127.0.0.1/news/old", "old", "weather")
    feed.items = [old]
    port = free_port()
    config = {
        "database": f"sqlite:///{tmp_path}/state.db",
        "allow_networks": site.allow,
        "defaults": {"interval": "1s", "notify": ["hook"], "full_text": False},
        "delivery": {"retry_base": "1s", "retry_cap": "2s"},
        "notifiers": {"hook": receiver.url},
        "sources": [{"name": "wire", "feed": feed.url}],
        "rules": [{"name": "rare-earths", "query": '"rare earths"'}],
        "web": {"listen": f"127.0.0.1:{port}"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "NEWSMONITOR_CONFIG": str(path), "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "daemon.log"
    with open(log_path, "wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "run", "--workers", "0",
            env=env, stdout=log, stderr=log, preexec_fn=_low_nofile,
        )
    flood = SlowClients(port, FLOOD)
    try:
        assert await wait_for(lambda: feed.hits >= 2, 60), log_path.read_text()[-3000:]
        assert await _status(port) is not None

        await flood.start()
        # half the alerts come due at once, half after the held connections met their header
        # timeout (the server answered them 408), so the daemon is seen working through both
        half = NEW_STORIES // 2
        feed.items = [_story(i) for i in range(half)] + [old]
        first = await wait_for(lambda: len({m.key for m in receiver.messages}) >= half, 90, 0.2)
        timed_out = await wait_for(lambda: any(b" 408 " in a for a in flood.answers), 60, 0.2)
        feed.items = [_story(i) for i in range(NEW_STORIES)] + [old]
        delivered = await wait_for(lambda: len({m.key for m in receiver.messages}) >= NEW_STORIES, 90, 0.2)
        flooding = (flood.opened, flood.closed_by_server)
        await flood.stop()

        status = None
        for _ in range(10):  # the page answers again once the flood is gone
            status = await _status(port)
            if status is not None:
                break
            await asyncio.sleep(0.5)
    finally:
        await flood.stop()
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    text = log_path.read_text(errors="replace")
    assert first and timed_out and delivered, (
        f"{len(receiver.messages)} of {NEW_STORIES} delivered; flood {flooding}; log:\n{text[-3000:]}"
    )
    assert len(receiver.messages) == NEW_STORIES
    assert status is not None, text[-3000:]
    outbox = status["outbox"]
    assert isinstance(outbox, dict) and not outbox.get("dead"), outbox
    assert "Too many open files" not in text, text[-3000:]
    # accept errors, if any, are one line and a count, never a line per failed accept
    assert sum("accept" in line.lower() for line in text.splitlines()) <= 3, text[-3000:]
    # the flood really held the port: the server closed connections it did not want
    assert flooding[0] >= FLOOD and flooding[1] > 0, flooding
