"""Silent failure is itself an alert: failing sources and stuck alerts produce throttled notices; polling adapts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.clock import FakeClock
from monitor.config import HealthSettings, SourceSettings
from monitor.daemon.health import Problem, find_problems, plan_notices
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.models import MessageKind, OutboxStatus
from monitor.store import repo
from monitor.store.facade import Overview
from tests.support.configs import make_config
from tests.support.feeds import Item, story_items
from tests.support.servers import Feed, Site
from tests.support.store import v1_database


@pytest.fixture
def ops(receiver: Receiver) -> Receiver:
    return receiver


async def test_failing_source_notice_is_sent_once_per_throttle(tmp_path: Path, ops: Receiver) -> None:
    config = make_config(
        tmp_path,
        sources=[{"name": "dead-feed", "feed": "http://127.0.0.1:1/feed.xml"}],
        rules=[{"name": "r", "query": "x"}],
        notifiers={"ops": ops.url},
        allow=["127.0.0.1:1"],
        extra="health: {source_failures: 3, throttle: 1h}\n",
    )
    clock = FakeClock(datetime.now(UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        for _ in range(3):
            results = await daemon.run_once(deliver=False)
            assert results[0].status == "error" and "connect" in (results[0].error or "")
            clock.advance(60)
        state = await daemon.rt.store.source_state("dead-feed")
        assert state is not None and state.failures == 3 and state.failing_since is not None
        assert state.next_poll_at is not None and state.last_poll_at is not None
        assert state.next_poll_at - state.last_poll_at >= 2  # backing off beyond the 1 s interval
        await daemon.health.check()
        await daemon.deliverer.drain_once()
        assert len(ops.messages) == 1 and "dead-feed" in ops.messages[0].body
        await daemon.health.check()  # throttled: no second notice within the hour
        await daemon.deliverer.drain_once()
        assert len(ops.messages) == 1
        clock.advance(3601)
        await daemon.health.check()
        await daemon.deliverer.drain_once()
        assert len(ops.messages) == 2
    finally:
        await daemon.close()


async def test_adaptive_interval_stays_within_bounds(tmp_path: Path, ops: Receiver) -> None:
    from aiohttp import web

    from tests.support.feeds import rss, story_items

    served = {"n": 0}

    async def feed(_: web.Request) -> web.Response:
        served["n"] += 3
        return web.Response(text=rss(story_items(served["n"])), content_type="application/rss+xml")

    server = await Site().start()
    server.route("/f.xml", feed)
    port = server.port
    try:
        config = make_config(
            tmp_path,
            sources=[{"name": "busy", "feed": f"http://127.0.0.1:{port}/f.xml", "full_text": False}],
            rules=[{"name": "r", "query": "nothing-matches-this"}],
            notifiers={"ops": ops.url},
            allow=[f"127.0.0.1:{port}"],
            extra="defaults: {interval: 30m, min_interval: 2m, max_interval: 2h}\n",
        )
        # the source sets no interval of its own: adaptive between 2 min and 2 h
        clock = FakeClock(datetime.now(UTC))
        daemon = Daemon(config, workers=0, clock=clock)
        await daemon.start()
        try:
            for _ in range(5):
                await daemon.run_once(deliver=False)
                clock.advance(120)
            state = await daemon.rt.store.source_state("busy")
        finally:
            await daemon.close()
        assert state is not None and state.next_poll_at is not None
        delay = state.next_poll_at - (clock.timestamp() - 120)
        assert 120 <= delay <= 7200
        assert delay < 1800  # a busy source is polled more often than the default interval
    finally:
        await server.stop()


async def test_gone_source_is_reported_at_once(tmp_path: Path, ops: Receiver) -> None:
    server = await Site().start()
    server.static("/feed.xml", b"gone", status=410)
    try:
        config = make_config(
            tmp_path,
            sources=[{"name": "old-feed", "feed": server.base + "/feed.xml"}],
            rules=[{"name": "r", "query": "x"}],
            notifiers={"ops": ops.url},
            allow=[f"127.0.0.1:{server.port}"],
        )
        clock = FakeClock(datetime.now(UTC))
        daemon = Daemon(config, workers=0, clock=clock)
        await daemon.start()
        try:
            results = await daemon.run_once(deliver=False)
            assert results[0].status == "error" and "410" in (results[0].error or "")
            await daemon.health.check()
            await daemon.deliverer.drain_once()
        finally:
            await daemon.close()
    finally:
        await server.stop()
    assert len(ops.messages) == 1 and "gone (HTTP 410)" in ops.messages[0].body


async def test_a_gone_source_is_told_by_its_stored_status_not_its_error_text(
    tmp_path: Path, ops: Receiver
) -> None:
    # a database written before the status had its column: the upgrade fills it in
    v1_database(tmp_path / "state.db")
    names = ("gone-feed", "busy-feed", "slow-feed", "fine-feed")
    config = make_config(
        tmp_path,
        sources=[{"name": name, "feed": "http://127.0.0.1:1/feed.xml"} for name in names],
        rules=[{"name": "r", "query": "x"}],
        notifiers={"ops": ops.url},
        allow=["127.0.0.1:1"],
    )
    daemon = Daemon(config, workers=0, clock=FakeClock(datetime.now(UTC)))
    await daemon.start()
    try:
        problems = {p.subject: p.text for p in await daemon.health.problems()}
        assert problems["source:gone-feed"].startswith("Source 'gone-feed' is gone (HTTP 410)")
        assert "failed 4 polls" in problems["source:slow-feed"]
        assert "source:busy-feed" not in problems
        gone, busy = (
            await daemon.rt.store.source_state("gone-feed"),
            await daemon.rt.store.source_state("busy-feed"),
        )
        assert gone is not None and busy is not None
        gone.last_error = "http_status: the server says this feed was removed"
        busy.last_error, busy.failures = "http_status: HTTP 410 from a proxy, relayed as 503", 1
        await daemon.rt.store.save_source(gone)
        await daemon.rt.store.save_source(busy)
        problems = {p.subject: p.text for p in await daemon.health.problems()}
        assert problems["source:gone-feed"].startswith("Source 'gone-feed' is gone (HTTP 410)")
        assert "source:busy-feed" not in problems  # its status is 503, whatever the text says
    finally:
        await daemon.close()


async def test_the_http_status_of_a_failed_poll_is_stored_and_cleared_by_success(
    tmp_path: Path, ops: Receiver
) -> None:
    from pytest_httpserver import HTTPServer

    from tests.support.feeds import rss, story_items

    server = HTTPServer()
    server.start()
    server.expect_oneshot_request("/feed.xml").respond_with_data("gone", status=410)
    server.expect_request("/feed.xml").respond_with_data(
        rss(story_items(2)), content_type="application/rss+xml"
    )
    try:
        config = make_config(
            tmp_path,
            sources=[{"name": "back", "feed": server.url_for("/feed.xml").replace("localhost", "127.0.0.1")}],
            rules=[{"name": "r", "query": "nothing-matches-this"}],
            notifiers={"ops": ops.url},
            allow=[f"127.0.0.1:{server.port}"],
        )
        daemon = Daemon(config, workers=0, clock=FakeClock(datetime.now(UTC)))
        await daemon.start()
        try:
            states = []
            for _ in range(2):
                await daemon.run_once(deliver=False)
                states.append(await daemon.rt.store.source_state("back"))
        finally:
            await daemon.close()
    finally:
        server.stop()
    failed, ok = states
    assert failed is not None and (failed.failures, failed.last_http_status) == (1, 410)
    assert ok is not None and (ok.failures, ok.last_http_status, ok.last_error) == (0, None, None)


# ---------------------------------------------------------------------------- the decisions, as tables

SETTINGS = HealthSettings(source_failures=3, pending_after=3600, throttle=3600, empty_after=3, stale_after="2d")
NOW = 1_000_000.0
DAY = 86400.0
#: configured: wire and blog (never stale: its own stale_after is 0), and a disabled one
CONFIGURED = {
    name: SourceSettings.model_validate({"name": name, "feed": f"http://127.0.0.1:1/{name}.xml", **extra})
    for name, extra in (("wire", {}), ("blog", {"stale_after": 0}), ("off", {"enabled": False}))
}
STALE_ADVICE = (
    "Check that the site still publishes at this address (it may have moved its feed), or raise "
    "stale_after for a slow source."
)
BLOCKED = "blocked_address: blocked address 10.0.0.5 for host intra.example (private); add it to allow_networks"


def overview(
    *states: repo.SourceState, oldest: float | None = None, dead: dict[str, int] | None = None
) -> Overview:
    return Overview(
        sources={s.name: s for s in states},
        outbox={OutboxStatus.PENDING: 1} if oldest is not None else {},
        oldest_pending=oldest,
        dead_by_target=dead or {},
    )


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        (overview(), []),
        (overview(repo.SourceState(name="wire", failures=2, last_error="timeout")), []),
        (
            overview(repo.SourceState(name="wire", failures=3, last_error="timeout")),
            [("source:wire", "Source 'wire' has failed 3 polls in a row: timeout", None)],
        ),
        (
            overview(repo.SourceState(name="wire", failures=1, last_http_status=410)),
            [("source:wire", "Source 'wire' is gone (HTTP 410): remove it or change its URL.", None)],
        ),
        # a success clears the failures: a stale 410 says nothing
        (overview(repo.SourceState(name="wire", failures=0, last_http_status=410)), []),
        (overview(repo.SourceState(name="wire", failures=1, last_http_status=503)), []),
        # a source removed from the configuration, or disabled, is not a problem any more
        (overview(repo.SourceState(name="removed", failures=9, last_http_status=410)), []),
        (overview(repo.SourceState(name="off", failures=9, last_http_status=410)), []),
        # the address guard's refusal is a configuration problem: told at once, naming allow_networks
        (
            overview(repo.SourceState(name="wire", failures=1, last_error=BLOCKED, last_error_kind="blocked_address")),
            [
                (
                    "source:wire",
                    f"Source 'wire' is blocked: {BLOCKED}. If it is meant to be reached, such as an "
                    "intranet feed, add it to allow_networks (top level or on the source).",
                    None,
                )
            ],
        ),
        (overview(repo.SourceState(name="wire", empty_polls=2)), []),
        (
            overview(repo.SourceState(name="wire", empty_polls=3)),
            [
                (
                    "source:wire",
                    "Source 'wire' is empty: 3 polls in a row listed no story. For a page, set `links:` "
                    "to a CSS selector of its article links (`newsmonitor test-source wire -v` shows the "
                    "links it rejected and why); for a feed, check that it still lists items.",
                    None,
                )
            ],
        ),
        # a failing source is failing, whatever its listing was before
        (overview(repo.SourceState(name="wire", empty_polls=5, failures=1, last_error="timeout")), []),
        (overview(repo.SourceState(name="wire", primed_at=NOW - 9 * DAY, last_new_story_at=NOW - DAY)), []),
        (
            overview(repo.SourceState(name="wire", primed_at=NOW - 9 * DAY, last_new_story_at=NOW - 3 * DAY)),
            [
                (
                    "source:wire",
                    "Source 'wire' is stale: no new story for 3.0 days (stale_after 2.0 days). " + STALE_ADVICE,
                    None,
                )
            ],
        ),
        # never a new story: counted from the first poll; and blog's own stale_after turns it off
        (
            overview(
                repo.SourceState(name="blog", primed_at=NOW - 9 * DAY),
                repo.SourceState(name="wire", primed_at=NOW - 50 * 3600),
            ),
            [
                (
                    "source:wire",
                    "Source 'wire' is stale: no new story for 2.1 days (stale_after 2.0 days). " + STALE_ADVICE,
                    None,
                )
            ],
        ),
        (overview(oldest=NOW - 3600), []),
        (
            overview(oldest=NOW - 7200),
            [("pending", "An alert has been waiting for delivery for 2.0 h.", None)],
        ),
        (
            overview(
                repo.SourceState(name="blog", failures=4, last_error="HTTP 500"),
                repo.SourceState(name="wire", failures=5, last_error="reset"),
                oldest=NOW - 5400,
                dead={"chat": 2, "mail": 1},
            ),
            [
                ("source:blog", "Source 'blog' has failed 4 polls in a row: HTTP 500", None),
                ("source:wire", "Source 'wire' has failed 5 polls in a row: reset", None),
                ("pending", "An alert has been waiting for delivery for 1.5 h.", None),
                (
                    "dead:chat",
                    "Target 'chat' has 2 undeliverable (dead) alerts; see `newsmonitor outbox`.",
                    "chat",
                ),
                (
                    "dead:mail",
                    "Target 'mail' has 1 undeliverable (dead) alerts; see `newsmonitor outbox`.",
                    "mail",
                ),
            ],
        ),
    ],
)
def test_problems(seen: Overview, expected: list[tuple[str, str, str | None]]) -> None:
    problems = find_problems(seen, CONFIGURED, SETTINGS, NOW)
    assert [(p.subject, p.text, p.concerned) for p in problems] == expected


OPS = ("ops", ["ops-1", "ops-2"])
CHAT = ("chat", ["chat-1"])


@pytest.mark.parametrize(
    ("problems", "last", "targets", "told"),
    [
        ([Problem("pending", "late")], {}, [OPS, CHAT], [("pending", ("ops", "chat"), False)]),
        ([Problem("pending", "late")], {"pending": NOW - 3599}, [OPS, CHAT], []),  # throttled
        (
            [Problem("pending", "late")],
            {"pending": NOW - 3600},
            [OPS, CHAT],
            [("pending", ("ops", "chat"), False)],
        ),
        # a notice about a target goes through the others, or through it alone when there is no other
        ([Problem("dead:chat", "dead", "chat")], {}, [OPS, CHAT], [("dead:chat", ("ops",), False)]),
        ([Problem("dead:chat", "dead", "chat")], {}, [CHAT], [("dead:chat", ("chat",), True)]),
        # no health target: the notice is still recorded (and logged), with no rows
        ([Problem("pending", "late")], {}, [], [("pending", (), False)]),
        # the same subject twice in one pass is told once
        ([Problem("source:a", "x"), Problem("source:a", "y")], {}, [CHAT], [("source:a", ("chat",), False)]),
    ],
)
def test_notices(
    problems: list[Problem],
    last: dict[str, float],
    targets: list[tuple[str, list[str]]],
    told: list[tuple[str, tuple[str, ...], bool]],
) -> None:
    notices = plan_notices(problems, last, now=NOW, throttle=3600, targets=targets)
    assert [(n.subject, n.targets, n.alone) for n in notices] == told
    dests = dict(targets)
    for notice in notices:
        assert [(r.target, r.dest) for r in notice.rows] == [(t, d) for t in notice.targets for d in dests[t]]
        assert all(r.kind is MessageKind.HEALTH and r.urgent and r.due_at == NOW for r in notice.rows)
        assert len({r.key for r in notice.rows}) == len(notice.rows)


# ---------------------------------------------------------------------------- held alerts are not stuck


async def test_alerts_held_for_quiet_hours_or_a_digest_raise_no_stuck_alert_notice(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = Feed(site)
    feed.items = story_items(2)
    port = receiver.port
    config = make_config(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url, "full_text": False}],
        rules=[{"name": "quakes", "query": "earthquake", "notify": ["quiet", "daily"]}],
        notifiers={
            # nothing listens on port 9: once quiet hours end, that alert really is stuck
            "quiet": {"urls": ["json://127.0.0.1:1/hook"], "quiet": "13:00-23:00"},
            "daily": {"urls": [f"json://daily@127.0.0.1:{port}/hook"], "digest": "daily at 08:00"},
            "ops": receiver.url,
        },
        allow=site.allow,
        extra="health: {notify: [ops], pending_after: 1m}\n",
    )
    clock = FakeClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        await daemon.run_once()  # primes
        feed.items = [Item("Earthquake shakes the coast", "http://127.0.0.1/quake", "g-quake"), *feed.items]
        results = await daemon.run_once()
        assert results[0].rows == 2  # one held for quiet hours, one for tomorrow's digest
        for _ in range(8):  # the rest of the quiet hours, health checked on the way
            clock.advance(3600)
            await daemon.health.check()
            await daemon.deliverer.drain_once()
        assert receiver.messages == []
        clock.set(datetime(2026, 3, 2, 23, 5, tzinfo=UTC))  # quiet hours ended 5 min ago
        await daemon.deliverer.drain_once()  # port 9 refuses: the alert stays pending
        await daemon.health.check()
        await daemon.deliverer.drain_once()
    finally:
        await daemon.close()
    # the digest row still waits for 08:00; the quiet one counts from 23:00, not from 14:00
    assert [m.title for m in receiver.messages] == ["newsmonitor: An alert has been waiting for delivery for 5 min."]
