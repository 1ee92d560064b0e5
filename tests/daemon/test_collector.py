"""What matching learns is frozen out of the collector as the word caches grow
(``monitor.daemon.collector``), and no garbage is frozen with it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from monitor.daemon.collector import Settling
from monitor.rules import text


class _Cycle:
    """A reference cycle: garbage only a collection frees."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Empty word caches of this test's own, and the process unfrozen again afterwards."""
    monkeypatch.setattr(text, "_CACHES", {})
    yield
    gc.unfreeze()


def _words(first: int, count: int) -> list[str]:
    return [f"w{i:05d}" for i in range(first, first + count)]


def _tracked(chunk: str) -> bool:
    """Whether the cached analysis of ``chunk`` is among the objects the collector walks."""
    info = text.lang_cache("en").chunks[chunk]
    return any(obj is info for obj in gc.get_objects())


@pytest.mark.usefixtures("caches")
def test_the_caches_are_frozen_when_they_have_grown_and_not_before() -> None:
    settling = Settling(every=50)
    cache = text.lang_cache("en")
    cache.add_all(_words(0, 49))
    settling.after_matching()
    assert settling.freezes == 0 and _tracked("w00000")
    cache.add_all(_words(49, 1))
    settling.after_matching()
    assert settling.freezes == 1 and settling.thaws == 0
    assert not _tracked("w00000") and not _tracked("w00049")
    # 50 more since the last freeze, not since the start
    cache.add_all(_words(50, 30))
    settling.after_matching()
    assert settling.freezes == 1 and _tracked("w00079")


@pytest.mark.usefixtures("caches")
def test_garbage_is_collected_before_a_freeze_and_a_renewed_cache_thaws_everything() -> None:
    settling = Settling(every=10)
    text.lang_cache("en").add_all(_words(0, 10))
    garbage = _Cycle()
    gone = weakref.ref(garbage)
    del garbage
    settling.after_matching()
    assert settling.freezes == 1 and gone() is None
    # a cache renewed (it outgrew its bound): what the old one held may go, and so may a
    # cycle frozen since, which becomes garbage only now
    held = _Cycle()
    late = weakref.ref(held)
    text.lang_cache("en").add_all(_words(10, 10))
    settling.after_matching()
    assert settling.freezes == 2
    del held
    text._CACHES.clear()
    text.lang_cache("en").add_all(_words(0, 3))
    settling.after_matching()
    assert settling.thaws == 1 and settling.freezes == 3 and late() is None
    assert not _tracked("w00000")
