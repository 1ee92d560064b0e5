"""Where test inputs live: ``tests/data`` in the repository, ``../shared`` beside it (optional)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
DATA = ROOT / "tests" / "data"


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
