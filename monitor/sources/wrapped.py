"""Feed URLs that answer with an HTML page: the feed the page wraps, or the error that says what to do.

Some CMSs and proxies put a feed inside a page template (``<html><body><feed ...>``):
plain feedparser finds the items, since its loose parser skips the HTML around them, so
:func:`wrapped_feed` cuts the feed out for the parsers. Any other page gets
:func:`html_page_error`, which names the feeds it advertises. Pure functions, no I/O.
"""

from __future__ import annotations

import re

from monitor.extract.links import advertised_feeds
from monitor.sources.prolog import HTMLPage, declaration_end

__all__ = ["html_page_error", "wrapped_feed"]

#: advertised feeds named in the error about an HTML page (more are counted, not listed)
_FEEDS_SHOWN = 3
#: the start of a feed's root element inside an HTML page (XML names: case-sensitive)
_FEED_ROOT = re.compile(rb"<(feed|rss|rdf:RDF)[\s>]")
_DOCTYPE = re.compile(rb"<!DOCTYPE\s", re.IGNORECASE)


def _prolog_start(body: bytes, root: int) -> int:
    """Where the wrapped feed's own prolog starts: its XML declaration and DOCTYPE, when
    they come right before its root element at ``root`` (whitespace between); else ``root``."""
    start = root
    while True:
        head = body[:start].rstrip()
        if head.endswith(b"?>") and (declaration := head.rfind(b"<?xml")) >= 0:
            start = declaration
            continue
        doctypes = list(_DOCTYPE.finditer(head))
        if head.endswith(b">") and doctypes and declaration_end(body, doctypes[-1].start()) == len(head):
            start = doctypes[-1].start()
            continue
        return start


def wrapped_feed(body: bytes) -> bytes | None:
    """The feed document inside the HTML page ``body``, or None when there is none.

    It runs from the feed's prolog (when right before its root element) or root element to
    the root's last end tag, or to the end of the page when that is missing.
    """
    found = _FEED_ROOT.search(body)
    if found is None:
        return None
    close = body.rfind(b"</" + found.group(1))
    end = body.find(b">", close) + 1 if close > found.start() else 0
    return body[_prolog_start(body, found.start()) : end or len(body)]


def html_page_error(body: bytes, url: str) -> HTMLPage:
    """The error for an HTML page fetched from a feed URL ``url``: it names the feeds the page
    advertises (``<link rel="alternate">``, absolute) to put under ``feed:``, and suggests
    ``page:``, which follows the page's article links, whether or not it advertises any."""
    feeds = advertised_feeds(body, url)
    if not feeds:
        return HTMLPage(
            "not a feed: looks like an HTML page, and it advertises no feed; "
            "to follow its article links, make the source page: instead of feed:"
        )
    listed = ", ".join(feeds[:_FEEDS_SHOWN])
    if len(feeds) > _FEEDS_SHOWN:
        listed += f" (and {len(feeds) - _FEEDS_SHOWN} more)"
    plural = "s" if len(feeds) > 1 else ""
    return HTMLPage(
        f"not a feed: looks like an HTML page; it advertises the feed{plural} {listed}: "
        f"put {'one' if plural else 'it'} under feed:, or make the source page: to follow its article links"
    )
