"""The contract of a source kind: turn a fetched body into candidate stories.

A source kind is a small class registered in :data:`monitor.sources.REGISTRY` under the
key used in the YAML (``feed:``, ``page:``). It does no network I/O of its own: the
pipeline fetches the body through the one HTTP client and hands it over; the kind parses
it (in the worker pool, since the bytes are untrusted) and returns candidates. Article
fetches for full text are the pipeline's job too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from monitor.config.models import SourceSettings
    from monitor.sources.parsepool import WorkerPool


@dataclass(slots=True)
class Candidate:
    """A story as listed by its source, before identity and full text."""

    link: str | None
    title: str
    guid: str | None = None
    text: str = ""
    published: datetime | None = None
    author: str | None = None
    lang: str | None = None
    #: the source only gave a teaser (or nothing): fetch the article when full_text allows
    teaser: bool = True


@dataclass(slots=True)
class Listing:
    """What one poll of a source found."""

    candidates: list[Candidate]
    title: str = ""
    warning: str | None = None
    rejected: list[tuple[str, str]] = field(default_factory=list)


class SourceKind(ABC):
    """One kind of source. Subclasses set ``kind`` and ``description`` and implement :meth:`list_stories`."""

    kind: ClassVar[str]
    description: ClassVar[str]
    #: whether new stories always need their article fetched (pages list only links)
    always_full_text: ClassVar[bool] = False
    #: whether robots.txt applies to the source URL itself (feeds skip it, as feed readers do)
    obeys_robots: ClassVar[bool] = True

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings

    @abstractmethod
    async def list_stories(
        self, body: bytes, *, url: str, content_type: str | None, pool: WorkerPool
    ) -> Listing:
        """Parse ``body`` (fetched from ``url``) into candidates. Raises ParseError."""
