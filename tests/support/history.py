"""A stored history made the way the daemon makes it: real polls of a local news site over
three (fake) days, real deliveries through apprise to local receivers.

The site lists two sources: ``wire`` (a feed, tagged ``trade``, matched on the feed's text)
and ``gazette`` (outlet "The Gazette", its article fetched: "magistrates" is only in the
article, never in the feed). Day 0 primes both (a story about tariffs is recorded, never
matched); day 1 brings two tariff stories, one other and the gazette's court story; day 2
one more tariff story. Rule ``courts`` also alerts ``locked``, a receiver that answers 401,
so its alert there is dead; rule ``silent`` never matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from monitor.clock import FakeClock
from monitor.config import Config
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from tests.support.configs import config_data, make_config
from tests.support.feeds import Item, rss
from tests.support.paths import DATA
from tests.support.servers import Site

ARTICLE = "/news/2024/05/02/harbour-road-knife-attack-charge"
RULES = [
    {"name": "tariffs", "query": "tariffs"},
    {"name": "courts", "query": "magistrates", "notify": ["chat", "locked"]},
    {"name": "silent", "query": "zeppelin"},
]


@dataclass
class Seeded:
    """The history's configuration (also written to ``path``), when each day's poll ran, and
    the receiver that answered 401 (stopped)."""

    config: Config
    path: Path
    days: list[datetime]
    locked: Receiver


def _item(site: Site, n: int, title: str, text: str, at: datetime) -> Item:
    return Item(title, f"{site.base}/wire/{n}", f"wire-{n}", text, at)


async def seed_history(tmp_path: Path, site: Site, receiver: Receiver, *, start: datetime | None = None) -> Seeded:
    """Poll the two sources of a local site on three days from ``start`` (default: three days
    ago, so that the history is within a CLI's default window); see the module docstring."""
    locked = Receiver(fail_with=401)
    await locked.start()
    wire: list[Item] = []
    gazette: list[Item] = []

    def feed(items: list[Item]) -> web.Response:
        return web.Response(text=rss(items), content_type="application/rss+xml")

    async def wire_feed(_: web.Request) -> web.Response:
        return feed(wire)

    async def gazette_feed(_: web.Request) -> web.Response:
        return feed(gazette)

    site.route("/wire.xml", wire_feed)
    site.route("/gazette.xml", gazette_feed)
    site.static(ARTICLE, (DATA / "extract" / "link_lines_page.html").read_bytes(), headers={"Content-Type": "text/html"})
    settings: dict[str, Any] = {
        "sources": [
            {"name": "wire", "feed": f"{site.base}/wire.xml", "full_text": False, "tags": ["trade"]},
            {"name": "gazette", "feed": f"{site.base}/gazette.xml", "full_text": True, "robots": False,
             "outlet": "The Gazette"},
        ],
        "rules": RULES,
        "notifiers": {"chat": receiver.url, "locked": locked.url},
        "allow": site.allow,
        "extra": "cluster: {enabled: false}\n",
        "defaults_notify": ["chat"],
    }
    path = tmp_path / "nm.yaml"
    path.write_text(yaml.safe_dump(config_data(tmp_path, **settings), sort_keys=False))
    config = make_config(tmp_path, **settings)
    first = start or (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    clock = FakeClock(first)
    days = [first, first + timedelta(days=1), first + timedelta(days=2)]
    wire[:] = [
        _item(site, 1, "Tariffs loom over steel", "Steel makers brace for tariffs next month.", days[0]),
        _item(site, 2, "Harbour festival opens", "Music and food along the quay.", days[0]),
    ]
    await _poll(config, clock)
    clock.set(days[1])
    wire[:0] = [
        _item(site, 3, "Tariffs hit car exports", "Car makers count the cost of new tariffs.", days[1]),
        _item(site, 4, "Ministers talk trade", "Both sides hope to avoid tariffs on food.", days[1]),
        _item(site, 5, "Rain expected at weekend", "A band of rain crosses the country.", days[1]),
    ]
    gazette[:] = [
        Item("Man charged over Harbour Road attack", f"{site.base}{ARTICLE}", "harbour-1",
             "A man has been charged after Tuesday's stabbing outside a Harbour Road takeaway.", days[1]),
    ]
    await _poll(config, clock)
    clock.set(days[2])
    wire[:0] = [_item(site, 6, "Tariffs lifted on grain", "The grain tariffs end on Monday.", days[2])]
    await _poll(config, clock)
    await locked.stop()
    return Seeded(config, path, days, locked)


async def _poll(config: Config, clock: FakeClock) -> None:
    daemon = Daemon(config, workers=0, clock=clock)
    try:
        await daemon.run_once()
    finally:
        await daemon.close()
