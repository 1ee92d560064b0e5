"""Politeness and robots.txt: per-host in-flight limit, spacing between starts, global limit, robots cache."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from monitor.clock import FakeClock
from monitor.errors import BlockedURL, RobotsDisallowed
from monitor.fetch.client import HttpClient
from tests.support.servers import Site


def _slow(body: bytes = b"x", delay: float = 0.15):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay)
        return web.Response(body=body)

    return handler


async def test_per_host_in_flight_limit(site: Site) -> None:
    site.route("/s", _slow())
    async with HttpClient(allow_networks=site.allow, per_host_limit=2) as http:
        await asyncio.gather(*(http.get(f"{site.base}/s") for _ in range(8)))
        assert site.max_in_flight == 2
        site.max_in_flight = 0
        http.set_host_policy("127.0.0.1", in_flight=1)
        await asyncio.gather(*(http.get(f"{site.base}/s") for _ in range(4)))
        assert site.max_in_flight == 1


async def test_global_limit(site: Site) -> None:
    site.route("/s", _slow())
    async with HttpClient(allow_networks=site.allow, per_host_limit=10, global_limit=3) as http:
        await asyncio.gather(*(http.get(f"{site.base}/s") for _ in range(9)))
    assert site.max_in_flight == 3


async def test_min_delay_between_request_starts(site: Site) -> None:
    site.static("/f", b"x")
    async with HttpClient(allow_networks=site.allow, per_host_limit=4, host_min_delay=0.12) as http:
        await asyncio.gather(*(http.get(f"{site.base}/f") for _ in range(4)))
        gaps = [b - a for a, b in zip(site.starts, site.starts[1:], strict=False)]
        assert len(gaps) == 3 and min(gaps) >= 0.1
        site.starts.clear()
        http.set_host_policy("127.0.0.1.", min_delay=0)
        await asyncio.gather(*(http.get(f"{site.base}/f") for _ in range(3)))
        assert site.starts[-1] - site.starts[0] < 0.1


async def test_min_delay_uses_the_injected_clock(site: Site) -> None:
    site.static("/f", b"x")
    clock = FakeClock()
    async with HttpClient(allow_networks=site.allow, host_min_delay=30, clock=clock) as http:
        for _ in range(3):
            await http.get(f"{site.base}/f")
    assert clock.monotonic() == pytest.approx(60.0)  # two waits of 30 s, no real sleeping


async def test_waiting_for_a_slot_does_not_eat_the_deadline(site: Site) -> None:
    site.route("/s", _slow(delay=0.3))
    async with HttpClient(allow_networks=site.allow, per_host_limit=1, total_timeout=0.6) as http:
        results = await asyncio.gather(*(http.get(f"{site.base}/s") for _ in range(4)))
    assert [r.body for r in results] == [b"x"] * 4


async def test_cancelled_waiter_does_not_leak_a_slot(site: Site) -> None:
    site.route("/s", _slow(delay=0.2))
    site.static("/f", b"f")
    async with HttpClient(allow_networks=site.allow, per_host_limit=1) as http:
        first = asyncio.create_task(http.get(f"{site.base}/s"))
        await asyncio.sleep(0.05)
        waiter = asyncio.create_task(http.get(f"{site.base}/f"))
        await asyncio.sleep(0.05)
        waiter.cancel()
        await first
        r = await asyncio.wait_for(http.get(f"{site.base}/f"), 2)
    assert r.body == b"f"


ROBOTS = b"""User-agent: *
Disallow: /private

User-agent: newsmonitor
Disallow: /nm-only
Crawl-delay: 0.1
"""


async def test_robots_allow_deny_and_cache(site: Site) -> None:
    site.static("/robots.txt", ROBOTS)
    for path in ("/news/1", "/private/1", "/nm-only/x"):
        site.static(path, b"page")
    async with HttpClient(allow_networks=site.allow) as http:
        assert (await http.get(f"{site.base}/news/1", check_robots=True)).body == b"page"
        assert (await http.get(f"{site.base}/private/1", check_robots=True)).body == b"page"  # only * rule
        with pytest.raises(RobotsDisallowed, match=r"robots\.txt disallows") as info:
            await http.get(f"{site.base}/nm-only/x", check_robots=True)
        assert not info.value.transient
        assert (await http.get(f"{site.base}/nm-only/x")).body == b"page"  # not asked to check
        assert await http.robots.crawl_delay(f"{site.base}/x", site.allow) == pytest.approx(0.1)
    robots_fetches = [s for s in site.seen if s.path == "/robots.txt"]
    assert len(robots_fetches) == 1
    assert robots_fetches[0].headers["User-Agent"].startswith("newsmonitor/")


async def test_robots_ttl_with_fake_clock(site: Site) -> None:
    site.static("/robots.txt", b"User-agent: *\nDisallow: /x\n")
    site.static("/a", b"a")
    clock = FakeClock()
    async with HttpClient(allow_networks=site.allow, clock=clock) as http:
        await http.get(f"{site.base}/a", check_robots=True)
        clock.advance(23 * 3600)
        await http.get(f"{site.base}/a", check_robots=True)
        assert sum(s.path == "/robots.txt" for s in site.seen) == 1
        clock.advance(2 * 3600)
        site.static("/robots.txt", b"User-agent: *\nDisallow: /a\n")
        with pytest.raises(RobotsDisallowed):
            await http.get(f"{site.base}/a", check_robots=True)
    assert sum(s.path == "/robots.txt" for s in site.seen) == 2


@pytest.mark.parametrize("status", [404, 401, 403, 410])
async def test_robots_4xx_allows_all(site: Site, status: int) -> None:
    site.static("/robots.txt", b"User-agent: *\nDisallow: /\n", status=status)
    site.static("/a", b"a")
    async with HttpClient(allow_networks=site.allow) as http:
        assert (await http.get(f"{site.base}/a", check_robots=True)).body == b"a"


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_robots_5xx_disallows_temporarily(site: Site, status: int) -> None:
    site.static("/robots.txt", b"", status=status)
    site.static("/a", b"a")
    clock = FakeClock()
    async with HttpClient(allow_networks=site.allow, clock=clock) as http:
        with pytest.raises(RobotsDisallowed, match="unreachable") as info:
            await http.get(f"{site.base}/a", check_robots=True)
        assert info.value.transient
        site.static("/robots.txt", b"User-agent: *\nAllow: /\n")
        with pytest.raises(RobotsDisallowed):  # the verdict is cached for a short while
            await http.get(f"{site.base}/a", check_robots=True)
        clock.advance(601)
        assert (await http.get(f"{site.base}/a", check_robots=True)).body == b"a"


async def test_robots_outage_keeps_previous_good_copy(site: Site) -> None:
    site.static("/robots.txt", b"User-agent: *\nDisallow: /x\n")
    site.static("/a", b"a")
    clock = FakeClock()
    async with HttpClient(allow_networks=site.allow, clock=clock) as http:
        await http.get(f"{site.base}/a", check_robots=True)
        clock.advance(25 * 3600)
        site.static("/robots.txt", b"", status=503)
        assert (await http.get(f"{site.base}/a", check_robots=True)).body == b"a"


async def test_robots_redirect_to_blocked_address_propagates(site: Site) -> None:
    async def robots(request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": "http://127.0.0.1:1/robots.txt"})

    site.route("/robots.txt", robots)
    site.static("/a", b"a")
    async with HttpClient(allow_networks=site.allow) as http:
        with pytest.raises(BlockedURL):
            await http.get(f"{site.base}/a", check_robots=True)


async def test_huge_robots_is_truncated_not_fatal(site: Site) -> None:
    site.static("/robots.txt", b"User-agent: *\nDisallow: /x\n" + b"# filler\n" * 200_000)
    site.static("/a", b"a")
    site.static("/x", b"x")
    async with HttpClient(allow_networks=site.allow) as http:
        assert (await http.get(f"{site.base}/a", check_robots=True)).body == b"a"
        with pytest.raises(RobotsDisallowed):
            await http.get(f"{site.base}/x", check_robots=True)
