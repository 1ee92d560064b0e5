"""What a parser worker costs to start when the daemon runs as the ``newsmonitor`` script.

Run:  .venv/bin/python benchmarks/workers.py [--tasks 10]

Each case runs in a fresh child process standing for the console script: its main module
imports ``monitor.cli.main``, as the wrapper pip installs does. The child starts a pool of
one worker that is replaced after every task (``max_tasks_per_child=1``), so each task pays
one worker start, and prints the mean time per task and the memory of a live worker (RSS,
and USS: the pages it does not share with the fork server). Two cases: the script named as
``monitor.__main__`` (what ``newsmonitor`` does since the parser workers no longer import
the command-line interface) and left unnamed (what it did before: every worker ran the
script again, importing the whole CLI).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    """\
    import asyncio, json, os, sys, time

    import psutil

    from monitor.cli import main
    from monitor.cli.base import name_entry_script
    from monitor.sources.parsepool import WorkerPool


    async def measure(tasks: int) -> dict[str, float]:
        pool = WorkerPool(processes=1, max_tasks_per_child=1)
        try:
            started = time.perf_counter()
            await pool.start()
            await pool.run(os.getpid)
            first = time.perf_counter() - started
            started = time.perf_counter()
            for _ in range(tasks):
                await pool.run(os.getpid)
            per_task = (time.perf_counter() - started) / tasks
        finally:
            await pool.close()
        kept = WorkerPool(processes=1)  # a worker that stays, to be measured after its first task
        try:
            info = psutil.Process(await kept.run(os.getpid)).memory_full_info()
        finally:
            await kept.close()
        return {"first_s": first, "per_task_s": per_task, "rss_mb": info.rss / 2**20, "uss_mb": info.uss / 2**20}


    if __name__ == "__main__":
        if sys.argv[1] == "named":
            name_entry_script(sys.modules["__main__"])
        print(json.dumps(asyncio.run(measure(int(sys.argv[2])))))
    """
)


def run_case(script: Path, case: str, tasks: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, str(script), case, str(tasks)], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10, help="tasks (= worker starts) measured per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nm-workers-") as tmp:
        script = Path(tmp) / "newsmonitor"
        script.write_text(CHILD, encoding="utf-8")
        print(f"{'case':<34} {'first task':>10} {'per worker start':>17} {'worker RSS':>11} {'worker USS':>11}")
        for case, label in (("unnamed", "script re-run by every worker"), ("named", "script named monitor.__main__")):
            r = run_case(script, case, args.tasks)
            print(
                f"{label:<34} {r['first_s'] * 1000:>8.0f}ms {r['per_task_s'] * 1000:>15.0f}ms "
                f"{r['rss_mb']:>9.0f}MB {r['uss_mb']:>9.0f}MB"
            )


if __name__ == "__main__":
    main()
