"""The health drill (issue 11): one daemon, six sources, a few poll cycles with quiet hours and a
daily digest configured.

Healthy, HTML where a feed was (with an ETag), a hostile feed, a page with no story on it, a
feed that is gone (410) and one the address guard refuses. Each bad source reaches its own
state in ``newsmonitor sources``, the status page, ``/api/status`` and ``/metrics``, and raises
exactly one notice; the healthy one alerts as configured (urgent at once, the rest held for
quiet hours and the digest), and no held alert is reported as stuck.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from click.testing import CliRunner

from monitor.cli import main
from monitor.clock import FakeClock
from monitor.daemon.service import Daemon
from monitor.daemon.status import RuntimeStatus
from monitor.demo.receiver import Receiver
from monitor.web.server import start
from tests.support.configs import make_config
from tests.support.feeds import Item, story_items
from tests.support.servers import Canary, Feed, Site

HTML = b"<!DOCTYPE html><html><head><title>Front page</title></head><body><p>Today's news</p></body></html>"
#: a billion laughs (3 * 10**9 characters if expanded; the guard refuses it by what it would cost,
#: so a three-level toy of 192 characters would be read, as any parser reads it)
HOSTILE = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">'
    + b"".join(b'<!ENTITY l%d "%s">' % (i, b"&l%d;" % (i - 1) * 10) for i in range(1, 10))
    + b']><rss version="2.0"><channel><title>&l9;</title></channel></rss>'
)
EMPTY_PAGE = b"<!DOCTYPE html><html><head><title>Section</title></head><body><h1>World</h1><p>Nothing yet.</p></body></html>"

#: the state each source must reach
EXPECTED = {
    "healthy": "ok",
    "html-feed": "failing",
    "hostile-feed": "failing",
    "empty-page": "empty",
    "gone-feed": "gone",
    "intranet": "blocked",
}


async def test_health_drill(tmp_path: Path, site: Site, receiver: Receiver, canary: Canary) -> None:
    healthy = Feed(site, "/healthy.xml")
    healthy.items = story_items(3)
    site.conditional("/html-feed.xml", HTML, etag='"front-7"', content_type="text/html")
    site.conditional("/hostile.xml", HOSTILE, etag='"lol"', content_type="application/rss+xml")
    site.conditional("/world/", EMPTY_PAGE, etag='"world-1"', content_type="text/html")
    site.static("/gone.xml", b"this feed was removed", status=410)
    # a feed that redirects into the loopback network: check cannot see it (it only knows the
    # configured URL), so the guard must refuse the hop at poll time, unconnected
    inside = f"http://127.0.0.1:{canary.port}/feed.xml"
    site.static("/intranet.xml", b"", status=302, headers={"Location": inside})
    port = receiver.port
    config = make_config(
        tmp_path,
        sources=[
            {"name": "healthy", "feed": healthy.url, "full_text": False},
            {"name": "html-feed", "feed": site.base + "/html-feed.xml"},
            {"name": "hostile-feed", "feed": site.base + "/hostile.xml"},
            {"name": "empty-page", "page": site.base + "/world/"},
            {"name": "gone-feed", "feed": site.base + "/gone.xml"},
            {"name": "intranet", "feed": site.base + "/intranet.xml"},
        ],
        rules=[
            {"name": "quakes", "query": "earthquake", "urgent": True, "notify": ["chat"]},
            {"name": "markets", "query": "markets", "notify": ["chat", "daily"]},
        ],
        notifiers={
            "chat": {"urls": [f"json://chat:pw@127.0.0.1:{port}/hook"], "quiet": "13:00-23:00"},
            "daily": {"urls": [f"json://daily:pw@127.0.0.1:{port}/hook"], "digest": "daily at 08:00"},
            "ops": receiver.url,
        },
        allow=site.allow,
        extra="health: {notify: [ops], pending_after: 1m, throttle: 1d}\n",
        write=True,
    )
    clock = FakeClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))  # inside the quiet hours
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    server = await start(RuntimeStatus(daemon.rt), "127.0.0.1:0")
    web = f"http://127.0.0.1:{server.port}"
    try:
        for cycle in range(4):
            if cycle == 1:  # after the healthy source primed: one urgent story, one held
                healthy.items = [
                    Item("Earthquake shakes the coast", "http://127.0.0.1/quake", "g-quake"),
                    Item("Markets rally on rate hopes", "http://127.0.0.1/markets", "g-markets"),
                    *healthy.items,
                ]
            await daemon.run_once()
            await daemon.health.check()
            await daemon.deliverer.drain_once()
            clock.advance(600)
        async with aiohttp.ClientSession() as http:
            async with http.get(web + "/") as resp:
                page = await resp.text()
            async with http.get(web + "/api/status") as resp:
                api = await resp.json()
            async with http.get(web + "/metrics") as resp:
                metrics = await resp.text()
        cli = CliRunner().invoke(main, ["sources", "--config", config.path])

        notices = [m.body for m in receiver.messages if m.body.startswith("Source '")]
        alerts = [m for m in receiver.messages if not m.body.startswith("Source '")]
        # the held alerts: the quiet hours end at 23:00, the digest goes at 08:00
        clock.set(datetime(2026, 3, 2, 23, 5, tzinfo=UTC))
        await daemon.deliverer.drain_once()
        await daemon.health.check()
        await daemon.deliverer.drain_once()
        after_quiet = len(receiver.messages)
        clock.set(datetime(2026, 3, 3, 8, 1, tzinfo=UTC))
        await daemon.health.check()
        await daemon.deliverer.drain_once()
    finally:
        await server.stop()
        await daemon.close()

    # each source in its own state, the same in every view
    assert {s["name"]: s["status"] for s in api["sources"]} == EXPECTED
    assert cli.exit_code == 0, cli.output
    for name, state in EXPECTED.items():
        row = next(line for line in cli.output.splitlines() if line.startswith(name + " "))
        assert row.split()[1] == state, row
        assert re.search(rf'<td>{re.escape(name)}</td>\s*<td><span class="state state-[\w-]+">{state}', page), name
    for state, count in {"ok": 1, "failing": 2, "empty": 1, "gone": 1, "blocked": 1, "stale": 0}.items():
        assert f'newsmonitor_sources{{state="{state}"}} {count}.0' in metrics, state
    assert "allow_networks" in cli.output and "allow_networks" in page  # what to do, where users look

    # one notice per bad source, none for the healthy one, none about held alerts
    assert sorted(re.match(r"Source '([\w-]+)'", n)[1] for n in notices) == sorted(  # type: ignore[index]
        name for name, state in EXPECTED.items() if state != "ok"
    )
    told = dict(zip(sorted(EXPECTED.keys() - {"healthy"}), sorted(notices), strict=True))
    assert "is empty: 3 polls in a row" in told["empty-page"]
    assert "is gone (HTTP 410)" in told["gone-feed"]
    assert "is blocked" in told["intranet"] and "allow_networks" in told["intranet"]
    assert "failed 3 polls in a row" in told["html-feed"] and "failed 3 polls in a row" in told["hostile-feed"]
    assert not any("waiting for delivery" in m.body for m in receiver.messages)
    assert canary.accepts == 0

    # the healthy source alerts as configured: the urgent one at once, the held one after the hold
    assert [("Earthquake" in a.title + a.body) for a in alerts] == [True]
    held = receiver.messages[len(notices) + len(alerts) :]
    assert len(held) == 2 and after_quiet == len(notices) + len(alerts) + 1
    assert all("Markets rally" in m.title + m.body for m in held)
    assert len(receiver.messages) == 8
