"""Under faults a poll fails loudly and alone: any exception is the source's recorded failure and a
health notice; a feed cut at the entry limit says so; a huge article is cut before matching."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.clock import FakeClock
from monitor.daemon.pipeline import PollStatus, poll_source
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.models import STORY_TEXT_LIMIT
from monitor.sources.feed import FeedSource
from monitor.sources.parsepool import WorkerPool
from tests.support.configs import make_config
from tests.support.feeds import Item
from tests.support.servers import Feed, Site


def short_items(n: int, base: str, start: int = 0) -> list[Item]:
    """``n`` stories with a title and a link only (a long feed that parses quickly), newest first."""
    return [Item(title=f"Item {i}", link=f"{base}/item/{i}", guid=f"item-{i}") for i in range(start + n - 1, start - 1, -1)]


async def test_an_exception_of_any_type_is_the_source_failure_with_a_health_notice(
    tmp_path: Path, site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    feed = Feed(site)
    feed.items = short_items(2, site.base)
    config = make_config(
        tmp_path,
        sources=[{"name": "odd", "feed": feed.url}],
        rules=[{"name": "r", "query": "weather"}],
        notifiers={"ops": receiver.url},
        allow=site.allow,
        extra="health: {source_failures: 2, throttle: 1h}\n",
    )

    async def list_stories(*_: object, **__: object) -> None:
        raise KeyError("guid")  # a library's own error type, or a bug of ours: not a MonitorError

    monkeypatch.setattr(FeedSource, "list_stories", list_stories)
    clock = FakeClock(datetime.now(UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    caplog.set_level(logging.INFO)
    try:
        src = daemon.rt.sources["odd"]
        results = []
        for _ in range(2):
            results.append(await poll_source(daemon.rt, src))  # returns: never raises for the source
            clock.advance(60)
        assert [(r.status, r.error) for r in results] == [(PollStatus.ERROR, "internal_error: KeyError: 'guid'")] * 2
        state = await daemon.rt.store.source_state("odd")
        assert state is not None
        assert (state.failures, state.last_error_kind) == (2, "internal_error")
        assert state.last_error == "internal_error: KeyError: 'guid'"
        assert state.next_poll_at is not None and state.last_poll_at is not None
        assert state.next_poll_at - state.last_poll_at > 1  # backed off beyond the 1 s interval
        told = [r for r in caplog.records if r.name == "monitor.poll" and r.levelno >= logging.WARNING]
        assert [r.levelno for r in told] == [logging.ERROR] * 2  # once a poll, with its traceback
        assert all("source=odd" in r.getMessage() and (r.exc_info or r.exc_text) for r in told)
        counted = daemon.rt.metrics.registry.get_sample_value(
            "newsmonitor_poll_internal_errors_total", {"source": "odd"}
        )
        assert counted == 2
        await daemon.health.check()
        await daemon.deliverer.drain_once()
        assert len(receiver.messages) == 1
        assert "odd" in receiver.messages[0].body and "KeyError: 'guid'" in receiver.messages[0].body
    finally:
        await daemon.close()


async def test_a_worker_that_cannot_start_is_a_worker_pool_failure_of_the_poll(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = Feed(site)
    feed.items = short_items(2, site.base)
    config = make_config(
        tmp_path, sources=[{"name": "wire", "feed": feed.url}], rules=[], notifiers={}, allow=site.allow
    )
    daemon = Daemon(config, workers=0)
    await daemon.start()
    try:
        # a replacement worker that cannot start (the fork server's socket removed, no
        # processes left): the poll that needed it fails with the reason, not "unexpected"
        daemon.rt.pool = WorkerPool(processes=1)

        def no_process(*_: object) -> None:
            raise OSError(24, "Too many open files")

        monkeypatch.setattr("multiprocessing.process.BaseProcess.start", no_process)
        result = await poll_source(daemon.rt, daemon.rt.sources["wire"])
        assert result.status is PollStatus.ERROR
        assert result.error is not None
        assert result.error.startswith("parser worker processes cannot start: OSError: [Errno 24] Too many open files")
        state = await daemon.rt.store.source_state("wire")
        assert state is not None and state.failures == 1 and state.last_error_kind == "worker_pool"
    finally:
        await daemon.close()


async def test_a_feed_cut_at_the_entry_limit_is_said_once_and_shown_by_sources(
    tmp_path: Path, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    feed = Feed(site)
    feed.items = short_items(2100, site.base)
    config = make_config(
        tmp_path,
        sources=[{"name": "archive", "feed": feed.url, "full_text": False}],
        rules=[{"name": "r", "query": "weather"}],
        notifiers={},
        allow=site.allow,
        write=True,
    )
    clock = FakeClock(datetime.now(UTC))
    daemon = Daemon(config, workers=0, clock=clock)
    await daemon.start()
    caplog.set_level(logging.INFO, logger="monitor.poll")

    def notes() -> list[str]:
        return [r.getMessage() for r in caplog.records if "entries" in r.getMessage() and r.levelno >= logging.WARNING]

    def sources_output() -> str:
        result = CliRunner().invoke(main, ["sources", "--config", config.path])
        assert result.exit_code == 0, result.output
        return result.output

    try:
        first = await daemon.run_once(deliver=False)
        assert (first[0].status, first[0].listed) == (PollStatus.PRIMED, 2000)
        assert notes() == ["source=archive feed has 2100 entries, first 2000 read"]
        clock.advance(60)
        feed.items = short_items(2150, site.base)  # a new body, still over the limit
        second = await daemon.run_once(deliver=False)
        assert (second[0].status, second[0].listed, second[0].new) == (PollStatus.OK, 2000, 50)
        assert len(notes()) == 1  # said once, not at every poll
        assert "note: archive: feed has 2150 entries, first 2000 read" in sources_output()
        status = await daemon.rt.store.overview()
        assert status.sources["archive"].listing_note == "feed has 2150 entries, first 2000 read"
        clock.advance(60)
        feed.items = short_items(10, site.base, start=3000)
        third = await daemon.run_once(deliver=False)
        assert third[0].status is PollStatus.OK
        assert "note:" not in sources_output()
    finally:
        await daemon.close()


def big_article(megabytes: float, first: str, last: str) -> bytes:
    """An article page of about ``megabytes``: ``first`` in its first paragraph, ``last`` in its last."""
    sentence = "The council said the budget for schools and water would be reviewed by the regional office. "
    body = [f"<p>{html.escape(first)} opened the report. {sentence * 5}</p>\n"]
    size = 0
    while size < megabytes * 2**20:
        # numbered: an extractor drops paragraphs it has seen already
        body.append(f"<p>Section {len(body)}. {sentence * 20}</p>\n")
        size += len(body[-1])
    body.append(f"<p>It closed with {html.escape(last)}.</p>\n")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A long report</title></head>'
        "<body><article><h1>A very long report</h1>" + "".join(body) + "</article></body></html>"
    ).encode()


async def test_a_9_mb_article_is_cut_to_the_story_text_limit_before_matching(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    page = big_article(9, first="Aardvark", last="zebrafish")
    assert len(page) > 9_000_000
    site.static("/longread.html", page, headers={"Content-Type": "text/html; charset=utf-8"})
    feed = Feed(site)
    feed.items = [Item(title="A very long report", link=site.base + "/longread.html", guid="long-1")]
    config = make_config(
        tmp_path,
        sources=[{"name": "longreads", "feed": feed.url, "alert_on_first_poll": True}],
        # words past the limit are never searched: a rule that needs one of them does not match
        rules=[{"name": "early", "query": "aardvark"}, {"name": "late", "query": "zebrafish"}],
        notifiers={"chat": receiver.url},
        allow=site.allow,
    )
    daemon = Daemon(config, workers=0)
    await daemon.start()
    try:
        [result] = await daemon.run_once(deliver=False)
    finally:
        await daemon.close()
    assert result.status is PollStatus.OK, result.error
    [story] = result.stories
    assert story.text_origin == "extracted"
    # the story the matcher was handed: its text is cut to the limit
    [(matched, matches)] = result.alerts
    assert matched is story
    assert 0.9 * STORY_TEXT_LIMIT < len(story.text) <= STORY_TEXT_LIMIT
    assert "zebrafish" not in story.text
    assert [m.rule for m in matches] == ["early"]
