"""The feeds an HTML page advertises in its head (``<link rel="alternate" type="application/rss+xml">``), pure."""

from __future__ import annotations

import lxml.html  # type: ignore[import-untyped]  # lxml ships no type stubs
from lxml import etree

from monitor.extract.charset import decode_html
from monitor.extract.urls import normalize_url

__all__ = ["FEED_TYPES", "advertised_feeds"]

#: the media types of a ``<link rel="alternate">`` that points at a feed
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
    }
)
#: a page advertising more than this many feeds is listed up to here
MAX_FEEDS = 10


def advertised_feeds(html: bytes | str, url: str) -> list[str]:
    """The absolute, normalised URLs of the feeds the page at ``url`` advertises, in page
    order, without repeats (at most :data:`MAX_FEEDS`); ``[]`` when it advertises none or
    is no HTML. Honours ``<base href>``. Never raises."""
    # the same bounded parser settings as link discovery: no network, no huge trees
    parser = lxml.html.HTMLParser(recover=True, no_network=True, remove_comments=True, huge_tree=False)
    try:
        root = lxml.html.document_fromstring(decode_html(html), parser=parser)
    except (etree.ParserError, ValueError, etree.XMLSyntaxError):
        return []
    base = next((b.get("href") for b in root.iter("base") if b.get("href")), None)
    base_url = normalize_url(base, url) if base else url
    feeds: list[str] = []
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        media = (link.get("type") or "").split(";")[0].strip().lower()
        href = link.get("href")
        if "alternate" not in rel or media not in FEED_TYPES or not href:
            continue
        feed = normalize_url(href.strip(), base_url or url)
        if feed and feed not in feeds:
            feeds.append(feed)
        if len(feeds) == MAX_FEEDS:
            break
    return feeds
