"""``page:`` sources: a news section page without a feed; article links are discovered on it."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from monitor.extract.links import discover_links
from monitor.sources.base import Candidate, Listing, OptionProblem, SourceKind

if TYPE_CHECKING:
    from monitor.config.models import SourceSettings
    from monitor.sources.parsepool import WorkerPool


class PageSource(SourceKind):
    kind = "page"
    description = "a section page (HTML) whose article links are followed"
    options = frozenset({"links", "include", "exclude"})
    always_full_text = True

    @classmethod
    def check(cls, settings: SourceSettings) -> list[OptionProblem]:
        """The base checks, and ``full_text: false`` written on the entry is refused.

        A page lists only links, so its stories always need their article fetched; an
        inherited ``defaults.full_text: false`` is meant for the feeds and is not an error.
        """
        problems = super().check(settings)
        if "full_text" in settings.model_fields_set and settings.full_text is False:
            problems.append(
                OptionProblem(
                    ("full_text",),
                    "page sources always fetch the article text; full_text: false is only for feeds",
                )
            )
        return problems

    async def list_stories(
        self, body: bytes, *, url: str, content_type: str | None, pool: WorkerPool
    ) -> Listing:
        s = self.settings
        job = partial(discover_links, selector=s.links, include=tuple(s.include), exclude=tuple(s.exclude))
        report = await pool.run(job, body, url)
        candidates = [Candidate(link=link.url, title=link.text, teaser=True) for link in report.accepted]
        return Listing(candidates=candidates, rejected=list(report.rejected))
