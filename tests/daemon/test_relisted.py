"""A rule limited by ``sources:`` or ``tags:`` runs on a story the first time a source it
accepts lists it, even when another source listed the story first (issue 12, item 7)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from monitor.clock import FakeClock
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.models import OutboxStatus
from monitor.store import repo
from tests.support.configs import make_config
from tests.support.feeds import Item, story_items
from tests.support.servers import Feed, Site

LINK = "http://127.0.0.1/world/storm-coast"
#: the aggregator's entry: the publisher's URL, a line of its own
AGGREGATED = Item("Storm hits the coast", LINK, "agg-1", "Storm hits the coast, reports say.")
#: the publisher's entry for the same story: its own GUID and text
PUBLISHED = Item("Storm hits the coast", LINK, "pub-77", "A storm and a landslide cut the coast road.")


async def test_a_rule_limited_to_the_publisher_alerts_once_when_the_publisher_lists_a_story_seen_elsewhere(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    aggregator, publisher, mirror = Feed(site, "/agg.xml"), Feed(site, "/pub.xml"), Feed(site, "/mirror.xml")
    config = make_config(
        tmp_path,
        sources=[
            {"name": "agg", "feed": aggregator.url, "full_text": False},
            {"name": "pub", "feed": publisher.url, "full_text": False, "tags": ["publisher"]},
            {"name": "mirror", "feed": mirror.url, "full_text": False, "tags": ["publisher"]},
        ],
        rules=[
            {"name": "all-storms", "query": "storm"},
            {"name": "pub-storms", "query": "storm", "sources": ["pub"]},
            # the publisher's text has the word, the aggregator's line has not
            {"name": "landslides", "query": "landslide", "tags": ["publisher"]},
            {"name": "agg-landslides", "query": "landslide", "sources": ["agg"]},
        ],
        notifiers={"chat": receiver.url},
        allow=site.allow,
    )
    clock = FakeClock(datetime.now(UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        for feed in (aggregator, publisher, mirror):
            feed.items = story_items(2)
        await daemon.run_once()  # primes all three
        clock.advance(60)
        aggregator.items = [AGGREGATED, *aggregator.items]
        await daemon.run_once()
        assert sent_rules(daemon) == ["all-storms"]
        clock.advance(60)
        publisher.items = [PUBLISHED, *publisher.items]
        await daemon.run_once()
        assert sent_rules(daemon) == ["all-storms", "landslides", "pub-storms"]
        clock.advance(60)
        # the mirror's tag was the publisher's: its rule ran already; and nothing runs twice
        mirror.items = [PUBLISHED, *mirror.items]
        await daemon.run_once()
        await daemon.run_once()
        assert sent_rules(daemon) == ["all-storms", "landslides", "pub-storms"]
    finally:
        await daemon.close()
    assert len(receiver.messages) == 2  # one message a story and poll: the rules of the publisher's listing together
    assert "landslide" in receiver.messages[1].body


def sent_rules(daemon: Daemon) -> list[str]:
    with daemon.rt.store.database.read() as conn:
        rows = repo.list_outbox(conn, [OutboxStatus.SENT, OutboxStatus.PENDING])
    assert all(row.status is OutboxStatus.SENT for row in rows)
    return sorted(row.rule for row in rows)
