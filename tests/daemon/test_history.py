"""Backtest and rule report over a history the daemon stored by polling a local site
(tests/support/history.py): what a query matches, and what each rule did."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from monitor.daemon.history import backtest, days_between, rules_report
from monitor.daemon.runtime import Runtime
from monitor.demo.receiver import Receiver
from monitor.errors import QueryError
from monitor.models import OutboxStatus
from monitor.store.db import Database
from monitor.store.facade import Store
from tests.support.history import Seeded, seed_history
from tests.support.servers import Site

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
async def seeded(tmp_path: Path, site: Site, receiver: Receiver) -> Seeded:
    return await seed_history(tmp_path, site, receiver, start=START)


@pytest.fixture
async def store(seeded: Seeded) -> AsyncIterator[Store]:
    database = Database.open_existing(seeded.config.database_url)
    assert database is not None
    store = Store(database)
    yield store
    store.close()


def window(seeded: Seeded) -> dict[str, float]:
    return {"since": seeded.days[0].timestamp() - 3600, "until": seeded.days[2].timestamp() + 3600}


DAYS = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


async def test_a_backtest_finds_what_the_query_matches_in_every_stored_story(seeded: Seeded, store: Store) -> None:
    result = await backtest(store, "tariffs", configured=seeded.config.settings.sources, **window(seeded))
    # the primed story of day 0 was never matched by the daemon: the backtest finds it too
    assert [m.title for m in result.matches] == [
        "Tariffs lifted on grain", "Ministers talk trade", "Tariffs hit car exports", "Tariffs loom over steel",
    ]
    assert (result.searched, result.matched, result.without_text) == (7, 4, 0)
    assert [(d.day, d.count) for d in result.per_day] == list(zip(DAYS, [1, 2, 1], strict=True))
    newest = result.matches[0]
    assert newest.source == "wire" and newest.url.endswith("/wire/6")
    assert newest.first_seen == seeded.days[2].timestamp() and newest.terms == ("tariffs",)
    assert newest.snippets[0].plain() == "**Tariffs** lifted on grain"


async def test_a_backtest_searches_the_article_text_the_daemon_fetched(seeded: Seeded, store: Store) -> None:
    result = await backtest(store, "magistrates", configured=seeded.config.settings.sources, **window(seeded))
    (match,) = result.matches
    assert match.title == "Man charged over Harbour Road attack" and match.source == "gazette"
    assert match.lang == "en"  # as the daemon decided it from the article
    assert any("**magistrates**" in s.plain().lower() for s in match.snippets)


@pytest.mark.parametrize(
    ("sources", "tags", "searched", "matched"),
    [
        (("wire",), (), 6, 5),
        (("The Gazette",), (), 1, 1),  # an outlet names its source, as in a rule's sources:
        (("GAZETTE",), (), 1, 1),
        ((), ("trade",), 6, 5),
        (("gazette",), ("trade",), 7, 6),  # either, as a rule limited by both
        ((), ("nothing",), 0, 0),
        (("removed-since",), (), 0, 0),
    ],
)
async def test_a_backtest_limited_as_a_rule_is(
    seeded: Seeded, store: Store, sources: tuple[str, ...], tags: tuple[str, ...], searched: int, matched: int
) -> None:
    result = await backtest(
        store, "tariffs OR magistrates OR festival", sources=sources, tags=tags,
        configured=seeded.config.settings.sources, **window(seeded),
    )
    assert (result.searched, result.matched) == (searched, matched)


async def test_a_backtest_counts_everything_and_shows_the_newest(seeded: Seeded, store: Store) -> None:
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: 09:30 UTC is 23:30 there, the window ends after midnight
    result = await backtest(store, "tariffs", configured=seeded.config.settings.sources, zone=zone, limit=1,
                            **window(seeded))
    assert result.matched == 4 and [m.title for m in result.matches] == ["Tariffs lifted on grain"]
    assert result.zone == "Pacific/Kiritimati"
    assert [(d.day, d.count) for d in result.per_day] == list(
        zip([*DAYS, date(2026, 3, 5)], [1, 2, 1, 0], strict=True))
    nothing = await backtest(store, "zeppelin", **window(seeded))
    assert (nothing.matched, nothing.matches, nothing.searched) == (0, (), 7)
    with pytest.raises(QueryError):
        await backtest(store, "tariffs AND (", **window(seeded))


async def test_a_backtest_runs_page_by_page_where_it_is_told(seeded: Seeded, store: Store) -> None:
    # the daemon matches on its CPU thread: a page at a time, so polls interleave
    config = seeded.config
    rt = Runtime(config, workers=0, database=Database(config.database_url))
    pages: list[int] = []

    async def cpu(work: Callable[[], None]) -> None:
        pages.append(1)
        await rt.cpu(work)

    try:
        result = await backtest(rt.store, "tariffs", cpu=cpu, page=3, **window(seeded))
    finally:
        await rt.close()
    assert result.matched == 4 and len(pages) == 3  # 7 stories, 3 a page


async def test_the_rule_report_tells_noisy_and_silent_rules(seeded: Seeded, store: Store) -> None:
    report = await rules_report(store, ["tariffs", "courts", "silent"], zone=UTC, **window(seeded))
    assert report.days == tuple(DAYS)
    by_rule = {r.rule: r for r in report.rules}
    tariffs, courts, silent = by_rule["tariffs"], by_rule["courts"], by_rule["silent"]
    # recorded as the daemon matched: the primed story of day 0 is no match
    assert [d.count for d in tariffs.per_day] == [0, 2, 1]
    assert (tariffs.matches, tariffs.alerts, tariffs.last_match) == (3, 3, seeded.days[2].timestamp())
    # its alert to "locked" died (HTTP 401): one alert sent
    assert (courts.matches, courts.alerts, courts.last_match) == (1, 1, seeded.days[1].timestamp())
    assert (silent.matches, silent.alerts, silent.last_match) == (0, 0, None)
    assert [r.rule for r in report.silent] == ["silent"]
    # a window after the last match: every rule silent, the last matches still told
    later = await rules_report(store, ["tariffs"], since=seeded.days[2].timestamp() + 1, until=seeded.days[2].timestamp()
                               + 86400)
    assert later.rules[0].matches == 0 and later.rules[0].last_match == seeded.days[2].timestamp()


async def test_every_alert_outcome_is_in_the_history(seeded: Seeded, store: Store) -> None:
    records = await store.alert_history(**window(seeded))
    by_day: dict[float, set[tuple[str, str, OutboxStatus, str | None]]] = {}
    for r in records:  # the destinations of one day are drained at once: in either order
        by_day.setdefault(r.at, set()).add((r.rule, r.target, r.outcome, r.title))
    assert by_day == {
        seeded.days[1].timestamp(): {
            ("tariffs", "chat", OutboxStatus.SENT, "Tariffs hit car exports"),
            ("tariffs", "chat", OutboxStatus.SENT, "Ministers talk trade"),
            ("courts", "chat", OutboxStatus.SENT, "Man charged over Harbour Road attack"),
            ("courts", "locked", OutboxStatus.DEAD, "Man charged over Harbour Road attack"),
        },
        seeded.days[2].timestamp(): {("tariffs", "chat", OutboxStatus.SENT, "Tariffs lifted on grain")},
    }
    assert len(records) == 5 and [r.at for r in records] == sorted(r.at for r in records)
    dead = next(r for r in records if r.outcome is OutboxStatus.DEAD)
    assert dead.error is not None and "401" in dead.error


def test_days_of_a_window_in_a_zone() -> None:
    start = datetime(2026, 3, 28, 23, 0, tzinfo=UTC).timestamp()
    assert days_between(start, start + 3600, UTC) == (date(2026, 3, 28),)
    assert days_between(start, start + 3601, UTC) == (date(2026, 3, 28), date(2026, 3, 29))
    # 23:00 UTC is already the 29th in Paris, and the clocks go forward that night
    paris = ZoneInfo("Europe/Paris")
    assert days_between(start, start + timedelta(days=2).total_seconds(), paris) == (
        date(2026, 3, 29), date(2026, 3, 30), date(2026, 3, 31))


async def test_the_health_check_sets_the_database_size(seeded: Seeded) -> None:
    from monitor.daemon.service import Daemon

    daemon = Daemon(seeded.config, workers=0)
    try:
        await daemon.health.check()
        value = daemon.rt.metrics.registry.get_sample_value("newsmonitor_database_bytes")
    finally:
        await daemon.close()
    path = Path(seeded.config.database_url.removeprefix("sqlite:///"))
    assert value is not None and value >= path.stat().st_size > 0


SECRETS = {
    "HOOK_PASS": "hookpass-5e1f0c77",
    "LOCKED_PASS": "lockedpass-2b9d41",
    "DOWN_PASS": "downpass-a07c3e",
    "FEED_KEY": "feedkey-91ab27f0",
    "FEED_TOKEN": "feedtoken-c0ffee42",
}


async def test_no_secret_of_the_configuration_is_ever_stored(tmp_path: Path, site: Site, receiver: Receiver) -> None:
    from monitor.clock import FakeClock
    from monitor.config import parse_settings
    from monitor.daemon.service import Daemon
    from monitor.store import history
    from tests.support.feeds import Item, rss
    from tests.support.servers import free_port

    items: list[Item] = []
    tokens: list[str] = []

    async def feed(request: web.Request) -> web.Response:
        tokens.append(request.headers.get("Authorization", ""))
        return web.Response(text=rss(items), content_type="application/rss+xml")

    site.route("/wire.xml", feed)
    locked = Receiver(fail_with=401)
    await locked.start()
    text = f"""
database: sqlite:///{tmp_path}/state.db
allow_networks: {site.allow}
cluster: {{enabled: false}}
defaults: {{interval: 1s, notify: [chat, locked, down]}}
notifiers:
  chat: json://newsuser:${{HOOK_PASS}}@127.0.0.1:{receiver.port}/hook
  locked: json://newsuser:${{LOCKED_PASS}}@127.0.0.1:{locked.port}/hook
  down: json://newsuser:${{DOWN_PASS}}@127.0.0.1:{free_port()}/hook
sources:
  - name: wire
    feed: {site.base}/wire.xml?apikey=${{FEED_KEY}}
    headers: {{Authorization: "Bearer ${{FEED_TOKEN}}"}}
    full_text: false
  - name: gone
    feed: {site.base}/gone.xml?apikey=${{FEED_KEY}}
rules: [{{name: tariffs, query: tariffs}}]
"""
    config = parse_settings(text, str(tmp_path / "nm.yaml"), env=SECRETS)
    clock = FakeClock(START)
    try:
        for day in range(2):
            items[:0] = [Item(f"Tariffs news {day}", f"{site.base}/wire/{day}", f"g{day}",
                              "Tariffs and more tariffs. " * 20, START)]
            daemon = Daemon(config, workers=0, clock=clock)
            try:
                await daemon.run_once()
            finally:
                await daemon.close()
            clock.advance(86400)
    finally:
        await locked.stop()
    assert tokens == [f"Bearer {SECRETS['FEED_TOKEN']}"] * 2 and len(receiver.messages) == 1
    database = Database(config.database_url)
    with database.read() as conn:
        outcomes = {r.target: r.outcome for r in history.alerts_between(conn, since=0.0, until=START.timestamp() * 2)}
        texts = [history.decode_text(data) for (data,) in conn.exec_driver_sql("SELECT text FROM story_texts")]
        dump = "\n".join(str(row) for table in ("sources", "stories", "outbox", "alert_history", "meta")
                         for row in conn.exec_driver_sql(f"SELECT * FROM {table}"))
    database.close()
    assert outcomes == {"chat": OutboxStatus.SENT, "locked": OutboxStatus.DEAD}  # "down" is still retried
    assert len(texts) == 2 and "down" in dump and "gone" in dump
    files = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*") if p.is_file())
    for name, secret in SECRETS.items():
        assert secret.encode() not in files, f"{name} is in the database file"
        assert all(secret not in text for text in texts), f"{name} is in a stored text"
        assert secret not in dump, f"{name} is in a stored row"
