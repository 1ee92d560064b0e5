"""Issue 12: a slow or silent receiver and a throttling service get what they ask for, not a copy per retry.

Each test runs the daemon's own delivery rounds on a fake clock against a real receiver:
``delivery.timeout`` governs the send (not apprise's 4 s read timeout), a send with no
answer is retried on a slower schedule and a bounded number of times, and a 429's
``Retry-After`` holds the next attempt back.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.clock import FakeClock
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.models import OutboxStatus
from monitor.store import repo
from tests.support.configs import make_config
from tests.support.feeds import story_items
from tests.support.servers import Feed, Site


async def one_alert_due(tmp_path: Path, site: Site, receiver: Receiver, delivery: str) -> tuple[Daemon, FakeClock]:
    """A started daemon on a fake clock with one alert due for ``receiver``; ``delivery`` is its delivery settings."""
    feed = Feed(site)
    config = make_config(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url, "full_text": False}],
        rules=[{"name": "all", "query": "story"}],
        notifiers={"chat": receiver.url},
        allow=site.allow,
        extra=f"delivery: {delivery}\n",
        write=True,  # for the outbox command
    )
    clock = FakeClock(datetime.now(UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.run_once()
    feed.items = story_items(1)
    await daemon.run_once(deliver=False)
    return daemon, clock


def the_row(daemon: Daemon) -> repo.OutboxEntry:
    with daemon.rt.store.database.read() as conn:
        (row,) = repo.list_outbox(conn, list(OutboxStatus))
    return row


async def test_a_receiver_slower_than_apprises_read_timeout_gets_one_copy_and_it_is_marked_sent(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # the report: a receiver answering 200 after 6 s got 5 copies in 90 s, never marked sent
    daemon, clock = await one_alert_due(tmp_path, site, receiver, "{timeout: 8s, retry_base: 1s, retry_cap: 4s}")
    try:
        receiver.respond_after = 4.5  # past apprise's 4 s default, within delivery.timeout
        await daemon.deliverer.drain_once()
        for _ in range(3):
            clock.advance(10)
            await daemon.deliverer.drain_once()
        assert len(receiver.messages) == 1
        assert the_row(daemon).status is OutboxStatus.SENT
    finally:
        await daemon.close()


async def test_a_receiver_that_never_answers_gets_a_bounded_number_of_copies(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    # the report: one that never answers got 4-6 copies a minute, ~170 before dead_after
    daemon, clock = await one_alert_due(
        tmp_path, site, receiver, "{timeout: 0.5s, retry_base: 1s, retry_cap: 4s}"  # unknown_attempts: 3
    )
    try:
        receiver.respond_after = 3600
        await daemon.deliverer.drain_once()
        for _ in range(30):  # five minutes, a round every 10 s
            clock.advance(10)
            await daemon.deliverer.drain_once()
        assert Counter(m.key for m in receiver.messages).most_common(1)[0][1] == 3
        row = the_row(daemon)
        assert (row.status, row.unknowns, row.attempts) == (OutboxStatus.DEAD, 3, 3)
        assert row.last_error is not None and row.last_error.startswith("no answer to 3 sends")
        assert daemon.rt.metrics.delivery_unknown.labels("chat")._value.get() == 3
    finally:
        await daemon.close()


@pytest.mark.parametrize(("status", "retry_after"), [(429, "300"), (503, "300")])
async def test_a_throttled_service_is_not_asked_again_before_its_retry_after(
    tmp_path: Path, site: Site, receiver: Receiver, status: int, retry_after: str
) -> None:
    # the report: retried every 60 s when asked for 300
    daemon, clock = await one_alert_due(tmp_path, site, receiver, "{retry_base: 1s, retry_cap: 4s}")
    try:
        receiver.fail_with, receiver.retry_after = status, retry_after
        await daemon.deliverer.drain_once()
        assert receiver.attempts == 1
        for _ in range(9):  # 297 s
            clock.advance(33)
            await daemon.deliverer.drain_once()
        assert receiver.attempts == 1
        receiver.fail_with = None
        clock.advance(4)
        await daemon.deliverer.drain_once()
        assert receiver.attempts == 2 and len(receiver.messages) == 1
        assert the_row(daemon).status is OutboxStatus.SENT
    finally:
        await daemon.close()


async def test_the_outbox_command_shows_a_send_with_no_answer(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    daemon, _clock = await one_alert_due(tmp_path, site, receiver, "{timeout: 0.5s, retry_base: 1s}")
    try:
        receiver.respond_after = 3600
        await daemon.deliverer.drain_once()
    finally:
        await daemon.close()
    listed = CliRunner().invoke(main, ["outbox", "--config", daemon.config.path])
    assert listed.exit_code == 0, listed.output
    (line,) = [line for line in listed.output.splitlines() if " pending " in line]
    assert "no answer, again at" in line and "outcome unknown" in line
