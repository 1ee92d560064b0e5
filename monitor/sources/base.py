"""The contract of a source kind: check its options, turn a fetched body into candidate stories.

A source kind is a small class registered in :data:`monitor.sources.REGISTRY` under the
key used in the YAML (``feed:``, ``page:``). It describes itself (:attr:`SourceKind.kind`,
:attr:`~SourceKind.description`, the :attr:`~SourceKind.options` it reads) and checks its
own options (:meth:`SourceKind.check_url`, :meth:`SourceKind.check`), so the config check
walks the registry instead of knowing the kinds.

It does no network I/O of its own: the pipeline fetches the body through the one HTTP
client and hands it over; the kind parses it (in the worker pool, since the bytes are
untrusted) and returns candidates. Article fetches for full text are the pipeline's job too.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

import soupsieve

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
    """What one poll of a source found.

    ``warning`` is for the debug log (what was odd about the document); ``note`` is what the
    user should know about the listing until a listing without it is read (a feed cut at
    the entry limit), said once in the log and shown by ``newsmonitor sources``.
    """

    candidates: list[Candidate]
    title: str = ""
    warning: str | None = None
    rejected: list[tuple[str, str]] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True, slots=True)
class OptionProblem:
    """An option of one source entry that cannot work: its key path inside the entry, and why.

    ``key`` is relative to the entry (``("include", 0)``); the config check puts
    ``sources[i]`` in front and finds the file position.
    """

    key: tuple[str | int, ...]
    message: str


class SourceKind(ABC):
    """One kind of source.

    Subclasses set ``kind``, ``description`` and ``options``, implement :meth:`list_stories`,
    and extend :meth:`check` when their options have rules of their own.
    """

    #: the YAML key that names this kind and holds the source's URL (the one key it requires)
    kind: ClassVar[str]
    #: what a URL of this kind points at, for people reading ``check`` output and docs
    description: ClassVar[str]
    #: the source options only this kind reads; every kind reads the common ones (name,
    #: interval, tags, headers, allow_networks, ...) and accepts the others without using them
    options: ClassVar[frozenset[str]] = frozenset()
    #: whether new stories always need their article fetched (pages list only links)
    always_full_text: ClassVar[bool] = False
    #: whether robots.txt applies to the source URL itself (feeds skip it, as feed readers do)
    obeys_robots: ClassVar[bool] = True

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings

    @classmethod
    def check_url(cls, url: str) -> str | None:
        """Why ``url``, the value under this kind's key, cannot be polled; None when it can.

        The base accepts http:// and https:// URLs with a host name, the only ones the
        HTTP client fetches.
        """
        try:
            parts = urlsplit(url.strip())
            host = parts.hostname
        except ValueError as exc:
            return f"malformed URL: {exc}"
        if parts.scheme.lower() not in ("http", "https"):
            return f"only http:// and https:// URLs are fetched (got scheme '{parts.scheme or 'none'}')"
        if not host:
            return "the URL has no host name"
        return None

    @classmethod
    def check(cls, settings: SourceSettings) -> list[OptionProblem]:
        """The problems of the options in ``settings`` for a source of this kind.

        ``settings`` has passed the settings model (types, ranges) and has its defaults
        resolved; the URL is :meth:`check_url`'s job. The base checks the link filters
        (``include:``, ``exclude:``, ``links:``): every kind accepts them, since a source can
        switch between ``feed:`` and ``page:`` without editing them, so every kind checks them.
        """
        return [*_pattern_problems(settings), *_selector_problems(settings)]

    @abstractmethod
    async def list_stories(
        self, body: bytes, *, url: str, content_type: str | None, pool: WorkerPool
    ) -> Listing:
        """Parse ``body`` (fetched from ``url``) into candidates. Raises ParseError."""


def _pattern_problems(settings: SourceSettings) -> Iterator[OptionProblem]:
    for key, patterns in (("include", settings.include), ("exclude", settings.exclude)):
        for j, pattern in enumerate(patterns):
            try:
                re.compile(pattern)
            except re.error as exc:
                yield OptionProblem((key, j), f"invalid regular expression: {exc}")


def _selector_problems(settings: SourceSettings) -> Iterator[OptionProblem]:
    if not settings.links:
        return
    try:
        soupsieve.compile(settings.links)
    except Exception as exc:  # soupsieve's SelectorSyntaxError, and others for odd input
        yield OptionProblem(("links",), f"invalid CSS selector: {exc}")
