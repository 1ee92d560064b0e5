"""``page:`` sources: a news section page without a feed; article links are discovered on it."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from monitor.extract.links import discover_links
from monitor.sources.base import Candidate, Listing, SourceKind

if TYPE_CHECKING:
    from monitor.sources.parsepool import WorkerPool


class PageSource(SourceKind):
    kind = "page"
    description = "a section page (HTML) whose article links are followed"
    always_full_text = True

    async def list_stories(
        self, body: bytes, *, url: str, content_type: str | None, pool: WorkerPool
    ) -> Listing:
        s = self.settings
        job = partial(discover_links, selector=s.links, include=tuple(s.include), exclude=tuple(s.exclude))
        report = await pool.run(job, body, url)
        candidates = [Candidate(link=link.url, title=link.text, teaser=True) for link in report.accepted]
        return Listing(candidates=candidates, rejected=list(report.rejected))
