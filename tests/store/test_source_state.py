"""SourceState bookkeeping: what one successful or failed poll changes."""

from __future__ import annotations

from monitor.store.repo import SourceState


def test_a_failure_streak_starts_at_the_first_failure_and_keeps_the_error_short() -> None:
    state = SourceState(name="wire", polls=4)
    state.record_failure(100.0, "connect_error: refused")
    state.record_failure(200.0, "timeout: " + "x" * 600)
    assert (state.failures, state.failing_since, state.last_poll_at, state.polls) == (2, 100.0, 200.0, 6)
    assert state.last_error is not None and len(state.last_error) == 500 and state.last_error.startswith("timeout: ")
    assert state.last_ok_at is None


def test_a_successful_poll_ends_the_streak_and_counts_its_stories() -> None:
    state = SourceState(name="wire", polls=6, failures=2, failing_since=100.0, last_error="timeout", stories_total=10)
    state.record_ok(300.0, new_stories=3)
    assert (state.failures, state.failing_since, state.last_error) == (0, None, None)
    assert (state.last_poll_at, state.last_ok_at, state.polls, state.stories_total) == (300.0, 300.0, 7, 13)
    state.record_ok(400.0)  # a 304: nothing new
    assert (state.last_ok_at, state.polls, state.stories_total) == (400.0, 8, 13)
