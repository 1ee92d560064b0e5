"""The status view shared by ``newsmonitor sources`` and the status page: one row per source."""

from __future__ import annotations

import pytest

from monitor.config import HealthSettings, SourceSettings
from monitor.daemon.status import source_status, source_statuses
from monitor.store.repo import SourceState
from monitor.web.view import SourceHealth, StatusView

FEED = {"name": "wire", "feed": "http://127.0.0.1:1/feed.xml"}
HEALTH = HealthSettings(empty_after=3, stale_after="1d")
NOW = 1_000_000.0
HOUR = 3600.0


def polled(**changes: object) -> SourceState:
    """A source polled an hour ago, that listed a new story then."""
    values: dict[str, object] = {"name": "wire", "polls": 3, "last_poll_at": NOW - HOUR, "primed_at": NOW - 9 * HOUR}
    values["last_new_story_at"] = NOW - HOUR
    return SourceState(**{**values, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "state", "health"),
    [
        ({}, None, SourceHealth.NEVER_POLLED),
        ({"enabled": False}, None, SourceHealth.DISABLED),
        ({}, polled(), SourceHealth.OK),
        # a disabled source is not polled, whatever its last poll said
        ({"enabled": False}, polled(failures=4, failing_since=NOW - HOUR), SourceHealth.DISABLED),
        ({}, polled(failing_since=100.0, failures=2), SourceHealth.FAILING),
        ({}, polled(failures=1, last_http_status=503, last_error_kind="http_status"), SourceHealth.FAILING),
        ({}, polled(failures=1, last_http_status=410, last_error_kind="http_status"), SourceHealth.GONE),
        ({}, polled(failures=1, last_error_kind="blocked_address"), SourceHealth.BLOCKED),
        ({}, polled(failures=1, last_error_kind="parse_error", empty_polls=9), SourceHealth.FAILING),
        ({}, polled(empty_polls=2), SourceHealth.OK),
        ({}, polled(empty_polls=3), SourceHealth.EMPTY),
        # empty says more than stale: nothing at all is listed
        ({}, polled(empty_polls=3, last_new_story_at=None), SourceHealth.EMPTY),
        ({}, polled(last_new_story_at=NOW - 24 * HOUR), SourceHealth.OK),
        ({}, polled(last_new_story_at=NOW - 25 * HOUR), SourceHealth.STALE),
        # never a new story: counted from the first poll
        ({}, polled(last_new_story_at=None, primed_at=NOW - 25 * HOUR), SourceHealth.STALE),
        ({}, polled(last_new_story_at=None, primed_at=NOW - 2 * HOUR), SourceHealth.OK),
        # the source's own stale_after wins; 0 turns it off
        ({"stale_after": "3d"}, polled(last_new_story_at=NOW - 25 * HOUR), SourceHealth.OK),
        ({"stale_after": 0}, polled(last_new_story_at=NOW - 99 * HOUR), SourceHealth.OK),
        ({"stale_after": "1h"}, polled(last_new_story_at=NOW - 2 * HOUR), SourceHealth.STALE),
    ],
)
def test_health_of_a_source(source: dict[str, object], state: SourceState | None, health: SourceHealth) -> None:
    src = SourceSettings.model_validate({**FEED, **source})
    assert source_status(src, state, HEALTH, NOW).health is health


def test_without_stale_after_no_source_is_stale() -> None:
    src = SourceSettings.model_validate(FEED)
    state = polled(last_new_story_at=NOW - 400 * 24 * HOUR)
    assert source_status(src, state, HealthSettings(), NOW).health is SourceHealth.OK


@pytest.mark.parametrize(
    ("state", "detail"),
    [
        (polled(), "ok"),
        (polled(failures=2, failing_since=100.0), "failing since 1970-01-01 00:01:40 UTC"),
        (polled(failures=1, last_http_status=410), "gone (HTTP 410)"),
        (polled(failures=1, last_error_kind="blocked_address"), "blocked"),
        (polled(empty_polls=4), "empty for 4 polls"),
        (polled(last_new_story_at=100.0), "stale: nothing new since 1970-01-01 00:01:40 UTC"),
    ],
)
def test_each_state_is_told_in_words_with_what_to_do(state: SourceState, detail: str) -> None:
    row = source_status(SourceSettings.model_validate(FEED), state, HEALTH, NOW)
    assert row.detail == detail
    data = row.to_json()
    assert (data["status"], data["detail"]) == (row.health.value, detail)
    assert data["advice"] == row.health.advice and data["advice"]


def test_every_state_has_its_own_word_metric_label_and_advice() -> None:
    states = list(SourceHealth)
    for values in ([h.value for h in states], [h.metric for h in states], [h.advice for h in states]):
        assert len(set(values)) == len(states)
    assert all(" " not in h.metric for h in states)
    assert "allow_networks" in SourceHealth.BLOCKED.advice
    assert "newsmonitor test-source wire -v" in SourceHealth.EMPTY.advice_for("wire")


def test_row_carries_the_stored_state_and_redacts_the_error() -> None:
    from monitor.redact import register_secret

    register_secret("t0psecretvalue")
    src = SourceSettings.model_validate(FEED)
    state = SourceState(
        name="wire", polls=7, stories_total=12, last_poll_at=50.0, next_poll_at=110.0,
        failing_since=40.0, last_error="HTTP 401 for http://x/?token=t0psecretvalue",
    )
    row = source_status(src, state, HEALTH, NOW)
    assert (row.polls, row.stories, row.last_poll_at, row.next_poll_at) == (7, 12, 50.0, 110.0)
    assert "t0psecretvalue" not in row.last_error and row.last_error.startswith("HTTP 401")


def test_rows_follow_the_configuration_order_and_serialise() -> None:
    sources = [SourceSettings.model_validate({**FEED, "name": n}) for n in ("b", "a", "c")]
    rows = source_statuses(sources, {"a": SourceState(name="a", polls=1, listed_ids=[1])}, HEALTH, NOW)
    assert [r.name for r in rows] == ["b", "a", "c"]
    view = StatusView(rows, {"pending": 1}, {}, ["r"], ["chat"], "nm.yaml", 0.0, 5.0)
    data = view.to_json()
    assert [s["status"] for s in data["sources"]] == ["never polled", "ok", "never polled"]
    assert data["config"]["last_reload"].startswith("failed at 1970-01-01 00:00:05")
