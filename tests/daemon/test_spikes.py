"""Spike rules: one alert when a rule suddenly matches far more stories than it usually does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from monitor.clock import FakeClock
from monitor.config import Config, SpikeSettings, load_config
from monitor.daemon.runtime import enabled_rules, spike_rules
from monitor.daemon.service import SPIKE_JOB, Daemon
from monitor.daemon.spikes import check_interval, learning_span, spiking, usual
from monitor.demo.receiver import Receiver
from monitor.errors import ConfigError
from monitor.models import MessageKind
from monitor.store import history
from monitor.store.db import Database
from monitor.store.history import SpikeCounts
from monitor.store.schema import outbox
from tests.support.configs import make_config
from tests.support.feeds import story_items
from tests.support.servers import Feed, Site
from tests.support.waiting import wait_for

HOUR = 3600.0
DAY = 86400.0


# ---------------------------------------------------------------------------- the judgement


def test_no_spike_while_the_history_is_younger_than_a_day() -> None:
    spike = SpikeSettings(rule="r", factor=3, window="1h")
    assert learning_span(spike) == DAY
    young = SpikeCounts(current=50, before=0, span=DAY - 1)
    assert usual(young, spike) is None and not spiking(young, spike, under_way=False)


def test_a_spike_needs_factor_times_the_usual_count_and_min_matches() -> None:
    spike = SpikeSettings(rule="r", factor=3, window="1h", min_matches=5)
    # 48 matches over 48 h: 1 a window, so the bar is max(5, 3 * 1) = 5
    assert usual(SpikeCounts(5, 48, 2 * DAY), spike) == pytest.approx(1.0)
    assert spiking(SpikeCounts(5, 48, 2 * DAY), spike, under_way=False)
    assert not spiking(SpikeCounts(4, 48, 2 * DAY), spike, under_way=False)
    # 4 a window usually: the bar is 12
    assert not spiking(SpikeCounts(11, 192, 2 * DAY), spike, under_way=False)
    assert spiking(SpikeCounts(12, 192, 2 * DAY), spike, under_way=False)
    # a rule that usually matches nothing spikes at min_matches
    assert spiking(SpikeCounts(5, 0, 2 * DAY), spike, under_way=False)


def test_a_spike_under_way_ends_only_under_half_the_bar() -> None:
    spike = SpikeSettings(rule="r", factor=3, window="1h", min_matches=10)
    assert spiking(SpikeCounts(5, 0, 2 * DAY), spike, under_way=True)  # 5 >= 10 / 2: still on
    assert not spiking(SpikeCounts(4, 0, 2 * DAY), spike, under_way=True)


def test_checks_run_a_sixth_of_the_shortest_window_apart_within_1_to_5_minutes(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:1/f.xml", "json://127.0.0.1:1/", window="30m")
    assert check_interval(spike_rules(config)) == 300.0
    rule = spike_rules(config)[0]
    assert rule.spike is not None
    rule.spike.window = 600
    assert check_interval([rule]) == 100.0


# ---------------------------------------------------------------------------- the configuration


def _config(tmp_path: Path, feed: str, receiver: str, *, window: str = "1h", write: bool = False, **spike: object) -> Config:
    return make_config(
        tmp_path,
        sources=[{"name": "wire", "feed": feed}],
        rules=[
            {"name": "minerals", "query": "lithium", "notify": []},
            {"name": "minerals-surge", "spike": {"rule": "minerals", "window": window, "min_matches": 4, **spike}},
        ],
        notifiers={"desk": receiver},
        allow=["127.0.0.1"],
        write=write,
    )


def test_a_spike_rule_is_not_compiled_into_the_matcher(tmp_path: Path) -> None:
    config = _config(tmp_path, "http://127.0.0.1:1/f.xml", "json://127.0.0.1:1/")
    assert [r.name for r in enabled_rules(config)] == ["minerals"]
    assert [r.name for r in spike_rules(config)] == ["minerals-surge"]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"name": "s", "query": "x", "spike": {"rule": "minerals"}},
            "either query: (matched against stories) or spike:",
        ),
        ({"name": "s"}, "a rule needs query:"),
        ({"name": "s", "spike": {"rule": "mineral"}}, "no rule with a query is named 'mineral' (did you mean 'minerals'?)"),
        ({"name": "s", "spike": {"rule": "s"}}, "'s' is a spike rule itself"),
        ({"name": "s", "spike": {"rule": "minerals", "factor": 1}}, "greater than 1"),
        ({"name": "s", "spike": {"rule": "minerals", "window": "1h", "baseline": "90m"}}, "at least twice the window"),
        ({"name": "s", "spike": {"rule": "minerals", "window": "10s"}}, "greater than or equal to 300"),
        ({"name": "s", "spike": {"rule": "minerals"}, "sources": ["wire"]}, "set sources/tags there"),
    ],
)
def test_spike_rule_mistakes_name_the_file_line_and_what_is_allowed(
    tmp_path: Path, rule: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(
            tmp_path,
            sources=[{"name": "wire", "feed": "http://127.0.0.1:1/f.xml"}],
            rules=[{"name": "minerals", "query": "lithium"}, rule],
            notifiers={"desk": "json://127.0.0.1:1/"},
            allow=["127.0.0.1"],
            write=True,
        )
    text = "\n".join(caught.value.problems)
    assert expected in text
    assert "config.yaml:" in text and "rules[1]" in text


# ---------------------------------------------------------------------------- the store's counts


def _seed(db: Database, rule: str, times: list[float]) -> None:
    with db.write() as conn:
        for i, at in enumerate(times):
            history.add_matches(conn, [(10_000 + i, rule)], source="old", now=at)


def test_counts_scale_the_baseline_to_the_history_kept(db_url: str) -> None:
    db = Database(db_url)
    db.migrate()
    try:
        now = 1_000_000.0
        # one match every 6 hours for 3 days, then 7 in the last hour; another rule's matches do not count
        _seed(db, "r", [now - HOUR - 6 * HOUR * k for k in range(1, 13)] + [now - 60 * k for k in range(7)])
        _seed(db, "other", [now - 10 * DAY])
        with db.read() as conn:
            counts = history.spike_counts(conn, "r", now=now, window=HOUR, baseline=7 * DAY)
        # the history starts at the other rule's match 10 days back: the baseline is the whole 7 days
        assert counts == SpikeCounts(current=7, before=12, span=7 * DAY)
        with db.read() as conn:
            short = history.spike_counts(conn, "r", now=now, window=HOUR, baseline=DAY)
        assert short.before == 3 and short.span == DAY  # 7, 13 and 19 h back; 25 h is the bound, left out
    finally:
        db.close()


# ---------------------------------------------------------------------------- end to end


async def test_a_spike_alerts_once_with_its_top_stories_and_again_after_it_ended(
    tmp_path: Path, receiver: Receiver
) -> None:
    site = await Site().start()
    feed = Feed(site)
    try:
        config = _config(tmp_path, feed.url, receiver.url)
        clock = FakeClock(datetime.now(UTC))
        now = clock.timestamp()
        db = Database(config.settings.database or "")
        db.migrate()
        try:
            # two days of history: one 'minerals' story every 8 hours
            _seed(db, "minerals", [now - 8 * HOUR * k for k in range(1, 7)])
        finally:
            db.close()
        daemon = Daemon(config, workers=0, clock=clock)
        await daemon.start()
        try:
            feed.items = story_items(2, words="weather")
            await daemon.run_once()  # the first poll primes: nothing matches
            feed.items = story_items(5, start=10, words="lithium mine") + feed.items
            clock.advance(60)
            await daemon.run_once()
            assert receiver.messages == []  # the matching rule notifies nobody; only its spike does
            assert await daemon.spikes.check() == 1
            await daemon.deliverer.drain_once()
            assert len(receiver.messages) == 1
            body = receiver.messages[0].body
            assert "Spike of 'minerals'" in body and "5 stories in the last 60 min" in body
            assert "Story number 10 lithium mine" in body
            assert await daemon.spikes.check() == 0  # under way: no second alert
            clock.advance(2 * HOUR)
            assert await daemon.spikes.check() == 0  # the window emptied: the spike ended
            feed.items = story_items(6, start=20, words="lithium price") + feed.items
            await daemon.run_once()
            assert await daemon.spikes.check() == 1
            await daemon.deliverer.drain_once()
            assert len(receiver.messages) == 2 and "6 stories" in receiver.messages[1].body
            assert daemon.rt.metrics.spikes.labels("minerals-surge")._value.get() == 2
        finally:
            await daemon.close()
        # a restart neither repeats the spike under way nor loses its state
        daemon = Daemon(config, workers=0, clock=clock)
        await daemon.start()
        try:
            assert await daemon.spikes.check() == 0
            await daemon.deliverer.drain_once()
            assert len(receiver.messages) == 2
            with daemon.rt.store.database.read() as conn:
                kinds = conn.execute(select(outbox.c.kind, outbox.c.rule)).all()
            assert sorted(kinds) == [(MessageKind.SUMMARY, "minerals-surge")] * 2
        finally:
            await daemon.close()
    finally:
        await site.stop()


async def test_the_check_job_follows_the_spike_rules_across_reloads(tmp_path: Path) -> None:
    site = await Site().start()
    feed = Feed(site)
    try:
        _config(tmp_path, feed.url, "json://127.0.0.1:1/", write=True)
        path = tmp_path / "config.yaml"
        daemon = Daemon(load_config(str(path)), workers=0)
        running = asyncio.create_task(daemon.run(install_signals=False))
        try:
            assert await wait_for(lambda: daemon.scheduler is not None and feed.hits >= 1, 15)
            assert daemon.scheduler is not None
            job = daemon.scheduler.get_job(SPIKE_JOB)
            assert job is not None and job.trigger.interval == timedelta(seconds=300)  # 1 h / 6, at most 5 min
            text = path.read_text()
            assert "window: 1h" in text
            path.write_text(text.replace("window: 1h", "window: 10m"))
            assert await daemon.reload() is True
            job = daemon.scheduler.get_job(SPIKE_JOB)
            assert job is not None and job.trigger.interval == timedelta(seconds=100)
            data = yaml.safe_load(path.read_text())
            data["rules"] = data["rules"][:1]
            path.write_text(yaml.safe_dump(data))
            assert await daemon.reload() is True
            assert daemon.scheduler.get_job(SPIKE_JOB) is None
        finally:
            daemon.stop()
            await asyncio.wait_for(running, 30)
    finally:
        await site.stop()
