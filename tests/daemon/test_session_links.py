"""Links that change on every poll make no new stories (issue 12, item 9): a session
parameter is learned and left out of identity, regenerated GUIDs add no key rows past the cap."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime
from pathlib import Path

from pytest_httpserver import HTTPServer
from sqlalchemy import func, select

from monitor.clock import FakeClock
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.identity.keys import MAX_ALIASES
from monitor.store.schema import story_keys
from tests.support.configs import make_config
from tests.support.feeds import Item
from tests.support.servers import Feed, Site

SEED = 20260112
#: short titles: too short for the syndication clusters to recognise a repeat by title
OTHER_TOPICS = ["Flood", "Quake", "Fire", "Drought"]


class SessionFeed(Feed):
    """A feed without GUIDs whose every link carries a fresh ``?sid=`` on each request, as a
    CMS does that writes the visitor's session into its links."""

    def __init__(self, server: Site | HTTPServer, rng: random.Random) -> None:
        super().__init__(server)
        self.rng = rng
        #: (slug, title) of the stories listed, newest first
        self.listed: list[tuple[str, str]] = []

    def stories(self) -> list[Item]:
        items = []
        for slug, title in self.listed:
            sid = "".join(self.rng.choices(string.ascii_lowercase + string.digits, k=16))
            items.append(Item(title, f"http://127.0.0.1/news/{slug}?page=1&sid={sid}", description=title + "."))
        return items


def storm_stories(count: int, start: int = 0) -> list[tuple[str, str]]:
    return [(f"storm-{n}", f"Storm {n}") for n in range(start, start + count)]


async def poll_many(daemon: Daemon, clock: FakeClock, polls: int) -> None:
    for _ in range(polls):
        await daemon.run_once()
        clock.advance(2)


async def started_daemon(
    tmp_path: Path,
    site: Site,
    receiver: Receiver,
    feed_url: str,
    *,
    source: str = "cms",
    rule: str = "storms",
    query: str = "storm",
) -> tuple[Daemon, FakeClock]:
    """A started daemon on a fake clock polling the feed at ``feed_url`` as ``source``
    (no full text), one rule ``rule`` with ``query``, alerts to ``receiver``."""
    config = make_config(
        tmp_path,
        sources=[{"name": source, "feed": feed_url, "full_text": False}],
        rules=[{"name": rule, "query": query}],
        notifiers={"chat": receiver.url},
        allow=site.allow,
    )
    clock = FakeClock(datetime.now(UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    return daemon, clock


async def session_run(tmp_path: Path, site: Site, receiver: Receiver, *, old: int, polls: int) -> int:
    """The alerts sent for 20 new stories of a session-link feed polled ``polls`` times after
    a first poll that listed ``old`` other stories."""
    feed = SessionFeed(site, random.Random(SEED))
    daemon, clock = await started_daemon(tmp_path, site, receiver, feed.url)
    try:
        feed.listed = [(f"old-{n}", f"{OTHER_TOPICS[n % 4]} {n}") for n in range(old)]
        await poll_many(daemon, clock, 1)  # primes
        feed.listed = [*storm_stories(20), *feed.listed]
        await poll_many(daemon, clock, polls)
    finally:
        await daemon.close()
    return len(receiver.messages)


async def test_a_session_parameter_on_every_link_alerts_each_story_once(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # the stories listed at the first poll come back under new session ids: the parameter is learned
    assert await session_run(tmp_path, site, receiver, old=5, polls=30) == 20


async def test_a_session_parameter_is_learned_from_the_stories_alerted(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # nothing to compare at the second poll: its stories alert, and the third poll learns from them
    assert await session_run(tmp_path, site, receiver, old=0, polls=30) == 20


async def test_a_lone_story_under_a_session_link_alerts_once_and_its_keys_stay_bounded(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # one story cannot teach the parameter: its page and title recognise it, poll after poll
    feed = SessionFeed(site, random.Random(SEED))
    daemon, clock = await started_daemon(tmp_path, site, receiver, feed.url)
    try:
        await poll_many(daemon, clock, 1)  # primes an empty feed
        feed.listed = storm_stories(1)
        await poll_many(daemon, clock, 2 * MAX_ALIASES)
        counts = key_rows_per_story(daemon)
    finally:
        await daemon.close()
    assert len(receiver.messages) == 1
    assert len(counts) == 1 and counts[0] <= 2 + MAX_ALIASES


async def test_article_ids_in_queries_are_stories_even_under_one_recurring_title(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # no silent loss: "?id=" names the story, whatever the titles say
    feed = Feed(site)
    daemon, clock = await started_daemon(tmp_path, site, receiver, feed.url, source="desk", rule="weather", query="weather")
    try:
        for poll in range(12):
            # two new reports each poll, the oldest two gone: five listed, all titled alike
            feed.items = [
                Item("Weather update", f"http://127.0.0.1/article?id={n}&lang=en", description="Rain.")
                for n in range(2 * poll + 4, 2 * poll - 1, -1)
            ]
            await poll_many(daemon, clock, 1)
    finally:
        await daemon.close()
    assert len(receiver.messages) == 2 * 11  # every report after the first poll


def key_rows_per_story(daemon: Daemon) -> list[int]:
    with daemon.rt.store.database.read() as conn:
        rows = conn.execute(select(story_keys.c.story_id, func.count()).group_by(story_keys.c.story_id)).all()
    return [count for _, count in rows]


class RegeneratingFeed(Feed):
    """A feed that gives every story a new GUID on each request (a GUID made from the time)."""

    def __init__(self, server: Site | HTTPServer) -> None:
        super().__init__(server)
        self.requests = 0

    def stories(self) -> list[Item]:
        self.requests += 1
        return [
            Item(title, f"http://127.0.0.1/news/{slug}", guid=f"{slug}-{self.requests}")
            for slug, title in storm_stories(5)
        ]


async def test_regenerated_guids_add_no_key_rows_past_the_cap(tmp_path: Path, site: Site, receiver: Receiver) -> None:
    feed = RegeneratingFeed(site)
    daemon, clock = await started_daemon(tmp_path, site, receiver, feed.url)
    try:
        await poll_many(daemon, clock, 3 * MAX_ALIASES)
        counts = key_rows_per_story(daemon)
    finally:
        await daemon.close()
    assert len(counts) == 5
    # the link and the first GUID, recorded with the story, and at most MAX_ALIASES keys found later
    assert max(counts) <= 2 + MAX_ALIASES
    assert receiver.messages == []  # primed at the first poll; nothing new since
