"""Delivery people can live with: routing, syndication clusters, digests, quiet hours, throttle, outages, poison."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.clock import FakeClock
from monitor.config import DeliverySettings, SourceSettings
from monitor.daemon.batches import outlet_names
from monitor.daemon.retries import FailedSend, plan_failure
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.demo.site import NewsSite
from monitor.demo.stories import STORIES
from monitor.models import OutboxStatus
from monitor.notify.deliver import Outcome, SendResult
from monitor.store import repo
from tests.support.configs import make_config
from tests.support.feeds import story_items
from tests.support.servers import Feed, Site
from tests.support.smtp import SMTPBox
from tests.support.store import outbox_entry

WIRE = next(s for s in STORIES if s.wire)
LOCAL = [s for s in STORIES if not s.wire]


@pytest.fixture
async def receivers() -> AsyncIterator[list[Receiver]]:
    rs = [Receiver() for _ in range(3)]
    for r in rs:
        await r.start()
    yield rs
    for r in rs:
        await r.stop()


async def sites(n: int, first_host: int = 2) -> list[NewsSite]:
    out = []
    for i in range(n):
        site = NewsSite(
            f"Outlet {i}",
            [*LOCAL[:2], WIRE, *LOCAL[2 + i : 3 + i]],
            style=i,
            host=f"127.0.0.{first_host + i}",
        )
        await site.start()
        out.append(site)
    return out


async def cycle(config: Any, clock: FakeClock, *, deliver: bool = True) -> Daemon:
    daemon = Daemon(config, workers=0, clock=clock)
    try:
        await daemon.run_once(deliver=deliver)
    finally:
        await daemon.close()
    return daemon


async def test_five_syndicated_copies_make_one_alert(tmp_path: Path, receivers: list[Receiver]) -> None:
    outlets = await sites(5)
    try:
        for site in outlets:
            site.publish_next()
            site.publish_next()
        config = make_config(
            tmp_path,
            sources=[
                {"name": f"outlet-{i}", "outlet": s.name, "page": f"{s.base}/world/"}
                for i, s in enumerate(outlets)
            ],
            rules=[{"name": "rare-earths", "query": '"rare earths"'}],
            notifiers={"chat": receivers[0].url},
            allow=["127.0.0.0/8"],
        )
        clock = FakeClock(datetime.now(UTC))
        await cycle(config, clock)
        assert receivers[0].messages == []
        for site in outlets:
            site.publish_next()  # the wire story, each in its own template
        await cycle(config, clock)
        messages = receivers[0].messages
        assert len(messages) == 1, [m.title for m in messages]
        body = messages[0].body
        named = [s.name for s in outlets if s.name in body]
        assert len(named) >= 4, body  # the alert lists the other outlets
        clock.advance(60)
        await cycle(config, clock)
        assert len(receivers[0].messages) == 1
    finally:
        for site in outlets:
            await site.stop()


async def test_different_stories_do_not_merge(tmp_path: Path, receivers: list[Receiver]) -> None:
    (site,) = await sites(1)
    try:
        site.stories = [LOCAL[0], LOCAL[1], LOCAL[4], LOCAL[7]]
        site.publish_next()
        config = make_config(
            tmp_path,
            sources=[{"name": "s", "page": f"{site.base}/world/"}],
            rules=[{"name": "any", "query": "said OR announced OR officials"}],
            notifiers={"chat": receivers[0].url},
            allow=["127.0.0.0/8"],
        )
        clock = FakeClock(datetime.now(UTC))
        await cycle(config, clock)
        for _ in range(3):
            site.publish_next()
        await cycle(config, clock)
        assert len(receivers[0].messages) == 3
    finally:
        await site.stop()


async def _one_story_setup(
    tmp_path: Path,
    receivers: list[Receiver],
    extra: str = "",
    notifiers: dict[str, Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
) -> tuple[NewsSite, Any]:
    (site,) = await sites(1)
    site.stories = [*LOCAL]
    site.publish_next()
    config = make_config(
        tmp_path,
        sources=[{"name": "s", "feed": f"{site.base}/feed.xml", "full_text": False}],
        rules=rules or [{"name": "all", "query": "the OR a OR of OR in OR to OR for"}],
        notifiers=notifiers or {"chat": receivers[0].url},
        allow=["127.0.0.0/8"],
        extra=extra,
    )
    return site, config


async def test_one_target_down_does_not_delay_or_resend_others(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    # D-6: one story, three targets; B is down; A and C once now, B once after recovery
    a, b, c = receivers
    site, config = await _one_story_setup(tmp_path, receivers, notifiers={"a": a.url, "b": b.url, "c": c.url})
    try:
        clock = FakeClock(datetime.now(UTC))
        await cycle(config, clock)
        b.fail_with = 500
        site.publish_next()
        await cycle(config, clock)
        assert (len(a.messages), len(b.messages), len(c.messages)) == (1, 0, 1)
        for _ in range(3):
            clock.advance(30)
            await cycle(config, clock)
        b.fail_with = None
        clock.advance(30)
        await cycle(config, clock)
        assert (len(a.messages), len(b.messages), len(c.messages)) == (1, 1, 1)
        assert b.attempts >= 2
    finally:
        await site.stop()


async def test_digest_collects_matches_into_one_message(tmp_path: Path, receivers: list[Receiver]) -> None:
    site, config = await _one_story_setup(
        tmp_path, receivers, notifiers={"chat": {"urls": [receivers[0].url], "digest": "hourly"}}
    )
    try:
        clock = FakeClock(datetime(2026, 3, 2, 10, 5, tzinfo=UTC))
        await cycle(config, clock)
        for _ in range(3):
            site.publish_next()
            clock.advance(60)
            await cycle(config, clock)
        assert receivers[0].messages == []  # held for the digest
        clock.set(datetime(2026, 3, 2, 11, 0, 1, tzinfo=UTC))
        await cycle(config, clock)
        assert len(receivers[0].messages) == 1
        body = receivers[0].messages[0].body
        titles = [p.story.title for p in site.published[1:]]
        assert all(t in body for t in titles)
        # newest first
        positions = [body.index(t) for t in titles]
        assert positions == sorted(positions, reverse=True)
    finally:
        await site.stop()


async def test_quiet_hours_hold_then_send_one_digest_and_urgent_bypasses(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    notifiers = {"chat": {"urls": [receivers[0].url], "quiet": "22:00-07:00 Africa/Nairobi"}}
    rules = [
        {"name": "all", "query": "the OR a OR of OR in OR to OR for"},
        {"name": "flood-urgent", "query": "flood*", "urgent": True},
    ]
    site, config = await _one_story_setup(tmp_path, receivers, notifiers=notifiers, rules=rules)
    try:
        # 23:00 in Nairobi (UTC+3) is 20:00 UTC
        clock = FakeClock(datetime(2026, 3, 2, 20, 0, tzinfo=UTC))
        await cycle(config, clock)
        site.stories = [site.stories[0], LOCAL[1], LOCAL[2], LOCAL[5]]  # LOCAL[5] is the flood story
        for _ in range(3):
            site.publish_next()
        await cycle(config, clock)
        urgent = [m for m in receivers[0].messages if "flood" in (m.title + m.body).lower()]
        assert len(urgent) == 1  # the urgent rule is not held
        held = len(receivers[0].messages)
        clock.set(datetime(2026, 3, 3, 4, 0, 1, tzinfo=UTC))  # 07:00:01 Nairobi
        await cycle(config, clock)
        after = receivers[0].messages[held:]
        assert len(after) == 1  # several held alerts come as one digest
        assert LOCAL[1].title in after[0].body and LOCAL[2].title in after[0].body
    finally:
        await site.stop()


async def test_throttle_folds_excess_into_one_later_message(
    tmp_path: Path, receivers: list[Receiver]
) -> None:
    site, config = await _one_story_setup(
        tmp_path, receivers, notifiers={"chat": {"urls": [receivers[0].url], "max_per_hour": 2}}
    )
    try:
        clock = FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        await cycle(config, clock)
        for _ in range(6):
            site.publish_next()
            clock.advance(5)
            await cycle(config, clock)
        assert len(receivers[0].messages) == 2
        clock.advance(3600)
        await cycle(config, clock)
        assert len(receivers[0].messages) == 3
        folded = receivers[0].messages[2].body
        assert sum(p.story.title in folded for p in site.published[3:]) == 4  # nothing dropped
    finally:
        await site.stop()


async def test_max_per_hour_holds_inside_one_delivery_round(tmp_path: Path, receivers: list[Receiver]) -> None:
    # five matching stories in ONE poll: two messages now, the other three as one digest an hour later
    rx = receivers[0]
    site, config = await _one_story_setup(
        tmp_path, receivers, notifiers={"chat": {"urls": [rx.url], "max_per_hour": 2}}
    )
    try:
        clock = FakeClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        await cycle(config, clock)
        for _ in range(5):
            site.publish_next()
        await cycle(config, clock)
        titles = {p.story.title for p in site.published[1:]}
        first = {m.title.split(": ", 1)[1] for m in rx.messages}
        assert len(rx.messages) == 2 and first < titles
        clock.advance(3599)
        await cycle(config, clock)
        assert len(rx.messages) == 2  # the window has not freed up yet
        clock.advance(1)
        await cycle(config, clock)
        assert len(rx.messages) == 3
        digest = rx.messages[2]
        assert digest.title.startswith("newsmonitor digest: 3 stories")
        assert all(t in digest.body for t in titles - first)
    finally:
        await site.stop()


async def test_poison_message_is_set_aside(tmp_path: Path, receivers: list[Receiver]) -> None:
    site, config = await _one_story_setup(
        tmp_path, receivers, extra="delivery: {retry_base: 1s, retry_cap: 2s, poison_attempts: 2}\n"
    )
    rx = receivers[0]
    rx.reject = lambda data: (
        413 if "Chipmakers" in str(data.get("title", "")) + str(data.get("message", "")) else None
    )
    try:
        clock = FakeClock(datetime.now(UTC))
        site.stories = [
            LOCAL[0],
            LOCAL[3],
            LOCAL[1],
            LOCAL[2],
            LOCAL[4],
        ]  # LOCAL[3], the chip story, is poison
        await cycle(config, clock)
        for _ in range(4):
            site.publish_next()
        for _ in range(5):
            await cycle(config, clock)
            clock.advance(5)
        good = [m for m in rx.messages if "Chipmakers" not in m.title + m.body]
        assert len(good) == 3
        daemon = Daemon(config, workers=0, clock=clock)
        with daemon.rt.store.database.read() as conn:
            dead = repo.list_outbox(conn, [OutboxStatus.DEAD])
        await daemon.close()
        assert len(dead) == 1 and "poison" in (dead[0].last_error or "")
    finally:
        await site.stop()


async def test_daily_digest_once_per_local_day_across_dst(tmp_path: Path, receivers: list[Receiver]) -> None:
    # Europe/Berlin leaves summer time on 2026-10-25: exactly one digest per local day at 08:00
    notifiers = {
        "chat": {"urls": [receivers[0].url], "digest": "daily at 08:00", "timezone": "Europe/Berlin"}
    }
    site, config = await _one_story_setup(tmp_path, receivers, notifiers=notifiers)
    try:
        site.stories = [site.stories[0], *[LOCAL[i % len(LOCAL)] for i in range(1, 4)]]
        clock = FakeClock(datetime(2026, 10, 23, 20, 0, tzinfo=UTC))
        await cycle(config, clock)
        sent_days = []
        for step in range(3 * 12):  # three days in 2-hour steps
            if step % 12 == 1 and len(site.published) < len(site.stories):
                site.publish_next()  # one new story each day, in the evening
            before = len(receivers[0].messages)
            await cycle(config, clock)
            if len(receivers[0].messages) > before:
                sent_days.append(clock.now().astimezone(ZoneInfo("Europe/Berlin")).date())
            clock.advance(2 * 3600)
        assert len(sent_days) == len(set(sent_days)) == 3, sent_days
    finally:
        await site.stop()


async def test_rule_digest_while_the_target_is_immediate(tmp_path: Path, receivers: list[Receiver]) -> None:
    rules = [
        {"name": "now", "query": "flood*"},
        {"name": "later", "query": "the OR a OR of", "digest": "hourly"},
    ]
    site, config = await _one_story_setup(tmp_path, receivers, rules=rules)
    try:
        clock = FakeClock(datetime(2026, 3, 2, 10, 5, tzinfo=UTC))
        await cycle(config, clock)
        site.stories = [site.stories[0], LOCAL[5], LOCAL[1]]  # flood story, then a bank story
        site.publish_next()
        site.publish_next()
        await cycle(config, clock)
        immediate = [m for m in receivers[0].messages if "now" in m.title]
        assert len(immediate) == 1 and len(receivers[0].messages) == 1
        clock.set(datetime(2026, 3, 2, 11, 0, 1, tzinfo=UTC))
        await cycle(config, clock)
        assert len(receivers[0].messages) == 2
        assert LOCAL[1].title in receivers[0].messages[1].body
    finally:
        await site.stop()


async def test_an_email_alert_links_the_article_in_its_plain_text_too(
    tmp_path: Path, site: Site, smtp: SMTPBox
) -> None:
    # mail readers that show the plain part (or filters and screen readers that read it) need the link
    feed = Feed(site)
    feed.items = story_items(1, words="tariffs")
    config = make_config(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url, "full_text": False}],
        rules=[{"name": "tariffs", "query": "tariffs"}],
        notifiers={"mail": smtp.url},
        allow=site.allow,
    )
    clock = FakeClock(datetime.now(UTC))
    await cycle(config, clock)
    feed.items = story_items(1, start=1, words="tariffs") + feed.items
    await cycle(config, clock)
    (mail,) = smtp.messages
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()}
    link = feed.items[0].link
    assert f'href="{link}"' in parts["text/html"]
    assert link in parts["text/plain"], parts["text/plain"]


# ---------------------------------------------------------------------------- the failure policy


class NoJitter(random.Random):
    """Backoff without its random spread, so a table states exact delays."""

    def uniform(self, a: float, b: float) -> float:
        return 0.0


POLICY = DeliverySettings(retry_base=30, retry_cap=3600, dead_after=86400, poison_attempts=3)
NOW = 1_000_000.0


@pytest.mark.parametrize(
    ("failures", "individual", "solo_failures", "failing_for", "status", "retry_in", "dead", "blocked"),
    [
        # the destination is down: it backs off as a whole, the rows' attempts do not count
        (0, False, 0, 0, None, 30, None, 1),
        (2, False, 0, 600, 503, 120, None, 3),
        (9, False, 0, 600, None, 3600, None, 10),  # capped at retry_cap
        (0, False, 0, 0, 429, 60, None, 1),  # a rate limit waits at least a minute
        (0, False, 0, 86400, None, 30, "failing for longer than dead_after: ", 1),
        # the message fails on its own: only its rows wait, the destination goes on
        (0, True, 2, 0, 413, 60, None, None),
        (4, True, 2, 0, 413, 240, None, None),  # the destination's own failures still count
        (0, True, 3, 0, 413, 120, "poison: failed 3 times while other messages went through: ", None),
        (0, True, 3, 86400, 413, 120, "poison: failed 3 times", None),  # poison is named first
    ],
)
def test_failure_policy(
    failures: int,
    individual: bool,
    solo_failures: int,
    failing_for: float,
    status: int | None,
    retry_in: float,
    dead: str | None,
    blocked: int | None,
) -> None:
    state = repo.DestinationState(dest="d", target="old-name", failures=failures, last_success_at=5.0)
    failed = FailedSend(
        target="chat",
        error="HTTP error",
        status=status,
        now=NOW,
        individual=individual,
        solo_failures=solo_failures,
        first_failed=NOW - failing_for,
    )
    plan = plan_failure(state, failed, POLICY, NoJitter())
    assert (plan.error, plan.retry_at, plan.solo) == ("HTTP error", NOW + retry_in, individual)
    if dead is None:
        assert plan.dead_reason is None
    else:
        assert plan.dead_reason is not None and plan.dead_reason.startswith(dead)
        assert plan.dead_reason.endswith("HTTP error")
    if blocked is None:
        assert plan.destination is None
    else:
        assert plan.destination == repo.DestinationState(
            dest="d",
            target="chat",
            failures=blocked,
            blocked_until=NOW + retry_in,
            last_success_at=5.0,
            last_error="HTTP error",
        )
    assert failed.is_poison(POLICY) == (dead is not None and dead.startswith("poison"))


def entry(solo_failures: int, first_failed_at: float | None) -> repo.OutboxEntry:
    return outbox_entry(
        key="k",
        # tries while the destination was down do not count towards poison
        attempts=solo_failures + 2,
        first_failed_at=first_failed_at,
        solo_failures=solo_failures,
    )


@pytest.mark.parametrize(
    ("individual", "result", "solo_failures", "first_failed", "error"),
    [
        (True, SendResult(Outcome.RETRY, "HTTP 413", 413), 4, 50.0, "HTTP 413"),
        (False, SendResult(Outcome.UNKNOWN), 3, 50.0, "unknown"),
    ],
)
def test_a_failed_send_of_a_batch(
    individual: bool, result: SendResult, solo_failures: int, first_failed: float, error: str
) -> None:
    failed = FailedSend.of([entry(1, None), entry(3, 50.0), entry(0, 80.0)], result, 100.0, individual)
    assert (failed.target, failed.solo_failures, failed.first_failed, failed.error) == (
        "chat",
        solo_failures,
        first_failed,
        error,
    )
    assert (failed.status, failed.now, failed.individual) == (result.status, 100.0, individual)


def test_outlet_names_each_once_in_order() -> None:
    configured = {
        name: SourceSettings.model_validate(
            {"name": name, "feed": "http://127.0.0.1:1/f.xml", "outlet": outlet}
        )
        for name, outlet in (("wire-a", "Wire"), ("wire-b", "Wire"), ("local", None))
    }
    found = ["local", "wire-a", "removed", "wire-b", "local"]
    assert outlet_names(found, configured) == ["local", "Wire", "removed"]
