"""The shared values: a story's field limits and how a text is cut to one."""

from __future__ import annotations

import pytest

from monitor.models import clip


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("one two three four", 10, "one two"),  # cut back to a space: no half word
        ("one two\nthree four", 12, "one two"),  # a line break is a space too
        ("x" * 300, 250, "x" * 250),  # no space near the limit: cut at the limit
        ("word " * 10 + "y" * 200, 150, "word " * 10 + "y" * 100),  # the last space is too far back
        ("", 5, ""),
    ],
)
def test_clip(text: str, limit: int, expected: str) -> None:
    assert clip(text, limit) == expected
    assert len(clip(text, limit)) <= limit
