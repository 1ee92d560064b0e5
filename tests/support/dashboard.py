"""A running daemon with its dashboard on loopback, a local feed site and a local receiver.

The rig polls two sources: ``news`` (a feed that lists, after priming, a matching story and
one whose title is an XSS payload aimed at a canary on 127.0.0.2) and ``broken`` (a feed
that answers 500, so it is failing). One alert row is made dead, ready for the retry button.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monitor.daemon.dashboard import RuntimeDashboard
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.models import OutboxStatus
from monitor.web.server import StatusServer, start
from tests.support.configs import make_config
from tests.support.feeds import Item, story_items
from tests.support.servers import Feed, Site

TOKEN = "dashboard-token-0123456789-abcdef"
QUAKE_TITLE = "Earthquake shakes the coast"
QUAKE_TEXT = "A strong earthquake shook the coast on Monday; no damage was reported."


def hostile_title(canary_port: int) -> str:
    """A story title that would run script (and call the canary) if a page did not escape it."""
    return f"Earthquake <img src=x onerror=\"fetch('http://127.0.0.2:{canary_port}/xss')\"> <script>fetch('http://127.0.0.2:{canary_port}/s')</script>"


@dataclass
class DashboardRig:
    daemon: Daemon
    server: StatusServer
    feed: Feed
    dead_id: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def publish(self, item: Item) -> None:
        """List ``item`` first in the feed and poll once (no delivery)."""
        self.feed.items = [item, *self.feed.items]
        await self.daemon.run_once(deliver=False)

    async def status_of(self, row_id: int) -> OutboxStatus:
        rows, _ = await self.daemon.rt.store.outbox_listing(list(OutboxStatus), 1000)
        return next(r.status for r in rows if r.id == row_id)

    async def close(self) -> None:
        await self.server.stop()
        await self.daemon.close()


async def dashboard_rig(
    tmp_path: Path, site: Site, receiver: Receiver, *, canary_port: int, token: str | None = TOKEN
) -> DashboardRig:
    """The rig of the module docstring, its dashboard served with ``token`` (None: no auth)."""
    feed = Feed(site, "/news.xml")
    feed.items = story_items(2)
    site.static("/broken.xml", b"<h1>Internal <script>alert(1)</script> Error</h1>", status=500)
    config = make_config(
        tmp_path,
        sources=[
            {"name": "news", "feed": feed.url, "full_text": False},
            {"name": "broken", "feed": site.base + "/broken.xml"},
        ],
        rules=[{"name": "quakes", "query": "earthquake"}, {"name": "<b>odd</b>", "query": "volcano"}],
        notifiers={"chat": {"urls": [f"json://chat:s3cretpass@127.0.0.1:{receiver.port}/hook"]}},
        allow=site.allow,
    )
    daemon = Daemon(config, workers=0)
    await daemon.start()
    await daemon.run_once(deliver=False)  # primes
    feed.items = [
        Item(hostile_title(canary_port), "http://127.0.0.1/xss", "g-xss", description="earthquake " * 3),
        Item(QUAKE_TITLE, "http://127.0.0.1/quake", "g-quake", description=QUAKE_TEXT),
        *feed.items,
    ]
    await daemon.run_once(deliver=False)
    rows, _ = await daemon.rt.store.outbox_listing([OutboxStatus.PENDING], 10)
    quake = next(r for r in rows if r.payload.title == QUAKE_TITLE)  # type: ignore[union-attr]
    await daemon.rt.store.mark_dead([quake.id], "HTTP 500 from <b>chat</b>", tried=True, now=daemon.rt.clock.timestamp())
    server = await start(RuntimeDashboard(daemon.rt), "127.0.0.1:0", token=token, refresh=2)
    return DashboardRig(daemon, server, feed, quake.id)
