"""Source kinds, by the key that names them in the YAML (``feed:``, ``page:``).

Each kind is a :class:`SourceKind` subclass that describes itself and checks its own
options; :data:`REGISTRY` is the one list of them. A new kind is one module here plus one
line in the registry (and its key in :class:`~monitor.config.models.SourceSettings`); the
config check and the registry tests then cover it.
"""

from __future__ import annotations

from monitor.sources.base import Candidate, Listing, OptionProblem, SourceKind
from monitor.sources.feed import FeedSource
from monitor.sources.page import PageSource

__all__ = ["REGISTRY", "Candidate", "Listing", "OptionProblem", "SourceKind", "kind_for"]

#: every source kind by the YAML key that names it; a source entry sets exactly one of these keys
REGISTRY: dict[str, type[SourceKind]] = {cls.kind: cls for cls in (FeedSource, PageSource)}


def kind_for(name: str) -> type[SourceKind]:
    """The SourceKind class registered as ``name`` (``feed`` or ``page``). Raises KeyError for others."""
    return REGISTRY[name]
