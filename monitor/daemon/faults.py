"""Fault points for crash tests: kill the process at a named point in the pipeline.

Set ``NEWSMONITOR_FAULT=<point>`` and ``NEWSMONITOR_FAULT_ONCE=<file>``: the first time the
daemon reaches that point it creates the file and SIGKILLs itself. Without the variables
this is a dictionary lookup and nothing else. Points: ``after_fetch_before_commit``,
``before_send``, ``after_send_before_mark``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def fault_point(name: str) -> None:
    """Die here if the crash test asked for it (once)."""
    if os.environ.get("NEWSMONITOR_FAULT") != name:
        return
    marker = os.environ.get("NEWSMONITOR_FAULT_ONCE")
    if marker:
        path = Path(marker)
        if path.exists():
            return
        path.write_text(name)
    os.kill(os.getpid(), signal.SIGKILL)
