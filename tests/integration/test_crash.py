"""C-1 (short): kill -9 the daemon at random moments; no alert is lost, duplicates only in the send→commit window."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.crash import run_trial

pytestmark = pytest.mark.kill


@pytest.mark.timeout(240)
async def test_kill_minus_nine_loses_nothing(tmp_path: Path) -> None:
    results = []
    for trial in range(3):
        workdir = tmp_path / f"t{trial}"
        workdir.mkdir()
        results.append(await run_trial(workdir, stories=100, span=5.0, kills=2, seed=trial))
    for r in results:
        assert r.kills == 2
        assert r.lost == 0, f"lost {r.lost} alerts: {r}"
        # a duplicate needs a kill between the receiver's 200 and the commit: at most one per kill
        assert r.duplicates <= r.kills, r


@pytest.mark.timeout(120)
async def test_kill_minus_nine_loses_nothing_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    # the same promise when the store is PostgreSQL: the seen-marks, outbox rows and sent-marks
    # of a poll or a send are one transaction there too
    r = await run_trial(tmp_path, stories=100, span=5.0, kills=2, seed=7, database_url=postgres_url)
    assert r.kills == 2
    assert r.lost == 0, f"lost {r.lost} alerts: {r}"
    assert r.duplicates <= r.kills, r
