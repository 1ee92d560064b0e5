"""What the ``*_instructions.py`` benchmarks share: counting the instructions of part of a
child process under valgrind's callgrind (``--instr-atstart=no``: the child switches the
count on and off around the work it measures)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def control(on: bool) -> None:
    """In the child: start or stop counting this process's instructions."""
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", str(os.getpid())],
                   capture_output=True, check=False)


def count(script: str, args: list[str], out_file: str) -> int:
    """Instructions the child ``python SCRIPT ARGS`` counted between its ``control`` calls;
    exits with valgrind's error when it failed."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}",
         sys.executable, script, *args],
        capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or not found:
        sys.exit(f"valgrind failed ({done.returncode}): {done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))
