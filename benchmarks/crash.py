"""C-1 at full length: 20 trials, 1 000 matching stories each, several SIGKILLs per trial.

Run: .venv/bin/python benchmarks/crash.py [--trials 20] [--stories 1000] [--kills 5]
Prints per-trial lost/duplicate counts and the totals.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.crash import run_trial


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--stories", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--span", type=float, default=30.0)
    args = parser.parse_args()
    lost = dups = kills = 0
    print(
        f"{'trial':>5} {'published':>9} {'received':>8} {'unique':>6} {'lost':>4} {'dups':>4} {'kills':>5} {'s':>6}"
    )
    for trial in range(args.trials):
        with tempfile.TemporaryDirectory() as tmp:
            r = await run_trial(
                Path(tmp), stories=args.stories, span=args.span, kills=args.kills, seed=trial, settle=60.0
            )
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
