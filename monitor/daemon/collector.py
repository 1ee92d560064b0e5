"""Keeping what matching learns out of the cyclic garbage collector's repeated passes.

The daemon freezes every object alive after start and after each reload (``gc.freeze``):
the compiled rules live until the next reload, and a full collection would otherwise walk
their millions of objects again and again. What matching builds while the daemon runs
(the word caches of ``monitor.rules.text``, each chunk's notes, the rules' evaluation
plans) lives as long, and grows by a few objects per new word: left to the collector, it
is walked by a young, a middle and, as it keeps growing, by one full collection after
another (the threshold of a full collection is a quarter of what the last one kept, and
little is kept beside the frozen rules). ``match`` pauses the collector, so the first
collection after a batch walks everything the batch built at once (measured: 0.12 s after
the benchmark's 91 articles of new words at 100 000 rules, a quarter of the next pass).

``Settling.after_matching`` freezes again once the caches have grown by ``SETTLE_EVERY``
chunks: one collection first (only what is not frozen yet: what was built since the last
freeze), so no garbage is frozen. An object alive then that later becomes unreachable
garbage in a reference cycle is not collected while frozen; when a word cache is renewed
(its bound, ``text._MAX_CACHE``), everything is unfrozen and collected once, which
bounds that.
"""

from __future__ import annotations

import gc

from monitor.rules.text import cached_chunks

#: new chunks in the word caches between two freezes: ~10 objects each, so each freeze
#: collects some 50 000 objects (a few tens of milliseconds)
SETTLE_EVERY = 5_000


class Settling:
    """Decides, after each batch of matching, whether to freeze what it built."""

    def __init__(self, every: int = SETTLE_EVERY) -> None:
        self.every = every
        self._seen = cached_chunks()
        #: freezes made, and collections of everything (after a cache was renewed)
        self.freezes = 0
        self.thaws = 0

    def after_matching(self) -> None:
        """Freezes the objects alive (collecting first) when the word caches grew by
        ``every`` chunks since the last time; when they shrank (a cache was renewed),
        unfreezes and collects everything first. Cheap otherwise: one sum over the
        languages' caches."""
        held = cached_chunks()
        if held < self._seen:
            gc.unfreeze()
            self.thaws += 1
        elif held - self._seen < self.every:
            return
        gc.collect()
        gc.freeze()
        self.freezes += 1
        self._seen = held
