"""Syndication across instances sharing one PostgreSQL database: two copies of a wire story,
polled by two instances from two outlets and recorded at the same moment, are one cluster
and one alert that names both outlets; an instance started afresh finds the earlier copy
through the database.

Two in-process daemons on the real PostgreSQL, two local feeds and a real apprise
``json://`` receiver. The race is made real: each round, both daemons' recording
transactions wait for each other (an asyncio barrier in front of ``record_poll``) and then
run at once, each on its own database thread and connection. The wire stories are real
article texts (the shared corpus' ground truth), each outlet publishing its own edit.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from monitor.clock import FakeClock
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.identity.clusters import words
from monitor.models import MessageKind
from monitor.store.schema import lsh_bands, outbox, stories
from tests.support.configs import make_config
from tests.support.feeds import Item
from tests.support.paths import need_corpus
from tests.support.servers import Feed, Site

ROUNDS = 6
OUTLETS = ("Harbour Times", "Coast Post")


def wire_stories(n: int) -> list[tuple[str, str]]:
    """``n`` (title, text) of real English articles long enough to cluster on their text, seeded."""
    rows = [json.loads(line) for line in need_corpus("articles", "index.jsonl").open(encoding="utf-8")]
    rows = [
        r for r in rows
        if r["set"] == "scrapinghub-aeb" and 250 <= len(words(r["ground_truth"])) <= 1500 and " the " in r["ground_truth"]
    ]
    return [(r["title"] or r["url"], r["ground_truth"]) for r in random.Random(16).sample(rows, n)]


def edits(title: str, text: str, n: int) -> list[Item]:
    """The two outlets' copies of round ``n``'s wire story. Even rounds: the same headline
    (one title key); odd rounds: each outlet writes its own headline, so only the texts
    can tell (the text bands). The texts differ as two sites' templates make them."""
    paras = [p for p in text.split("\n") if p.strip()]
    first = "AFP - " + "\n\n".join(paras) + "\n\n\u00a9 2026 AFP. All rights reserved."
    second = "By Staff | Wire\n\n" + "\n\nAdvertisement\n\n".join(paras[:-1] or paras) + "\n\nRead more: latest news"
    titles = (title, title) if n % 2 == 0 else (f"Round {n}: {title}", f"What we learned today, part {n}")
    return [
        Item(titles[0], f"http://127.0.0.1/harbour/{n}", guid=f"harbour-{n}", description=first),
        Item(titles[1], f"http://127.0.0.1/coast/{n}", guid=f"coast-{n}", description=second),
    ]


def race(daemons: list[Daemon]) -> None:
    """Make each daemon's recording transactions start together: a poll that records waits
    at a barrier until the other daemon's poll is about to record too."""
    barrier = asyncio.Barrier(len(daemons))
    for daemon in daemons:
        daemon.rt.store.record_poll = _after(barrier, daemon.rt.store.record_poll)  # type: ignore[method-assign]


def _after(barrier: asyncio.Barrier, record: Callable[..., Awaitable[list[int]]]) -> Callable[..., Awaitable[list[int]]]:
    async def at_once(*args: Any, **kwargs: Any) -> list[int]:
        await barrier.wait()
        return await record(*args, **kwargs)

    return at_once


def config_for(tmp_path: Path, postgres_url: str, feeds: list[Feed], receiver: Receiver) -> Any:
    return make_config(
        tmp_path,
        sources=[
            {"name": f"outlet-{i}", "outlet": OUTLETS[i], "feed": feed.url, "full_text": False}
            for i, feed in enumerate(feeds)
        ],
        rules=[{"name": "all", "query": "the OR a OR of"}],
        notifiers={"chat": receiver.url},
        allow=["127.0.0.0/8"],
        extra=f"database: {postgres_url}\ndefaults: {{interval: 60s}}",
    )


async def test_copies_recorded_by_two_instances_at_once_make_one_cluster_and_one_alert(
    tmp_path: Path, postgres_url: str, site: Site, receiver: Receiver
) -> None:
    feeds = [Feed(site, "/harbour.xml"), Feed(site, "/coast.xml")]
    for i, feed in enumerate(feeds):
        feed.items = [Item(f"An old story of outlet {i}", f"http://127.0.0.1/old/{i}", guid=f"old-{i}")]
    config = config_for(tmp_path, postgres_url, feeds, receiver)
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    daemons = [Daemon(config, workers=0, clock=clock) for _ in range(2)]
    try:
        for daemon in daemons:
            await daemon.start()
        await daemons[0]._poll_job("outlet-0")  # the first polls prime: nothing alerts
        await daemons[1]._poll_job("outlet-1")
        race(daemons)
        for n, (title, text) in enumerate(wire_stories(ROUNDS)):
            copies = edits(title, text, n)
            for feed, copy in zip(feeds, copies, strict=True):
                feed.items.insert(0, copy)
            clock.advance(61)
            # instance 0 polls one outlet, instance 1 the other; they record at the same moment
            await asyncio.gather(daemons[0]._poll_job("outlet-0"), daemons[1]._poll_job("outlet-1"))
        with daemons[0].rt.store.database.read() as conn:
            recorded = conn.execute(
                select(stories.c.url, stories.c.cluster).where(stories.c.url.like("http://127.0.0.1/%/%"))
            ).all()
            alerts = conn.execute(
                select(outbox.c.cluster, func.count()).where(outbox.c.kind == MessageKind.ALERT).group_by(outbox.c.cluster)
            ).all()
            indexed = conn.execute(select(func.count(func.distinct(lsh_bands.c.story_id)))).scalar()
        by_round: dict[str, set[str]] = {}
        for url, cluster in recorded:
            if "/old/" not in url:
                by_round.setdefault(url.rsplit("/", 1)[1], set()).add(cluster)
        assert len(by_round) == ROUNDS and all(len(c) == 1 for c in by_round.values()), by_round
        assert len({next(iter(c)) for c in by_round.values()}) == ROUNDS  # different stories stay apart
        assert sorted(n for _, n in alerts) == [1] * ROUNDS  # one alert row per cluster
        assert indexed == 2 * ROUNDS  # every new story's band keys (the primed ones have no title key)
        await daemons[0].deliverer.drain_once()
        messages = receiver.messages
        assert len(messages) == ROUNDS, [m.title for m in messages]
        for message in messages:
            assert all(outlet in message.body for outlet in OUTLETS), message.body
    finally:
        for daemon in daemons:
            await daemon.close()


async def test_an_instance_started_afresh_finds_the_earlier_copy_in_the_database(
    tmp_path: Path, postgres_url: str, site: Site, receiver: Receiver
) -> None:
    feeds = [Feed(site, "/harbour.xml"), Feed(site, "/coast.xml")]
    config = config_for(tmp_path, postgres_url, feeds, receiver)
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    (title, text), = wire_stories(1)
    harbour, coast = edits(title, text, 1)  # different headlines: found by its text
    first = Daemon(config, workers=0, clock=clock)
    try:
        await first.start()
        await first._poll_job("outlet-0")
        await first._poll_job("outlet-1")  # both primed on empty feeds
        feeds[0].items = [harbour]
        clock.advance(61)
        await first._poll_job("outlet-0")
    finally:
        await first.close()
    feeds[1].items = [coast]
    clock.advance(600)
    fresh = Daemon(config, workers=0, clock=clock)  # nothing in memory: a new process
    try:
        await fresh.start()
        await fresh._poll_job("outlet-1")
        with fresh.rt.store.database.read() as conn:
            ids, clusters = zip(*conn.execute(select(stories.c.id, stories.c.cluster)).all(), strict=True)
        assert len(clusters) == 2 and len(set(clusters)) == 1
        await fresh.deliverer.drain_once()
        assert len(receiver.messages) == 1
        assert all(outlet in receiver.messages[0].body for outlet in OUTLETS)
        # the index forgets the copies when the clustering window (48 h) has passed them
        clock.advance(48 * 3600 - 599)  # the first copy was recorded 600 s before the second
        await fresh._prune()
        with fresh.rt.store.database.read() as conn:
            left = conn.execute(select(lsh_bands.c.story_id).distinct()).scalars().all()
        assert left == [max(ids)]  # the later copy's rows only
        clock.advance(600)
        await fresh._prune()
        with fresh.rt.store.database.read() as conn:
            assert conn.execute(select(func.count()).select_from(lsh_bands)).scalar() == 0
    finally:
        await fresh.close()
