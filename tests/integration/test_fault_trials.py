"""Issue 12 at the process level: the real daemon, a real full disk (a tmpfs of its own) and a
receiver slower than apprise's own read timeout. Slow (about 40 s each): run with -m slow;
``benchmarks/crash.py --fault`` runs them at full length."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.faults import run_fault_trial, tmpfs_namespace

pytestmark = pytest.mark.slow


@pytest.mark.timeout(180)
@pytest.mark.skipif(tmpfs_namespace() is None, reason="needs unshare and mount (root or user namespaces)")
async def test_a_full_disk_while_the_receiver_recovers_sends_each_alert_once(tmp_path: Path) -> None:
    result = await run_fault_trial(tmp_path, "disk-full", stories=4, hold=8.0)
    assert result.lost == 0, result
    assert result.extra == 0, result  # main: ~17 copies a second of one key while the disk was full


@pytest.mark.timeout(180)
async def test_a_receiver_answering_after_six_seconds_gets_one_copy_each(tmp_path: Path) -> None:
    result = await run_fault_trial(tmp_path, "slow-receiver", stories=3, hold=6.0)
    assert (result.lost, result.extra) == (0, 0), result
