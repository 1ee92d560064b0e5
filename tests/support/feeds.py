"""RSS documents for local feed servers: items the tests write, serialised as RSS 2.0."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime


@dataclass
class Item:
    """One RSS ``<item>``: what a feed lists about a story."""

    title: str
    link: str
    guid: str | None = None
    description: str = ""
    published: datetime | None = None


def rss(items: list[Item], title: str = "Test feed") -> str:
    """An RSS 2.0 document listing ``items`` in order."""
    out = []
    for it in items:
        guid = f'<guid isPermaLink="false">{html.escape(it.guid)}</guid>' if it.guid else ""
        date = f"<pubDate>{format_datetime(it.published)}</pubDate>" if it.published else ""
        out.append(
            f"<item><title>{html.escape(it.title)}</title><link>{html.escape(it.link)}</link>{guid}{date}"
            f"<description>{html.escape(it.description)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{html.escape(title)}</title><link>http://example.test/</link><description>t</description>"
        + "".join(out)
        + "</channel></rss>"
    )


def story_items(n: int, start: int = 0, base: str = "http://127.0.0.1/news", words: str = "") -> list[Item]:
    """``n`` distinct stories numbered from ``start``, newest first, each with ``words`` in title and body."""
    now = datetime.now(UTC)
    return [
        Item(
            title=f"Story number {i} {words}".strip(),
            link=f"{base}/2026/01/story-{i}",
            guid=f"guid-{i}",
            description=f"Body of story {i}. {words} " + "Filler sentence about the weather. " * 20,
            published=now - timedelta(minutes=i),
        )
        for i in range(start, start + n)
    ]
