"""C-3 with a send in flight: a receiver that never answers does not hold up a stop, and the
send it cut short is recorded (an unknown outcome, sent again with its key), not left 'sending'."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
import time
from pathlib import Path

from tests.support.crash import make_rig
from tests.support.waiting import wait_for


async def test_sigterm_with_a_send_to_a_silent_receiver_exits_in_time(tmp_path: Path) -> None:
    rig = await make_rig(tmp_path, 1, span=0.001, timeout=None)  # delivery.timeout 30 s, the default
    rig.hook.respond_after = 3600
    with open(tmp_path / "daemon.log", "ab") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "monitor", "run", "--workers", "0", env=rig.env, stdout=log, stderr=log
        )
        try:
            await rig.feed.primed()
            rig.feed.t0 = time.monotonic() - 1
            assert await wait_for(lambda: rig.hook.messages, 30)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(proc.wait(), 20)
            elapsed = time.monotonic() - started
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await rig.close()
    assert code == 0
    assert elapsed < 8  # before: ~30 s, the abandoned send's socket timeout, past Docker's 10 s
    con = sqlite3.connect(tmp_path / "state.db")
    (status, unknowns, error), = con.execute("SELECT status, unknowns, last_error FROM outbox").fetchall()
    con.close()
    assert (status, unknowns) == ("pending", 1) and "cut short" in error
