"""Sources that work but yield nothing: ``empty`` and ``stale``, through a real daemon, a local
site, a SQLite file and json:// notices (issue 11)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import generate_latest

from monitor.clock import FakeClock
from monitor.config import Config
from monitor.daemon.service import Daemon
from monitor.daemon.status import status_view
from monitor.demo.receiver import Received, Receiver
from monitor.store import repo
from tests.support.configs import make_config
from tests.support.feeds import rss, story_items
from tests.support.servers import Feed, Site

HOUR = 3600.0


def configured(tmp_path: Path, site: Site, receiver: Receiver, source: dict[str, object], health: str) -> Config:
    return make_config(
        tmp_path,
        sources=[{"name": "wire", "full_text": False, **source}],
        rules=[{"name": "r", "query": "nothing-matches-this"}],
        notifiers={"ops": receiver.url},
        allow=site.allow,
        extra=f"health: {health}\n",
    )


async def cycle(daemon: Daemon, clock: FakeClock, hours: float = 1.0) -> repo.SourceState:
    """One poll of every source, a health check, the notices delivered; then ``hours`` pass."""
    await daemon.run_once()
    await daemon.health.check()
    await daemon.deliverer.drain_once()
    clock.advance(hours * HOUR)
    state = await daemon.rt.store.source_state("wire")
    assert state is not None
    return state


def note(message: Received) -> str:
    """The text of a health notice as received (without the footer with its key)."""
    return message.body.split("\n\n--\n")[0]


def gauge(daemon: Daemon, state: str) -> str:
    """The line of ``newsmonitor_sources`` for ``state`` in the daemon's /metrics text."""
    text = generate_latest(daemon.rt.metrics.registry).decode()
    return next(line for line in text.splitlines() if line.startswith(f'newsmonitor_sources{{state="{state}"}}'))


async def test_a_feed_listing_no_item_poll_after_poll_becomes_empty_and_is_told_once(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # the server answers 304 from the second poll on: a 304 of an empty listing is still empty
    site.conditional("/feed.xml", rss([]).encode(), etag='"empty"', content_type="application/rss+xml")
    config = configured(tmp_path, site, receiver, {"feed": site.base + "/feed.xml"}, "{empty_after: 3}")
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        states = [await cycle(daemon, clock, hours=0.5) for _ in range(2)]
        assert [s.empty_polls for s in states] == [1, 2] and receiver.messages == []
        assert gauge(daemon, "ok").endswith(" 1.0") and gauge(daemon, "empty").endswith(" 0.0")
        for _ in range(3):
            state = await cycle(daemon, clock, hours=0.5)
        view = status_view(daemon.rt, await daemon.rt.store.overview())
        assert (state.empty_polls, state.failures) == (5, 0)
        assert [s.headers.get("If-None-Match") for s in site.seen][1:] == ['"empty"'] * 4
        assert [(row.health.value, row.detail) for row in view.sources] == [("empty", "empty for 5 polls")]
        assert gauge(daemon, "empty").endswith(" 1.0") and gauge(daemon, "ok").endswith(" 0.0")
    finally:
        await daemon.close()
    # told at the third poll, then held back by the throttle (1 h by default) until the fifth
    assert len(receiver.messages) == 2
    first, second = (note(m) for m in receiver.messages)
    assert first == (
        "Source 'wire' is empty: 3 polls in a row listed no story. For a page, set `links:` to a CSS "
        "selector of its article links (`newsmonitor test-source wire -v` shows the links it rejected "
        "and why); for a feed, check that it still lists items."
    )
    assert second.startswith("Source 'wire' is empty: 5 polls")


async def test_a_listing_that_brings_stories_again_ends_the_empty_streak(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = Feed(site)
    config = configured(tmp_path, site, receiver, {"feed": feed.url}, "{empty_after: 2}")
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        for _ in range(2):
            state = await cycle(daemon, clock, hours=0.1)
        assert state.empty_polls == 2
        feed.items = story_items(2)
        state = await cycle(daemon, clock, hours=0.1)
        assert (state.empty_polls, state.stories_total) == (0, 2)
        view = status_view(daemon.rt, await daemon.rt.store.overview())
        assert view.sources[0].health.value == "ok"
    finally:
        await daemon.close()
    assert len(receiver.messages) == 1 and "is empty" in receiver.messages[0].title


async def test_a_listing_with_no_new_story_for_longer_than_stale_after_becomes_stale(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = Feed(site)
    feed.items = story_items(3)
    config = configured(tmp_path, site, receiver, {"feed": feed.url, "stale_after": "1d"}, "{empty_after: 3}")
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        # the same three stories, polled every 6 h: the first poll listed them, nothing since
        healths = []
        for _ in range(6):
            await cycle(daemon, clock, hours=6)
            view = status_view(daemon.rt, await daemon.rt.store.overview())
            healths.append(view.sources[0].health.value)
        assert healths == ["ok", "ok", "ok", "ok", "stale", "stale"]
        assert view.sources[0].detail == "stale: nothing new since 2026-03-02 09:00:00 UTC"
        assert gauge(daemon, "stale").endswith(" 1.0")
        feed.items = [*story_items(1, start=10), *feed.items]
        await cycle(daemon, clock, hours=0)
        view = status_view(daemon.rt, await daemon.rt.store.overview())
        assert view.sources[0].health.value == "ok"
    finally:
        await daemon.close()
    assert [note(m) for m in receiver.messages] == [
        "Source 'wire' is stale: no new story for 30.0 h (stale_after 24.0 h). Check that the site "
        "still publishes at this address (it may have moved its feed), or raise stale_after for a slow "
        "source."
    ]
