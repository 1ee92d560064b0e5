"""Several daemons sharing one PostgreSQL database: each source polled by one of them per
interval, each alert delivered once, whoever polled or delivers; membership rows.

In-process daemons on a real PostgreSQL database, a local feed site and a real apprise
``json://`` receiver; the clock is a :class:`FakeClock` shared by the daemons, so that
"within one interval" is exact. The subprocess cluster test, with a SIGKILL, is
``tests/integration/test_cluster.py``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiohttp import web

from monitor.clock import FakeClock
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from tests.support.configs import make_config
from tests.support.feeds import Item
from tests.support.servers import Feed, Site
from tests.support.waiting import wait_for

SOURCES = 6


async def test_instances_share_polls_and_deliver_each_alert_once(
    tmp_path: Path, postgres_url: str, site: Site, receiver: Receiver
) -> None:
    feeds = [Feed(site, f"/f{i}.xml") for i in range(SOURCES)]
    for i, feed in enumerate(feeds):
        feed.items = [Item(f"old story {i}", f"{site.base}/old/{i}")]
    config = make_config(
        tmp_path,
        sources=[{"name": f"s{i}", "feed": feed.url} for i, feed in enumerate(feeds)],
        rules=[{"name": "quake", "query": "earthquake"}],
        notifiers={"chat": receiver.url},
        allow=["127.0.0.0/8"],
        extra=f"database: {postgres_url}\ndefaults: {{interval: 60s}}\ncluster: {{enabled: false}}",
    )
    clock = FakeClock()
    daemons = [Daemon(config, workers=0, clock=clock) for _ in range(3)]
    try:
        for daemon in daemons:
            await daemon.start()  # all three migrate the same database; the first does it
        # every daemon's timer fires for every source: the first to lease it polls it (and primes it)
        for daemon in daemons:
            await asyncio.gather(*(daemon._poll_job(f"s{i}") for i in range(SOURCES)))
        assert [feed.hits for feed in feeds] == [1] * SOURCES
        for i, feed in enumerate(feeds):
            feed.items.append(Item(f"earthquake {i}", f"{site.base}/new/{i}"))
        clock.advance(61)
        # the other way round now: the last daemon gets every source, the others find them polled
        for daemon in reversed(daemons):
            await asyncio.gather(*(daemon._poll_job(f"s{i}") for i in range(SOURCES)))
        assert [feed.hits for feed in feeds] == [2] * SOURCES
        states = await daemons[0].rt.store.source_states()
        assert {s.polled_by for s in states.values()} == {daemons[-1].rt.instance_id}
        # all three drain at once: one delivers to the destination, each alert arrives once
        await asyncio.gather(*(d.deliverer.drain_once() for d in daemons))
        await asyncio.gather(*(d.deliverer.drain_once() for d in daemons))
        titles = sorted(m.title for m in receiver.messages)
        assert len(titles) == SOURCES and len(set(titles)) == SOURCES
        for daemon in daemons:
            await daemon._heartbeat()
        live = await daemons[0].rt.store.leases.members(since=clock.timestamp() - 45)
        assert sorted(m.id for m in live) == sorted(d.rt.instance_id for d in daemons)
        assert {m.config_hash for m in live} == {live[0].config_hash} and all(m.leases == 0 for m in live)
        assert daemons[0].rt.metrics.config_mismatch._value.get() == 0
    finally:
        for daemon in daemons:
            await daemon.close()



async def test_an_instance_that_stops_frees_its_leases_at_once(
    tmp_path: Path, postgres_url: str, site: Site, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answered = asyncio.Event()

    async def never(_: web.Request) -> web.Response:  # the poll is in flight when the stop comes
        await answered.wait()
        return web.Response(status=304)

    site.route("/f.xml", never)
    config = make_config(
        tmp_path,
        sources=[{"name": "s0", "feed": f"{site.base}/f.xml"}],
        rules=[{"name": "quake", "query": "earthquake"}],
        notifiers={"chat": receiver.url},
        allow=["127.0.0.0/8"],
        extra=f"database: {postgres_url}\ndefaults: {{interval: 60s}}\ninstances: {{source_lease: 300s}}",
    )
    src = config.settings.sources[0]
    stopping, other = Daemon(config, workers=0), Daemon(config, workers=0)
    try:
        await stopping.start()
        await other.start()
        running = asyncio.create_task(stopping.run(install_signals=False))
        poll = asyncio.create_task(stopping._poll_job("s0"))
        assert await wait_for(lambda: len(site.seen) == 1)
        assert not await other._lease(src, force=True)  # leased to the polling instance
        stopping.stop()
        assert await running == 0
        await poll  # cut short by the stop: no error for the scheduler to log
        # the other instance polls it now, not when the lease would have ended 300 s later
        assert await other._lease(src, force=True)
        assert "poll cut short by the stop" in caplog.text
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    finally:
        answered.set()
        await stopping.close()
        await other.close()
