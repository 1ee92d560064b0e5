"""The daemon end to end: a local feed server, a real SQLite file, real apprise deliveries (json:// and mailto://)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from monitor.clock import SYSTEM_CLOCK, FakeClock
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.errors import StoreError
from monitor.store import repo
from tests.support.configs import make_config
from tests.support.feeds import Item, story_items
from tests.support.servers import Feed
from tests.support.smtp import SMTPBox


def allow(server: HTTPServer) -> list[str]:
    return [f"127.0.0.1:{server.port}"]


def base_config(
    tmp_path: Path,
    httpserver: HTTPServer,
    feed: Feed,
    notifiers: dict[str, Any],
    rules: list[dict[str, Any]] | None = None,
) -> Any:
    return make_config(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url, "full_text": False}],
        rules=rules
        or [
            {"name": "rare-earths", "query": '"rare earths"'},
            {"name": "japan-defence", "query": "Japan defence"},
        ],
        notifiers=notifiers,
        allow=allow(httpserver),
    )


async def run_once(config: Any, clock: FakeClock | None = None) -> Daemon:
    daemon = Daemon(config, workers=0, clock=clock or SYSTEM_CLOCK)
    try:
        await daemon.run_once()
    finally:
        await daemon.close()
    return daemon


MATCHING = Item(
    "Britain, Japan agree to deepen defence cooperation",
    "http://127.0.0.1/world/uk-japan-defence",
    "g-uk-japan",
    "The ministers also discussed rare earths supply chains.",
)
OTHER = Item(
    "Fashion house launches capsule",
    "http://127.0.0.1/style/capsule",
    "g-capsule",
    "Linen pieces for summer.",
)


async def test_new_story_one_alert_per_rule_and_target(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver, smtp: SMTPBox
) -> None:
    feed = Feed(httpserver)
    feed.items = story_items(3)
    config = base_config(tmp_path, httpserver, feed, {"chat": receiver.url, "mail": smtp.url})
    await run_once(config)
    assert receiver.messages == [] and smtp.messages == []  # first poll primes

    feed.items = [MATCHING, OTHER, *feed.items]
    await run_once(config)
    # two rules match one story: each target gets ONE message listing both rules
    assert len(receiver.messages) == 1
    body = receiver.messages[0].body
    assert "rare-earths" in body and "japan-defence" in body
    assert "Britain, Japan agree" in receiver.messages[0].title + body
    assert "**rare earths**" in body or "rare earths" in body
    assert "capsule" not in receiver.messages[0].title
    assert receiver.messages[0].key and receiver.messages[0].key.startswith("nm-")
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert "Britain, Japan agree" in str(mail["Subject"]) or "Britain" in mail.as_string()
    assert mail["X-Newsmonitor-Key"], "the idempotency key travels in a header"

    # nothing new: nothing sent
    await run_once(config)
    assert len(receiver.messages) == 1 and len(smtp.messages) == 1


async def test_restart_between_polls_never_realerts(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    feed = Feed(httpserver)
    feed.items = story_items(2)
    config = base_config(tmp_path, httpserver, feed, {"chat": receiver.url})
    await run_once(config)
    feed.items = [MATCHING, *feed.items]
    await run_once(config)
    assert len(receiver.messages) == 1
    for _ in range(3):  # each run_once is a full daemon start/stop on the same SQLite file
        await run_once(config)
    assert len(receiver.messages) == 1


async def test_changed_guid_same_link_is_not_new(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    feed = Feed(httpserver)
    feed.items = []
    config = base_config(tmp_path, httpserver, feed, {"chat": receiver.url})
    await run_once(config)
    feed.items = [MATCHING]
    await run_once(config)
    assert len(receiver.messages) == 1
    edited = Item(
        MATCHING.title + " (updated)",
        MATCHING.link + "?utm_source=rss&utm_medium=x",
        "a-new-guid",
        MATCHING.description + " Updated with rare earths details.",
    )
    feed.items = [edited]
    await run_once(config)
    assert len(receiver.messages) == 1


async def test_first_poll_of_fifty_item_feed_primes(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    feed = Feed(httpserver)
    feed.items = story_items(50, words="rare earths")
    config = base_config(tmp_path, httpserver, feed, {"chat": receiver.url})
    await run_once(config)
    assert receiver.messages == []
    db_daemon = Daemon(config, workers=0)
    with db_daemon.rt.store.database.read() as conn:
        assert repo.count_stories(conn) == 50
    await db_daemon.close()


async def test_alert_on_first_poll_option(tmp_path: Path, httpserver: HTTPServer, receiver: Receiver) -> None:
    feed = Feed(httpserver)
    feed.items = [MATCHING]
    config = make_config(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url, "alert_on_first_poll": True}],
        rules=[{"name": "r", "query": "rare earths"}],
        notifiers={"chat": receiver.url},
        allow=allow(httpserver),
    )
    await run_once(config)
    assert len(receiver.messages) == 1


async def test_receiver_outage_delivers_once_after_recovery(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    feed = Feed(httpserver)
    config = base_config(tmp_path, httpserver, feed, {"chat": receiver.url})
    clock = FakeClock()
    await run_once(config, clock)
    feed.items = [MATCHING]
    receiver.fail_with = 500
    await run_once(config, clock)
    assert receiver.messages == [] and receiver.attempts == 1

    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        # not due yet: no busy loop, no attempt
        await daemon.deliverer.drain_once()
        assert receiver.attempts == 1
        for _ in range(4):  # outage continues; each retry only after its backoff
            clock.advance(10)
            await daemon.deliverer.drain_once()
        outage_attempts = receiver.attempts
        assert 2 <= outage_attempts <= 5
        receiver.fail_with = None
        clock.advance(10)
        await daemon.deliverer.drain_once()
        clock.advance(10)
        await daemon.deliverer.drain_once()
    finally:
        await daemon.close()
    assert len(receiver.messages) == 1


async def test_receiver_refusing_connections(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    feed = Feed(httpserver)
    port = receiver.port
    config = base_config(tmp_path, httpserver, feed, {"chat": receiver.url})
    clock = FakeClock()
    await run_once(config, clock)
    feed.items = [MATCHING]
    await receiver.stop()  # connection refused
    await run_once(config, clock)
    await receiver.start(port)
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        clock.advance(10)
        await daemon.deliverer.drain_once()
    finally:
        await daemon.close()
    assert len(receiver.messages) == 1


async def test_second_daemon_on_same_database_refuses(tmp_path: Path, httpserver: HTTPServer) -> None:
    feed = Feed(httpserver)
    config = base_config(tmp_path, httpserver, feed, {"chat": "json://127.0.0.1:1/x"})
    first = Daemon(config, workers=0)
    await first.start()
    second = Daemon(config, workers=0)
    try:
        with pytest.raises(StoreError, match="already using the database"):
            await second.start()
    finally:
        await second.close()
        await first.close()


async def test_dry_run_records_nothing(tmp_path: Path, httpserver: HTTPServer, receiver: Receiver) -> None:
    feed = Feed(httpserver)
    feed.items = [MATCHING]
    config = base_config(tmp_path, httpserver, feed, {"chat": receiver.url})
    daemon = Daemon(config, workers=0)
    try:
        results = await daemon.run_once(record=False)
    finally:
        await daemon.close()
    assert results[0].listed == 1
    assert receiver.messages == []
    daemon2 = Daemon(config, workers=0)
    await daemon2.start()
    with daemon2.rt.store.database.read() as conn:
        assert repo.count_stories(conn) == 0
    await daemon2.close()


def _variant(items: list[Item], kind: str) -> list[Item]:
    out = []
    for it in items:
        link, guid, title = it.link, it.guid, it.title
        if kind == "new-guid":
            guid = f"changed-{guid}"
        elif kind == "tracking":
            link = f"{link}?utm_source=rss&utm_campaign=x&fbclid=abc123"
        elif kind == "https":
            link = link.replace("http://", "https://", 1)
        elif kind == "whitespace-case":
            title = "  " + title.upper() + "  "
        out.append(Item(title, link, guid, it.description, it.published))
        if kind == "updated":
            out[-1].description += " (updated)"
    if kind == "reordered":
        out.reverse()
    return out


@pytest.mark.parametrize("kind", ["new-guid", "tracking", "https", "updated", "reordered", "whitespace-case"])
async def test_reserved_variants_never_realert(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver, kind: str
) -> None:
    # H-8: 100 stories, then the same stories re-served with one change each
    feed = Feed(httpserver)
    feed.items = []
    config = base_config(
        tmp_path,
        httpserver,
        feed,
        {"chat": receiver.url},
        rules=[{"name": "all", "query": "story OR weather"}],
    )
    await run_once(config)
    feed.items = story_items(100)
    await run_once(config)
    # 100 new stories in one poll is a flood: one summary message, every story recorded
    assert len(receiver.messages) == 1 and "100 new stories" in receiver.messages[0].title
    feed.items = _variant(feed.items, kind)
    await run_once(config)
    assert len(receiver.messages) == 1


async def test_items_without_link_or_guid_are_keyed_by_title(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    # H-9: empty link and guid, duplicate guids, no dates; the second poll creates nothing new
    feed = Feed(httpserver)
    config = base_config(
        tmp_path, httpserver, feed, {"chat": receiver.url}, rules=[{"name": "all", "query": "story"}]
    )
    await run_once(config)
    feed.items = [
        Item("Story without anything", "", None, "story text"),
        Item("Story with shared guid one", "http://127.0.0.1/a", "same", "story"),
        Item("Story with shared guid two", "http://127.0.0.1/b", "same", "story"),
    ]
    await run_once(config)
    first = len(receiver.messages)
    assert first >= 2
    await run_once(config)
    assert len(receiver.messages) == first


async def test_aggregator_links_resolve_to_the_publisher(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    # a feed of redirector links ("localhost" plays the aggregator); the publisher's own feed
    # later lists the same story under its real URL: one alert, with the publisher's URL
    port = httpserver.port
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    publisher = f"http://127.0.0.1:{port}/world/2026/britain-japan-defence"
    httpserver.expect_request("/r/abc").respond_with_data("", status=302, headers={"Location": publisher})
    httpserver.expect_request("/world/2026/britain-japan-defence").respond_with_data(
        "<html><body><article><h1>Britain, Japan agree</h1>"
        + "<p>Britain and Japan discussed rare earths and defence cooperation at length.</p>" * 8
        + "</article></body></html>",
        content_type="text/html",
    )
    agg, own = Feed(httpserver, "/agg.xml"), Feed(httpserver, "/own.xml")
    config = make_config(
        tmp_path,
        sources=[
            {"name": "aggregator", "feed": f"http://127.0.0.1:{port}/agg.xml"},
            {"name": "publisher", "feed": f"http://127.0.0.1:{port}/own.xml"},
        ],
        rules=[{"name": "rare", "query": '"rare earths"'}],
        notifiers={"chat": receiver.url},
        allow=[f"127.0.0.1:{port}"],
        extra="http: {redirectors: [localhost]}\ncluster: {enabled: false}\n",
    )
    await run_once(config)
    agg.items = [Item("Britain, Japan agree", f"http://localhost:{port}/r/abc", "agg-1", "teaser")]
    await run_once(config)
    assert len(receiver.messages) == 1
    assert publisher in receiver.messages[0].body
    own.items = [Item("Britain, Japan agree to deepen cooperation", publisher, "own-1", "rare earths")]
    await run_once(config)
    assert len(receiver.messages) == 1
