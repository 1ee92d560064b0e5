"""C-2: a SIGKILL at each critical point loses nothing; only the send→mark window can duplicate (once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.crash import run_fault_point

pytestmark = pytest.mark.kill


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("point", "max_duplicates"),
    [("after_fetch_before_commit", 0), ("before_send", 0), ("after_send_before_mark", 1)],
)
async def test_kill_at_fault_point(tmp_path: Path, point: str, max_duplicates: int) -> None:
    result = await run_fault_point(tmp_path, point)
    assert result.kills == 1, "the fault point was never reached"
    assert result.lost == 0, result
    assert result.duplicates <= max_duplicates, result
