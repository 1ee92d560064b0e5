"""Which listed stories are new: identity keys for a listing, and the split into seen and fresh.

Pure functions on plain values; the pipeline asks the database which keys are seen and
passes the answer in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from monitor.extract.urls import is_http_url, normalize_url, unwrap_redirect
from monitor.identity.keys import story_keys, windowed
from monitor.sources import Candidate

T = TypeVar("T")
U = TypeVar("U")


def key_candidates(
    source: str, candidates: list[Candidate], volatile: Collection[str] = ()
) -> list[tuple[Candidate, list[str]]]:
    """Each candidate of ``source``'s listing with its identity keys, in listing order.

    Each ``cand.link`` is rewritten in place: unwrapped from a redirect wrapper and
    normalised, or set to None when it is not http(s). Then see :func:`keys_of`.
    """
    for cand in candidates:
        if cand.link:
            link = unwrap_redirect(cand.link)
            cand.link = (normalize_url(link) or link) if is_http_url(link) else None
    return keys_of(source, candidates, volatile)


def keys_of(
    source: str, candidates: list[Candidate], volatile: Collection[str] = ()
) -> list[tuple[Candidate, list[str]]]:
    """Each candidate of ``source``'s listing (links as :func:`key_candidates` left them)
    with its identity keys, in listing order; the query parameters ``volatile`` are left
    out of the links' keys.

    A GUID that the listing gives to stories with different links is ignored (a broken
    feed must not make them one story), and so is a page-and-title key (``pathtitle:``):
    two stories of one title on one page, listed together, are two stories.
    """
    guid_links: dict[str, set[str | None]] = {}
    for cand in candidates:
        if cand.guid:
            guid_links.setdefault(cand.guid, set()).add(cand.link)
    keyed = []
    for cand in candidates:
        guid = cand.guid if cand.guid and len(guid_links[cand.guid]) == 1 else None
        keyed.append((cand, story_keys(source, cand.link, guid, cand.title, volatile)))
    return _without_shared_windowed(keyed)


def _without_shared_windowed(keyed: list[tuple[Candidate, list[str]]]) -> list[tuple[Candidate, list[str]]]:
    links: dict[str, set[str]] = {}
    for _, keys in keyed:
        for key in windowed(keys):
            links.setdefault(key, set()).add(keys[0])
    if all(len(firsts) == 1 for firsts in links.values()):
        return keyed
    return [(cand, [k for k in keys if len(links.get(k, ())) <= 1]) for cand, keys in keyed]


@dataclass(frozen=True, slots=True)
class SeenSplit(Generic[T]):
    """A listing split by what the database has seen."""

    #: the entries none of whose keys is seen, with their keys, in listing order
    fresh: list[tuple[T, Sequence[str]]] = field(default_factory=list)
    #: the ids of the seen stories listed now
    listed: set[int] = field(default_factory=set)
    #: seen story id → keys it is listed under now that are not recorded yet
    new_keys: dict[int, list[str]] = field(default_factory=dict)
    #: seen story id → the first entry listing it, with its keys
    first: dict[int, tuple[T, Sequence[str]]] = field(default_factory=dict)

    def merge(self, later: SeenSplit[U]) -> SeenSplit[U]:
        """A second look at this split's fresh entries: ``later``'s fresh entries, and the
        seen stories of both (``later``'s keys added after this one's). The entries of
        seen stories (``first``) are ``later``'s alone, as they are of another type."""
        new_keys = {sid: list(keys) for sid, keys in self.new_keys.items()}
        for sid, keys in later.new_keys.items():
            new_keys.setdefault(sid, []).extend(keys)
        return SeenSplit(later.fresh, self.listed | later.listed, new_keys, later.first)


def split_seen(
    listing: Sequence[tuple[T, Sequence[str]]], seen: Mapping[str, int], aliases: Mapping[str, int] | None = None
) -> SeenSplit[T]:
    """Split ``listing`` (entries with their keys) by ``seen`` (key → story id).

    An entry is seen when any of its keys is; several seen keys of different stories make
    it the oldest (lowest id) of them. Its other keys are the story's ``new_keys``. A key
    among ``aliases`` (key → story id) names its story as a seen key does, but is not
    recorded yet: it is one of the story's ``new_keys`` too.
    """
    aliases = aliases or {}
    fresh: list[tuple[T, Sequence[str]]] = []
    listed: set[int] = set()
    new_keys: dict[int, list[str]] = {}
    first: dict[int, tuple[T, Sequence[str]]] = {}
    for entry, keys in listing:
        ids = {seen[k] if k in seen else aliases[k] for k in keys if k in seen or k in aliases}
        if not ids:
            fresh.append((entry, keys))
            continue
        sid = min(ids)
        listed.add(sid)
        first.setdefault(sid, (entry, keys))
        missing = [k for k in keys if k not in seen]
        if missing:
            new_keys.setdefault(sid, []).extend(missing)
    return SeenSplit(fresh, listed, new_keys, first)


def drop_repeats(listing: Sequence[tuple[T, Sequence[str]]]) -> list[tuple[T, Sequence[str]]]:
    """``listing`` without the entries that share a key with an earlier one (the same story
    listed twice on one page): the first listing of each story stays."""
    taken: set[str] = set()
    first: list[tuple[T, Sequence[str]]] = []
    for entry, keys in listing:
        if taken.intersection(keys):
            continue
        taken.update(keys)
        first.append((entry, keys))
    return first
