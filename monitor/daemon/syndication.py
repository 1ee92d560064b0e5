"""Syndication clusters where instances share a PostgreSQL store: the index is the database's.

An instance alone on its SQLite file keeps the recent stories' signatures in memory
(:class:`~monitor.identity.clusters.ClusterIndex`, rebuilt from the database at start) and
decides a story's cluster before its poll is recorded. Instances sharing a database cannot:
a copy of the same wire story may be recorded by another instance a moment earlier, or at the
same moment. So there the cluster is decided in the transaction that records the poll:

* on the CPU thread, :func:`sign_stories` computes each new story's text signature, title key
  and band keys, and gives it its own key as a provisional cluster (the rules match and the
  outbox rows are planned with it);
* in the transaction, the store locks the band keys, finds the copies sharing them
  (:mod:`monitor.store.bands`) and calls :func:`shared_clusters`' ``settle``, which decides
  each story's cluster as the in-memory index would (:func:`~monitor.identity.clusters.settle_clusters`)
  and gives each alert row of a story that joined an earlier cluster that cluster's
  idempotency key, so that the outbox keeps one row per rule, cluster and destination.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from monitor.daemon.alerts import Dedup
from monitor.identity.keys import idempotency_key
from monitor.models import MessageKind, Story
from monitor.store import repo
from monitor.store.bands import StoredCopy
from monitor.store.facade import SharedClusters

if TYPE_CHECKING:
    # imported when clustering starts (numpy and friends), not when the daemon module loads
    from monitor.identity.clusters import Signature


def sign_stories(stories: Sequence[Story], by_text: bool) -> tuple[list[Dedup], list[list[int]]]:
    """Each story's (provisional cluster, signature, title key) and band keys; each story's
    cluster is its own key until the recording transaction settles it. ``by_text`` False
    (priming) skips the text signatures, as the in-memory index does. CPU work, pure."""
    from monitor.identity.clusters import story_bands, text_signature, title_key

    dedup: list[Dedup] = []
    bands: list[list[int]] = []
    for story in stories:
        sig = text_signature(story.text) if by_text and len(story.text) > 200 else None
        tkey = title_key(story.title)
        story.cluster = story.key
        dedup.append((story.key, sig.to_bytes() if sig is not None else None, tkey))
        bands.append(story_bands(sig, tkey))
    return dedup, bands


def shared_clusters(
    stories: Sequence[Story],
    dedup: Sequence[Dedup],
    bands: Sequence[Sequence[int]],
    rows: Sequence[repo.OutboxRow],
    *,
    now: float,
    window: float,
) -> SharedClusters:
    """What the store needs to settle the clusters of a poll's new ``stories`` (with their
    ``dedup`` and ``bands`` from :func:`sign_stories`, and the poll's outbox ``rows``)
    recorded at ``now``, against the copies recorded within ``window`` seconds before."""
    from monitor.identity.clusters import Copy, settle_clusters

    def settle(found: Sequence[StoredCopy]) -> tuple[list[str], list[repo.OutboxRow]]:
        known = [Copy(c.cluster, _signature(c.signature), c.title_key, c.at) for c in found]
        new = [(story.key, _signature(sig), tkey) for story, (_, sig, tkey) in zip(stories, dedup, strict=True)]
        clusters = settle_clusters(known, new, now, window_seconds=window)
        joined: dict[int, str] = {}
        for index, (story, cluster) in enumerate(zip(stories, clusters, strict=True)):
            if cluster != story.key:
                joined[index] = cluster
            story.cluster = cluster
        return clusters, [_rekeyed(row, joined) for row in rows]

    return SharedClusters(bands=bands, since=now - window, settle=settle)


def _rekeyed(row: repo.OutboxRow, joined: dict[int, str]) -> repo.OutboxRow:
    """``row`` as the cluster its story joined makes it (an alert's subject is its cluster)."""
    cluster = joined.get(row.story_index) if row.story_index is not None else None
    if cluster is None or row.kind is not MessageKind.ALERT:
        return row
    return replace(row, key=idempotency_key(row.rule, cluster, row.dest), cluster=cluster)


def _signature(data: bytes | None) -> Signature | None:
    from monitor.identity.clusters import Signature

    if data is None:
        return None
    try:
        return Signature.from_bytes(data)
    except ValueError:  # written by another version: the story clusters on its title alone
        return None
