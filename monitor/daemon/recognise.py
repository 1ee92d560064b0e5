"""Which stories of a listing the database has seen, under links that may change every poll.

A listing's candidates get their identity keys (:func:`~monitor.daemon.seen.key_candidates`,
without the query parameters learned as volatile for the source) and are split into fresh
and seen by what the store holds. When a link with a query is not known by its key, the
listing is compared with the one before it (:func:`~monitor.identity.volatile.learn_volatile`):
a parameter newly learned is left out of every key from then on, and the stories of the
previous listing are recognised under their links without it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.config import SourceSettings
from monitor.daemon.runtime import Runtime
from monitor.daemon.seen import SeenSplit, key_candidates, keys_of, split_seen
from monitor.identity.keys import PATH_TITLE_WINDOW, url_key, windowed
from monitor.identity.volatile import Sighting, learn_volatile
from monitor.sources import Candidate
from monitor.store import repo
from monitor.store.facade import Store

log = logging.getLogger("monitor.poll")


@dataclass(frozen=True, slots=True)
class Recognised:
    """A listing split by what the database has seen."""

    split: SeenSplit[Candidate]
    #: the keys of the listing that name seen stories (their aliases stay the longest)
    seen_keys: frozenset[str]
    #: the source's volatile query parameters, with what this listing taught
    volatile: list[str]


async def find_seen(store: Store, keys: Sequence[str], now: float) -> dict[str, int]:
    """Each seen key among ``keys`` with its story id; a windowed key (``pathtitle:``) only
    while its story was listed within :data:`~monitor.identity.keys.PATH_TITLE_WINDOW`."""
    if not keys:
        return {}
    return await store.find_seen(keys, windowed=windowed(keys), since=now - PATH_TITLE_WINDOW)


async def recognise(
    rt: Runtime, src: SourceSettings, state: repo.SourceState, candidates: list[Candidate], now: float
) -> Recognised:
    """The candidates of ``src``'s listing split into fresh and seen (see the module docstring).

    Each ``cand.link`` is rewritten in place (:func:`~monitor.daemon.seen.key_candidates`).
    Nothing is written: the volatile parameters come back for the poll to record.
    """
    known = list(state.volatile_params)
    keyed = await rt.cpu(key_candidates, src.name, candidates, known)
    seen = await find_seen(rt.store, [k for _, keys in keyed for k in keys], now)
    if not _unknown_query_links(keyed, seen):
        return Recognised(split_seen(keyed, seen), frozenset(seen), known)
    previous = await rt.store.listed_stories(state.listed_ids)
    current = [Sighting(c.link, c.title) for c in candidates if c.link]
    learned = await rt.cpu(learn_volatile, [Sighting(p.url, p.title) for p in previous], current)
    volatile = learned.applied_to(known)
    if volatile == known:
        return Recognised(split_seen(keyed, seen), frozenset(seen), known)
    log.info("source=%s query parameters that change every poll: %s", src.name, ", ".join(volatile) or "none")
    keyed = await rt.cpu(keys_of, src.name, candidates, volatile)
    seen = await find_seen(rt.store, [k for _, keys in keyed for k in keys], now)
    # the stories listed last time, known by links with the parameter: by their links without it
    aliases = {key: p.id for p in previous if (key := url_key(p.url, volatile)) and key not in seen}
    return Recognised(split_seen(keyed, seen, aliases), frozenset(seen), volatile)


def _unknown_query_links(keyed: Sequence[tuple[Candidate, Sequence[str]]], seen: dict[str, int]) -> bool:
    """Whether a link with a query is not known by its own key (it may carry a session)."""
    return any(cand.link and "?" in cand.link and keys[0] not in seen for cand, keys in keyed if keys)
