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


def test_polls_listing_nothing_make_an_empty_streak_that_a_failure_leaves_as_it_was() -> None:
    state = SourceState(name="page")
    state.record_ok(100.0)  # read a listing with no story
    state.record_ok(200.0)  # a 304: the listing before it, still empty
    state.record_failure(300.0, "timeout: read timed out", kind="timeout")
    assert (state.empty_polls, state.last_error_kind, state.last_new_story_at) == (2, "timeout", None)
    state.record_ok(400.0)
    assert (state.empty_polls, state.last_error_kind) == (3, None)
    state.listed_ids = [7]  # the next listing holds a story, new
    state.record_ok(500.0, new_stories=1)
    assert (state.empty_polls, state.last_new_story_at) == (0, 500.0)
    state.record_ok(600.0)  # a 304 of that listing: nothing new, not empty
    assert (state.empty_polls, state.last_new_story_at) == (0, 500.0)


def test_the_error_kind_is_kept_short() -> None:
    state = SourceState(name="wire")
    state.record_failure(1.0, "x", kind="k" * 100)
    assert state.last_error_kind == "k" * 40
