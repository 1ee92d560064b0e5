"""The status view shared by ``newsmonitor sources`` and the status page: one row per source."""

from __future__ import annotations

import pytest

from monitor.config import SourceSettings
from monitor.daemon.status import source_status, source_statuses
from monitor.store.repo import SourceState
from monitor.web.view import SourceHealth, StatusView

FEED = {"name": "wire", "feed": "http://127.0.0.1:9/feed.xml"}


@pytest.mark.parametrize(
    ("enabled", "state", "health"),
    [
        (True, None, SourceHealth.NEVER_POLLED),
        (False, None, SourceHealth.DISABLED),
        (True, SourceState(name="wire", polls=3), SourceHealth.OK),
        (False, SourceState(name="wire", polls=3), SourceHealth.OK),
        (True, SourceState(name="wire", failing_since=100.0, failures=2), SourceHealth.FAILING),
    ],
)
def test_health_of_a_source(enabled: bool, state: SourceState | None, health: SourceHealth) -> None:
    src = SourceSettings.model_validate({**FEED, "enabled": enabled})
    assert source_status(src, state).health is health


def test_row_carries_the_stored_state_and_redacts_the_error() -> None:
    from monitor.redact import register_secret

    register_secret("t0psecretvalue")
    src = SourceSettings.model_validate(FEED)
    state = SourceState(
        name="wire", polls=7, stories_total=12, last_poll_at=50.0, next_poll_at=110.0,
        failing_since=40.0, last_error="HTTP 401 for http://x/?token=t0psecretvalue",
    )
    row = source_status(src, state)
    assert (row.polls, row.stories, row.last_poll_at, row.next_poll_at) == (7, 12, 50.0, 110.0)
    assert "t0psecretvalue" not in row.last_error and row.last_error.startswith("HTTP 401")


def test_rows_follow_the_configuration_order_and_serialise() -> None:
    sources = [SourceSettings.model_validate({**FEED, "name": n}) for n in ("b", "a", "c")]
    rows = source_statuses(sources, {"a": SourceState(name="a", polls=1)})
    assert [r.name for r in rows] == ["b", "a", "c"]
    view = StatusView(rows, {"pending": 1}, {}, ["r"], ["chat"], "nm.yaml", 0.0, 5.0)
    data = view.to_json()
    assert [s["status"] for s in data["sources"]] == ["never polled", "ok", "never polled"]
    assert data["config"]["last_reload"].startswith("failed at 1970-01-01 00:00:05")
