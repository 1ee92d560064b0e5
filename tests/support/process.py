"""newsmonitor as a real process: one CLI run, or a daemon whose log is read while it runs.

Both may be given an address-space limit (``memory``, bytes): a run that tries to build
gigabytes then fails inside the limit instead of swapping a shared machine, and a test
can tell the two apart by the exit status and the output.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.waiting import wait_for


def _limit(memory: int | None) -> Callable[[], None] | None:
    if memory is None:
        return None

    def apply() -> None:  # in the child, before it runs Python
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return apply


async def newsmonitor(
    *args: str, memory: int | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[int, str, str]:
    """Run ``python -m monitor ARGS`` to its end; returns (exit status, stdout, stderr).
    Raises TimeoutError (the process killed) when it runs longer than ``timeout``."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", *args, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})}, preexec_fn=_limit(memory),
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()  # never left running after the test
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class DaemonProcess:
    """``newsmonitor run --config CONFIG`` in a process of its own, its log in ``log``.

    ``start()`` returns once the daemon logged that it runs (its signal handlers are
    installed by then); ``stop()`` sends SIGTERM and returns the exit status.
    """

    def __init__(self, config: Path, log: Path, *, memory: int | None = None, workers: int = 0) -> None:
        self.config = config
        self.log = log
        self.memory = memory
        self.workers = workers
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def text(self) -> str:
        """Everything the daemon logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def start(self, *, ready: str = "newsmonitor running", timeout: float = 60) -> DaemonProcess:
        """Start the daemon and wait until it logs ``ready`` (a log of an earlier run in the
        same file does not count); fails the test if it exits first."""
        before = len(self.text())
        with open(self.log, "ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "monitor", "run", "--workers", str(self.workers), "--config", str(self.config),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                preexec_fn=_limit(self.memory),
            )  # fmt: skip
        proc = self.proc
        assert await wait_for(lambda: ready in self.text()[before:] or proc.returncode is not None, timeout)
        assert ready in self.text()[before:], f"daemon exited early:\n{self.text()[-3000:]}"
        return self

    async def logged(self, text: str, timeout: float = 30) -> bool:
        """Wait (bounded) until the log holds ``text``."""
        return await wait_for(lambda: text in self.text(), timeout)

    def send(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def peak_rss(self) -> int:
        """The most memory the daemon has held so far, in bytes (Linux: VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc/PID/status")

    async def stop(self, timeout: float = 15) -> int:
        """SIGTERM, then the exit status (SIGKILL when it does not stop within ``timeout``)."""
        proc = self.proc
        if proc is None:
            return 0
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        assert proc.returncode is not None
        return proc.returncode
