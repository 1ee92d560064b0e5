"""C-1 at full length: 20 trials, 1 000 matching stories each, several SIGKILLs per trial;
and the local faults of issue 12 (``--fault``).

Run: .venv/bin/python benchmarks/crash.py [--trials 20] [--stories 1000] [--kills 5]
         [--database sqlite|postgresql]
Prints per-trial lost/duplicate counts and the totals. ``--database postgresql`` runs the
daemon on PostgreSQL: the server named by NEWSMONITOR_TEST_POSTGRES, else a throwaway one
started from Debian's packages (tests/support/postgres.py), a new database per trial.

     .venv/bin/python benchmarks/crash.py --fault disk-full|lock-held|slow-receiver|all
         [--trials 1] [--stories 5] [--hold SECONDS]
Prints, per trial, the copies each key got: lost, extra copies, the most copies of one key,
and the messages received while the fault lasted. Target: lost 0, at most one extra copy per
affected message, 0 when the receiver answered in time. ``--hold`` defaults to the issue's
figures: the disk full for 20 s, the write lock held 75 s, the receiver answering after 6 s.
``disk-full`` needs unshare and mount (root or user namespaces) for a tmpfs of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.crash import run_trial
from tests.support.faults import FAULTS, run_fault_trial
from tests.support.postgres import Postgres, server

#: how long each fault lasts by default (seconds): the figures of the issue's reports
HOLD = {"disk-full": 20.0, "lock-held": 75.0, "slow-receiver": 6.0}


async def faults(names: list[str], trials: int, stories: int, hold: float | None) -> None:
    print(
        f"{'fault':<14} {'trial':>5} {'published':>9} {'received':>8} {'lost':>4} {'extra':>5} "
        f"{'most':>4} {'during':>6} {'s':>6}"
    )
    for name in names:
        for trial in range(trials):
            with tempfile.TemporaryDirectory() as tmp:
                r = await run_fault_trial(Path(tmp), name, stories=stories, hold=hold or HOLD[name])
            if r.skipped:
                print(f"{name:<14} skipped: {r.skipped}", flush=True)
                break
            print(
                f"{name:<14} {trial:>5} {r.published:>9} {r.received:>8} {r.lost:>4} {r.extra:>5} "
                f"{r.most_copies:>4} {r.during:>6} {r.seconds:>6.1f}",
                flush=True,
            )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=None, help="20 crash trials; 1 fault trial")
    parser.add_argument(
        "--stories", type=int, default=None, help="1 000 for crash trials; 5 for fault trials"
    )
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--span", type=float, default=30.0)
    parser.add_argument("--fault", choices=[*FAULTS, "all"], help="run fault trials instead of kill trials")
    parser.add_argument("--hold", type=float, default=None, help="how long the fault lasts (seconds)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    if args.fault:
        names = list(FAULTS) if args.fault == "all" else [args.fault]
        await faults(names, args.trials or 1, args.stories or 5, args.hold)
        return
    args.trials = args.trials or 20
    args.stories = args.stories or 1000
    pg: Postgres | None = server() if args.database == "postgresql" else None
    try:
        await kill_trials(args, pg)
    finally:
        if pg is not None:
            pg.stop()


async def kill_trials(args: argparse.Namespace, pg: Postgres | None) -> None:
    lost = dups = kills = 0
    print(f"database: {args.database}")
    print(
        f"{'trial':>5} {'published':>9} {'received':>8} {'unique':>6} {'lost':>4} {'dups':>4} {'kills':>5} {'s':>6}"
    )
    for trial in range(args.trials):
        url = pg.new_database() if pg is not None else None
        with tempfile.TemporaryDirectory() as tmp:
            r = await run_trial(
                Path(tmp), stories=args.stories, span=args.span, kills=args.kills, seed=trial, settle=60.0,
                database_url=url,
            )
        if pg is not None and url is not None:
            pg.drop_database(url)
        lost += r.lost
        dups += r.duplicates
        kills += r.kills
        print(
            f"{trial:>5} {r.published:>9} {r.received:>8} {r.unique:>6} {r.lost:>4} {r.duplicates:>4} "
            f"{r.kills:>5} {r.seconds:>6.1f}",
            flush=True,
        )
    print(f"total: {args.trials} trials, {kills} kills, lost {lost}, duplicates {dups}")


if __name__ == "__main__":
    asyncio.run(main())
