"""The shared test plugin checks itself: the SSRF oracle counts, and CI runs Hypothesis derandomized."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

import pytest

from tests.support.paths import ROOT
from tests.support.servers import Canary


async def test_canary_counts_connections(canary: Canary) -> None:
    """The SSRF oracle itself works: a real connection is counted."""
    _, writer = await asyncio.open_connection("127.0.0.1", canary.port)
    writer.close()
    await asyncio.sleep(0.05)
    assert canary.accepts == 1


def test_canary_counts_connections_from_synchronous_code(canary: Canary) -> None:
    """No event loop needed: a parser fetching a DTD synchronously is caught too."""
    with socket.create_connection(("127.0.0.1", canary.port), timeout=2):
        pass
    assert canary.accepts == 1


PROFILE_OF_CONFTEST = "import tests.conftest; from hypothesis import settings; print(settings().derandomize)"


@pytest.mark.parametrize(
    ("env", "derandomized"),
    [
        ({"CI": "true"}, True),
        ({"HYPOTHESIS_PROFILE": "ci"}, True),
        ({"HYPOTHESIS_PROFILE": "default"}, False),  # what a developer gets: random exploration
    ],
)
def test_ci_runs_hypothesis_derandomized(env: dict[str, str], derandomized: bool) -> None:
    base = {k: v for k, v in os.environ.items() if k not in {"CI", "HYPOTHESIS_PROFILE"}}
    out = subprocess.run(
        [sys.executable, "-c", PROFILE_OF_CONFTEST],
        env={**base, "PYTHONPATH": str(ROOT), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == str(derandomized)
