"""Delivery faults: unknown outcomes keep the key (D-2), permanent errors go dead with a notice elsewhere (D-3),
order after an outage (D-1), and the outbox / sources commands."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.clock import FakeClock
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.demo.site import NewsSite
from monitor.demo.stories import STORIES
from monitor.models import OutboxStatus
from monitor.store import repo
from monitor.store.db import Database
from tests.support.configs import make_config

LOCAL = [s for s in STORIES if not s.wire]
ANY = "the OR a OR of OR in OR to OR for"


@pytest.fixture
async def rx() -> AsyncIterator[list[Receiver]]:
    rs = [Receiver(), Receiver()]
    for r in rs:
        await r.start()
    yield rs
    for r in rs:
        await r.stop()


@pytest.fixture
async def site() -> AsyncIterator[NewsSite]:
    s = NewsSite("Outlet", list(LOCAL), host="127.0.0.1")
    await s.start()
    s.publish_next()
    yield s
    await s.stop()


def config_for(tmp_path: Path, site: NewsSite, notifiers: dict[str, Any], extra: str = "") -> Any:
    return make_config(
        tmp_path,
        sources=[{"name": "s", "feed": f"{site.base}/feed.xml", "full_text": False}],
        rules=[{"name": "all", "query": ANY}],
        notifiers=notifiers,
        allow=[f"127.0.0.1:{site.port}"],
        extra=extra,
    )


async def cycle(config: Any, clock: FakeClock) -> Daemon:
    daemon = Daemon(config, workers=0, clock=clock)
    try:
        await daemon.run_once()
    finally:
        await daemon.close()
    return daemon


async def test_unknown_outcome_is_retried_with_the_same_key(
    tmp_path: Path, site: NewsSite, rx: list[Receiver]
) -> None:
    # D-2: the receiver processes the message, then answers after the client's deadline
    receiver = rx[0]
    config = config_for(tmp_path, site, {"chat": receiver.url}, "delivery: {timeout: 1s}\n")
    clock = FakeClock(datetime.now(UTC))
    await cycle(config, clock)
    receiver.respond_after = 2.5
    site.publish_next()
    daemon = await cycle(config, clock)
    assert len(receiver.messages) == 1
    unknown = daemon.rt.metrics.delivery_unknown.labels("chat")._value.get()
    assert unknown == 1
    receiver.respond_after = 0
    clock.advance(30)
    await cycle(config, clock)
    keys = {m.key for m in receiver.messages}
    assert len(receiver.messages) == 2 and len(keys) == 1  # retried once, same idempotency key
    clock.advance(30)
    await cycle(config, clock)
    assert len(receiver.messages) == 2  # marked sent after the retry succeeded


async def test_permanent_error_goes_dead_and_another_target_is_told(
    tmp_path: Path, site: NewsSite, rx: list[Receiver]
) -> None:
    # D-3: 401 is a configuration problem: dead at once, visible, health notice via the other target
    broken, ops = rx
    broken.fail_with = 401
    config = config_for(
        tmp_path,
        site,
        {"broken": broken.url, "ops": ops.url},
        "defaults: {notify: [broken]}\nhealth: {notify: [broken, ops]}\n",
    )
    clock = FakeClock(datetime.now(UTC))
    await cycle(config, clock)
    site.publish_next()
    await cycle(config, clock)
    assert broken.attempts == 1
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    try:
        with daemon.rt.store.database.read() as conn:
            dead = repo.list_outbox(conn, [OutboxStatus.DEAD])
        assert len(dead) == 1 and "HTTP 401" in dead[0].last_error
        await daemon.health.check()
        await daemon.deliverer.drain_once()
    finally:
        await daemon.close()
    assert len(ops.messages) == 1
    assert "broken" in ops.messages[0].body and "dead" in ops.messages[0].body
    assert broken.attempts == 1  # the notice about 'broken' did not go through 'broken' alone


async def test_delivery_resumes_in_order_after_outage(
    tmp_path: Path, site: NewsSite, rx: list[Receiver]
) -> None:
    receiver = rx[0]
    config = config_for(tmp_path, site, {"chat": receiver.url})
    clock = FakeClock(datetime.now(UTC))
    await cycle(config, clock)
    receiver.fail_with = 503
    titles = []
    for _ in range(5):
        titles.append(site.publish_next().title)  # type: ignore[union-attr]
        clock.advance(2)
        await cycle(config, clock)
    outage_attempts = receiver.attempts
    assert outage_attempts < 10  # backoff, not one attempt per message per pass
    receiver.fail_with = None
    for _ in range(3):
        clock.advance(60)
        await cycle(config, clock)
    got = [next(t for t in titles if t in m.title) for m in receiver.messages]
    assert got == titles


def outbox_rows(config: Any) -> list[repo.OutboxEntry]:
    db = Database(config.database_url)
    try:
        with db.read() as conn:
            return repo.list_outbox(conn, list(OutboxStatus))
    finally:
        db.close()


async def test_every_send_is_a_try_and_only_failures_on_its_own_count_towards_poison(
    tmp_path: Path, site: NewsSite, rx: list[Receiver]
) -> None:
    receiver = rx[0]
    config = config_for(tmp_path, site, {"chat": receiver.url})
    clock = FakeClock(datetime.now(UTC))
    await cycle(config, clock)
    receiver.fail_with = 503  # the destination is down: its sends fail, not the message
    site.publish_next()
    await cycle(config, clock)
    clock.advance(60)
    await cycle(config, clock)
    (row,) = outbox_rows(config)
    assert (row.status, row.attempts, row.solo_failures) == (OutboxStatus.PENDING, 2, 0)
    assert receiver.attempts == 2
    receiver.fail_with = None
    clock.advance(60)
    await cycle(config, clock)
    (row,) = outbox_rows(config)
    assert (row.status, row.attempts, row.solo_failures) == (OutboxStatus.SENT, 3, 0)
    assert receiver.attempts == 3


async def test_outbox_and_sources_commands(tmp_path: Path, site: NewsSite, rx: list[Receiver]) -> None:
    receiver = rx[0]
    receiver.fail_with = 404
    config = config_for(tmp_path, site, {"chat": receiver.url})
    clock = FakeClock(datetime.now(UTC))
    await cycle(config, clock)
    site.publish_next()
    await cycle(config, clock)
    import yaml

    cfg_file = tmp_path / "nm.yaml"
    data = {
        "database": config.database_url,
        "allow_networks": [f"127.0.0.1:{site.port}"],
        "notifiers": {"chat": receiver.url},
        "sources": [{"name": "s", "feed": f"{site.base}/feed.xml"}],
        "rules": [{"name": "all", "query": ANY}],
    }
    cfg_file.write_text(yaml.safe_dump(data))
    runner = CliRunner()
    listed = runner.invoke(main, ["outbox", "--config", str(cfg_file)])
    assert listed.exit_code == 0, listed.output
    assert "dead" in listed.output and "HTTP 404" in listed.output and "1 rows" in listed.output
    (dead,) = [line for line in listed.output.splitlines() if " dead " in line]
    assert dead.split()[4:7] == ["1", "-", "-"]  # tried once; it waits for nothing (retry requeues it)
    retried = runner.invoke(main, ["outbox", "retry", "--all-dead", "--config", str(cfg_file)])
    assert retried.exit_code == 0 and "requeued 1 row" in retried.output
    receiver.fail_with = None
    await cycle(config, FakeClock(datetime.now(UTC)))
    assert len(receiver.messages) == 1
    sources = runner.invoke(main, ["sources", "--config", str(cfg_file)])
    assert sources.exit_code == 0
    assert "s " in sources.output and "ok" in sources.output
