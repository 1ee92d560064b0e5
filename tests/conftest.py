"""Shared test fixtures: paths to the shared corpus (skipped when absent)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from monitor.demo.receiver import Receiver

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
DATA = Path(__file__).resolve().parent / "data"


def need_corpus(*parts: str) -> Path:
    """Return ``../shared/corpus/<parts>`` or skip the test with a clear message when it is absent."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared corpus not available at {path} (tests using ../shared/corpus are skipped)")
    return path


def need_shared(*parts: str) -> Path:
    """Return ``../shared/<parts>`` or skip when absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available at {path}")
    return path


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A local webhook receiver for apprise's ``json://`` (see :mod:`monitor.demo.receiver`)."""
    r = Receiver()
    await r.start()
    yield r
    await r.stop()
