"""One page of the sources table: the whole set filtered and sorted on the server, then cut.

The page and ``/api/sources`` read the same :class:`SourceQuery` from the query string
(``q``, ``state``, ``sort``, ``desc``, ``page``, ``per_page``) and show the same
:class:`SourcePage`, so a filter or a sort order always covers every source, however many
there are, and only the rows of one page are ever rendered. Pure: plain values in and out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from monitor.web.view import SourceHealth, SourceStatus

#: rows on one page unless ``per_page`` says otherwise, and the most it may say
PER_PAGE = 100
MAX_PER_PAGE = 500
MAX_Q = 200

#: the default order: what needs attention first, the healthy last
ATTENTION = (
    SourceHealth.FAILING,
    SourceHealth.GONE,
    SourceHealth.BLOCKED,
    SourceHealth.EMPTY,
    SourceHealth.STALE,
    SourceHealth.NEVER_POLLED,
    SourceHealth.DISABLED,
    SourceHealth.OK,
)
_RANK = {health: i for i, health in enumerate(ATTENTION)}

SORT_KEYS: dict[str, Callable[[SourceStatus], Any]] = {
    "name": lambda s: s.name.lower(),
    "state": lambda s: (_RANK[s.health], s.name.lower()),
    "kind": lambda s: (s.kind, s.name.lower()),
    "last_poll": lambda s: s.last_poll_at or 0.0,
    "next_poll": lambda s: s.next_poll_at or 0.0,
    "stories": lambda s: s.stories,
    "last_error": lambda s: s.last_error,
}


class BadSourceQuery(ValueError):
    """A query-string value the sources list cannot use; the message says what is allowed."""


def _whole(params: Mapping[str, str], key: str, default: int, top: int) -> int:
    value = params.get(key, "")
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= top:
        raise BadSourceQuery(f"{key} must be a whole number from 1 to {top}")
    return int(value)


@dataclass(frozen=True, slots=True)
class SourceQuery:
    """Which sources to show: those whose name, kind, state or (redacted) last error holds
    ``q`` (any case), in state ``state`` (empty: any), sorted by ``sort`` (descending with
    ``desc``), page ``page`` (from 1) of ``per_page`` rows."""

    q: str = ""
    state: str = ""
    sort: str = "state"
    desc: bool = False
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> SourceQuery:
        """The query of a request's query string; raises :class:`BadSourceQuery` on a state,
        sort key, page or page size it does not know (a long ``q`` is cut, not refused)."""
        state, sort = params.get("state", ""), params.get("sort", "") or "state"
        if state and state not in {h.value for h in SourceHealth}:
            raise BadSourceQuery(f"state must be one of: {', '.join(h.value for h in SourceHealth)}")
        if sort not in SORT_KEYS:
            raise BadSourceQuery(f"sort must be one of: {', '.join(SORT_KEYS)}")
        return cls(
            q=params.get("q", "")[:MAX_Q],
            state=state,
            sort=sort,
            desc=params.get("desc") == "1",
            page=_whole(params, "page", 1, 10**9),
            per_page=_whole(params, "per_page", PER_PAGE, MAX_PER_PAGE),
        )

    def query_string(self, **changes: Any) -> str:
        """This query (with ``changes``) as a query string, defaults left out."""
        query = replace(self, **changes)
        pairs = {
            "q": query.q,
            "state": query.state,
            "sort": "" if query.sort == "state" else query.sort,
            "desc": "1" if query.desc else "",
            "page": "" if query.page == 1 else str(query.page),
            "per_page": "" if query.per_page == PER_PAGE else str(query.per_page),
        }
        return urlencode({k: v for k, v in pairs.items() if v})

    def matches(self, source: SourceStatus) -> bool:
        if self.state and source.health.value != self.state:
            return False
        words = self.q.strip().lower()
        return not words or any(words in f.lower() for f in (source.name, source.kind, source.detail, source.last_error))


@dataclass(frozen=True, slots=True)
class SourcePage:
    """The rows of one page, with ``matched`` (sources the filter kept), ``total`` (all of
    them) and ``counts`` (sources in each state, of all; states with none absent)."""

    query: SourceQuery
    rows: Sequence[SourceStatus]
    matched: int
    total: int
    counts: Mapping[str, int]

    @property
    def pages(self) -> int:
        """How many pages the matched sources fill (at least one)."""
        return max(1, -(-self.matched // self.query.per_page))

    @property
    def first(self) -> int:
        """The position (from 1) of the first row shown among the matched; 0 when none is."""
        return (self.query.page - 1) * self.query.per_page + 1 if self.rows else 0

    def link(self, path: str, page: int) -> str | None:
        """``path`` with this query at page ``page``, None when there is no such page."""
        if not 1 <= page <= self.pages:
            return None
        qs = self.query.query_string(page=page)
        return f"{path}?{qs}" if qs else path

    def to_json(self, path: str) -> dict[str, Any]:
        """The body of ``/api/sources`` (``path`` is the route, for the ``next`` and ``prev`` links)."""
        query = self.query
        return {
            "sources": [s.to_json() for s in self.rows],
            "total": self.total,
            "matched": self.matched,
            "counts": dict(self.counts),
            "page": query.page,
            "per_page": query.per_page,
            "pages": self.pages,
            "next": self.link(path, query.page + 1),
            "prev": self.link(path, query.page - 1) if query.page <= self.pages else self.link(path, self.pages),
        }


def source_page(sources: Sequence[SourceStatus], query: SourceQuery) -> SourcePage:
    """The page of ``sources`` that ``query`` asks for: filtered and sorted over all of them
    (ties keep their given order), then cut to one page (empty past the last)."""
    counts = Counter(s.health.value for s in sources)
    kept = [s for s in sources if query.matches(s)] if query.q.strip() or query.state else list(sources)
    kept.sort(key=SORT_KEYS[query.sort], reverse=query.desc)
    start = (query.page - 1) * query.per_page
    return SourcePage(
        query=query,
        rows=kept[start : start + query.per_page],
        matched=len(kept),
        total=len(sources),
        counts=dict(sorted(counts.items(), key=lambda kv: _RANK[SourceHealth(kv[0])])),
    )
