"""The daemon's politeness with a PostgreSQL store: two instances polling sources of one site
at once still space their requests by ``http.host_delay`` (the store's ClusterHosts wired
into the HTTP client); SQLite, or ``instances.politeness: instance``, keeps each process's
own gates alone (no statement per request), and so does an instance that finds no other
live one at its heartbeat."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from monitor.daemon.service import Daemon
from monitor.store.schema import host_slots
from tests.support.configs import make_config
from tests.support.feeds import Item
from tests.support.servers import Feed, Site


def configured(tmp_path: Path, site: Site, feeds: list[Feed], database: str, politeness: str = "cluster") -> Daemon:
    config = make_config(
        tmp_path,
        sources=[{"name": f"s{i}", "feed": feed.url} for i, feed in enumerate(feeds)],
        rules=[{"name": "quake", "query": "earthquake"}],
        notifiers={"chat": "json://127.0.0.1:1/hook"},
        allow=["127.0.0.0/8"],
        extra=(
            f"database: {database}\ndefaults: {{interval: 60s}}\ncluster: {{enabled: false}}\n"
            f"http: {{host_delay: 0.2s, per_host: 4}}\ninstances: {{politeness: {politeness}}}"
        ),
    )
    return Daemon(config, workers=0)


async def test_two_instances_polling_one_site_space_their_requests(
    tmp_path: Path, postgres_url: str, site: Site
) -> None:
    feeds = [Feed(site, f"/f{i}.xml") for i in range(4)]
    for i, feed in enumerate(feeds):
        feed.items = [Item(f"story {i}", f"{site.base}/story/{i}")]
    daemons = [configured(tmp_path, site, feeds, postgres_url) for _ in range(2)]
    try:
        for daemon in daemons:
            await daemon.start()
            assert daemon.rt.shared_hosts is not None
        await asyncio.gather(*(daemons[i % 2]._poll_job(f"s{i}") for i in range(4)))
    finally:
        for daemon in daemons:
            await daemon.close()
    assert [feed.hits for feed in feeds] == [1] * 4
    gaps = [b - a for a, b in itertools.pairwise(sorted(site.starts))]
    assert len(gaps) >= 3 and min(gaps) >= 0.2 - 0.05, gaps


async def test_sqlite_or_politeness_instance_keep_the_gates_of_each_process(
    tmp_path: Path, postgres_url: str, site: Site
) -> None:
    feeds = [Feed(site, "/f.xml")]
    for database, politeness in ((f"sqlite:///{tmp_path}/state.db", "cluster"), (postgres_url, "instance")):
        daemon = configured(tmp_path, site, feeds, database, politeness)
        try:
            assert daemon.rt.shared_hosts is None
        finally:
            await daemon.close()


async def test_an_instance_alone_makes_no_claim_until_another_one_beats(
    tmp_path: Path, postgres_url: str, site: Site
) -> None:
    feeds = [Feed(site, f"/f{i}.xml") for i in range(2)]
    for i, feed in enumerate(feeds):
        feed.items = [Item(f"story {i}", f"{site.base}/story/{i}")]
    first, second = (configured(tmp_path, site, feeds, postgres_url) for _ in range(2))

    def places() -> int:
        with first.rt.store.database.read() as conn:
            return len(conn.execute(host_slots.select()).all())

    try:
        await first.start()
        await first._heartbeat()
        assert first.rt.shared_hosts is not None and first.rt.shared_hosts.alone
        await first._poll_job("s0")
        assert feeds[0].hits == 1 and places() == 0  # no statement for the request
        await second.start()
        await second._heartbeat()
        await first._heartbeat()
        assert second.rt.shared_hosts is not None
        assert not first.rt.shared_hosts.alone and not second.rt.shared_hosts.alone
        await first._poll_job("s1")
        assert feeds[1].hits == 1 and places() == 4  # per_host places of the site, made by the claim
    finally:
        for daemon in (first, second):
            await daemon.close()
