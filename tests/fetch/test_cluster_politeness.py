"""Politeness per host for several instances sharing a database (monitor.store.hosts):
the spacing holds between requests of different instances, the in-flight limit for all of
them together, and a place held by an instance that died frees itself when its lease ends.

Two "instances" here are two HTTP clients, each with its own engine on the same real
PostgreSQL database and its own owner id, fetching from one local site that records when
each request starts and how many are in flight."""

from __future__ import annotations

import asyncio
import itertools
import time

from aiohttp import web

from monitor.fetch.client import HttpClient
from monitor.store.db import Database
from monitor.store.hosts import ClusterHosts, claim_turn, forget_idle, release_turn
from monitor.store.schema import host_slots, hosts
from tests.support.servers import Site


def _slow(delay: float):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay)
        return web.Response(body=b"x")

    return handler


class Instance:
    """One instance's database engine, shared politeness and HTTP client."""

    def __init__(self, url: str, owner: str, site: Site, *, per_host: int, delay: float, lease: float = 90) -> None:
        self.db = Database(url)
        self.db.migrate()
        self.hosts = ClusterHosts(self.db, owner, lease=lease)
        self.http = HttpClient(
            allow_networks=site.allow, per_host_limit=per_host, host_min_delay=delay, shared_hosts=self.hosts
        )

    async def close(self) -> None:
        await self.http.close()
        self.hosts.close()
        self.db.close()


async def test_host_delay_holds_between_requests_of_different_instances(site: Site, postgres_url: str) -> None:
    site.static("/f", b"x")
    delay = 0.2
    a, b = (Instance(postgres_url, name, site, per_host=4, delay=delay) for name in ("a", "b"))
    try:
        # each opens its connection first: a new connection's set-up would delay one arrival
        # and shorten the gap after it (the spacing is of request starts, seen here as arrivals)
        for inst in (a, b):
            await inst.http.get(f"{site.base}/f?warm")
        site.seen.clear()
        site.starts.clear()
        fetches = [inst.http.get(f"{site.base}/f?{inst.hosts.owner}{n}") for n in range(3) for inst in (a, b)]
        await asyncio.gather(*fetches)
    finally:
        await a.close()
        await b.close()
    starts = sorted(site.starts)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # each instance alone would space its own three only: two requests at a time, gaps of ~0
    # (the margin is for a loaded machine's scheduling between a start and its arrival)
    assert len(gaps) == 5 and min(gaps) >= delay - 0.05, gaps
    assert sorted(s.path.split("?")[1][0] for s in site.seen) == ["a"] * 3 + ["b"] * 3


async def test_a_robots_crawl_delay_holds_between_instances_too(site: Site, postgres_url: str) -> None:
    site.static("/robots.txt", b"User-agent: *\nCrawl-delay: 0.2\n")
    site.static("/f", b"x")
    a, b = (Instance(postgres_url, name, site, per_host=4, delay=0) for name in ("a", "b"))
    try:
        for inst in (a, b):  # each reads robots.txt and opens its connection
            await inst.http.get(f"{site.base}/f?warm", check_robots=True)
        site.seen.clear()
        site.starts.clear()
        await asyncio.gather(
            *(inst.http.get(f"{site.base}/f?{n}", check_robots=True) for n in range(2) for inst in (a, b))
        )
    finally:
        await a.close()
        await b.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(sorted(site.starts))]
    assert len(site.seen) == 4 and len(gaps) == 3 and min(gaps) >= 0.2 - 0.05, gaps


async def test_in_flight_limit_holds_for_the_instances_together(site: Site, postgres_url: str) -> None:
    site.route("/s", _slow(0.2))
    a, b = (Instance(postgres_url, name, site, per_host=2, delay=0) for name in ("a", "b"))
    try:
        await asyncio.gather(*(inst.http.get(f"{site.base}/s") for _ in range(4) for inst in (a, b)))
    finally:
        await a.close()
        await b.close()
    assert len(site.seen) == 8 and site.max_in_flight == 2  # each alone would have had 2 in flight
    with Database(postgres_url).read() as conn:  # every place given back
        held = conn.execute(host_slots.select().where(host_slots.c.lease_owner.is_not(None))).all()
    assert held == []


async def test_a_place_held_by_a_dead_instance_frees_itself_when_its_lease_ends(site: Site, postgres_url: str) -> None:
    site.static("/f", b"x")
    dead = Database(postgres_url)
    dead.migrate()
    lease = 0.6
    claimed = time.time()
    with dead.write() as conn:  # the instance took the host's only place, then was killed
        taken = claim_turn(conn, "127.0.0.1", owner="dead", slots=1, delay=0, now=claimed, lease=lease, ensure=True)
    # the lease ends at ``claimed + lease`` (not from when the commit returned: under load
    # that is later); a few ms for converting the site's monotonic clock to wall time
    ends = claimed + lease - 0.005
    assert taken is not None
    alive = Instance(postgres_url, "alive", site, per_host=1, delay=0)
    try:
        response = await asyncio.wait_for(alive.http.get(f"{site.base}/f"), 10)
    finally:
        await alive.close()
        dead.close()
    assert response.body == b"x"
    started = time.time() - (time.monotonic() - site.starts[0])
    assert started >= ends  # not before the dead instance's lease ended


def test_claims_release_spacing_and_pruning(db_url: str) -> None:
    db = Database(db_url)
    db.migrate()
    try:
        with db.write() as conn:
            claim = lambda owner, now, delay=0.0, ensure=False: claim_turn(  # noqa: E731
                conn, "news.example", owner=owner, slots=2, delay=delay, now=now, lease=30, ensure=ensure
            )
            first = claim("a", 100.0, ensure=True)
            second = claim("b", 100.0)
            assert (first and first.slot, second and second.slot) == (0, 1)
            assert claim("c", 101.0) is None  # both places taken
            release_turn(conn, "news.example", 1, "b", now=102.0)
            assert claim("c", 102.0) == second.__class__(1, 102.0)  # type: ignore[union-attr]
            assert claim("c", 129.0) is None
            assert claim("c", 130.0) == second.__class__(0, 130.0)  # type: ignore[union-attr]  # a's lease ended
            release_turn(conn, "news.example", 0, "c", now=130.0)
            release_turn(conn, "news.example", 1, "c", now=130.0)
            # spacing: each start reserved after the previous one
            turns = [claim(o, 200.0, delay=5.0) for o in ("a", "b")]
            assert [t.start for t in turns if t] == [200.0, 205.0]
            release_turn(conn, "news.example", 0, "a", now=201.0)
            third = claim("c", 201.0, delay=5.0)
            assert third is not None and third.start == 210.0
            # a place waiting for its start keeps its lease past it
            lease_until = conn.execute(
                host_slots.select().with_only_columns(host_slots.c.lease_until).where(host_slots.c.slot == third.slot)
            ).scalar()
            assert lease_until == 240.0
            assert forget_idle(conn, 216.0) == 0  # places still held
            for slot in (0, 1):
                freed = host_slots.update().where(host_slots.c.slot == slot)
                conn.execute(freed.values(lease_owner=None, lease_until=211.0))
            assert forget_idle(conn, 216.0) == 1
            # a host's rows pruned meanwhile are made again by the next claim that asks
            assert claim("d", 300.0, delay=1.0) is None
            assert claim("d", 300.0, delay=1.0, ensure=True) == second.__class__(0, 300.0)  # type: ignore[union-attr]
            # and a spacing row pruned while its places stayed is made again by the claim itself
            release_turn(conn, "news.example", 0, "d", now=300.0)
            conn.execute(hosts.delete())
            assert claim("e", 301.0, delay=2.0) == second.__class__(0, 301.0)  # type: ignore[union-attr]
            release_turn(conn, "news.example", 0, "e", now=301.0)
            assert claim("f", 301.0, delay=2.0) == second.__class__(0, 303.0)  # type: ignore[union-attr]
    finally:
        db.close()


async def test_the_postgresql_statements_take_give_back_and_remake_pruned_rows(postgres_url: str) -> None:
    db = Database(postgres_url)
    db.migrate()
    hosts_ = ClusterHosts(db, "a", lease=30)
    try:
        first = await hosts_.claim("news.example", slots=1, delay=5.0, now=100.0)
        assert first is not None and (first.slot, first.start) == (0, 100.0)
        assert await hosts_.claim("news.example", slots=1, delay=5.0, now=101.0) is None  # its one place is taken
        await hosts_.release("news.example", first, now=101.0)
        second = await hosts_.claim("news.example", slots=1, delay=5.0, now=101.0)
        assert second is not None and second.start == 105.0  # spaced after the first
        await hosts_.release("news.example", second, now=106.0)
        with db.write() as conn:  # another instance pruned the host's rows meanwhile
            assert forget_idle(conn, 200.0) == 1
        assert await hosts_.claim("news.example", slots=1, delay=5.0, now=300.0) is None  # found gone ...
        third = await hosts_.claim("news.example", slots=1, delay=5.0, now=300.0)  # ... and made again
        assert third is not None and third.start == 300.0
        with db.write() as conn:  # the spacing row alone gone: the claim makes it
            conn.execute(hosts.delete())
        await hosts_.release("news.example", third, now=300.0)
        fourth = await hosts_.claim("news.example", slots=1, delay=5.0, now=301.0)
        assert fourth is not None and fourth.start == 301.0
        await hosts_.release("news.example", fourth, now=301.0)
        fifth = await hosts_.claim("news.example", slots=1, delay=5.0, now=302.0)
        assert fifth is not None and fifth.start == 306.0
        # a start further off than the lease's margin keeps the place past it
        now_ = await hosts_.claim("far.example", slots=2, delay=100.0, now=0.0)
        later = await hosts_.claim("far.example", slots=2, delay=100.0, now=0.0)
        assert now_ is not None and later is not None and (now_.start, later.start) == (0.0, 100.0)
        with db.read() as conn:
            leases = conn.execute(
                host_slots.select()
                .with_only_columns(host_slots.c.lease_until)
                .where(host_slots.c.host == "far.example")
                .order_by(host_slots.c.slot)
            ).scalars().all()
        assert leases == [30.0, 130.0]
    finally:
        hosts_.close()
        db.close()
