"""``feed:`` sources: RSS 0.9x/1.0/2.0, Atom and JSON Feed, parsed in the worker pool."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from monitor.sources.base import Candidate, Listing, SourceKind
from monitor.sources.feedparse import parse_feed

if TYPE_CHECKING:
    from monitor.sources.parsepool import WorkerPool

#: a feed item whose own text is shorter than this is a teaser (full_text: auto fetches the article)
TEASER_CHARS = 500


class FeedSource(SourceKind):
    kind = "feed"
    description = "an RSS, Atom or JSON Feed URL"
    options = frozenset({"full_text"})
    obeys_robots = False

    async def list_stories(
        self, body: bytes, *, url: str, content_type: str | None, pool: WorkerPool
    ) -> Listing:
        parsed = await pool.run(partial(parse_feed, url=url, content_type=content_type), body)
        candidates = []
        for entry in parsed.entries:
            text = entry.content if len(entry.content) >= len(entry.summary) else entry.summary
            candidates.append(
                Candidate(
                    link=entry.link,
                    title=entry.title,
                    guid=entry.guid,
                    text=text,
                    published=entry.published,
                    author=entry.author,
                    lang=entry.lang or parsed.lang,
                    teaser=len(text) < TEASER_CHARS,
                )
            )
        note = None
        if parsed.truncated_from is not None:
            note = f"feed has {parsed.truncated_from} entries, first {len(parsed.entries)} read"
        return Listing(candidates=candidates, title=parsed.title, warning=parsed.warning, note=note)
