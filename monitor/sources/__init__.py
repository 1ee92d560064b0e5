"""Source kinds, by the key that names them in the YAML (``feed:``, ``page:``)."""

from __future__ import annotations

from monitor.sources.base import Candidate, Listing, SourceKind

__all__ = ["REGISTRY", "Candidate", "Listing", "SourceKind", "kind_for"]


def _registry() -> dict[str, type[SourceKind]]:
    from monitor.sources.feed import FeedSource
    from monitor.sources.page import PageSource

    return {cls.kind: cls for cls in (FeedSource, PageSource)}


REGISTRY: dict[str, type[SourceKind]] = {}


def kind_for(name: str) -> type[SourceKind]:
    """The SourceKind class for ``name`` (``feed`` or ``page``)."""
    if not REGISTRY:
        REGISTRY.update(_registry())
    return REGISTRY[name]
