"""What a parsed feed is (:class:`FeedEntry`, :class:`ParsedFeed`) and the normalisation of
text, links and dates that every feed parser path shares.

Pure functions, no I/O. HTML is turned into text with lxml's HTML parser (never regular
expressions), scripts and styles are dropped, control characters removed and whitespace
collapsed, so every parser path hands the same kind of text to the rules.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type stubs


@dataclass(slots=True)
class FeedEntry:
    """One item of a feed, normalised.

    ``title``/``summary``/``content`` are plain text (HTML stripped, control characters removed,
    whitespace collapsed, one line per block); ``link`` is an absolute http(s) URL or None;
    ``published`` is tz-aware UTC (the updated date when there is no published date) or None.
    """

    guid: str | None
    link: str | None
    title: str
    summary: str
    content: str
    published: datetime | None
    author: str | None
    lang: str | None


@dataclass(slots=True)
class ParsedFeed:
    """A whole feed. ``parser`` is "fastfeedparser", "feedparser" or "jsonfeed"; ``warning``
    says what was odd about a feed whose stories were still recovered (None when nothing was);
    ``truncated_from`` is how many items the document holds when it holds more than the
    parser's ``max_entries`` (only the first ``max_entries`` are in ``entries``), else None."""

    title: str
    link: str | None
    lang: str | None
    entries: list[FeedEntry]
    parser: str
    warning: str | None = None
    truncated_from: int | None = None


#: elements whose text never reaches the reader
_INVISIBLE = frozenset(
    {"script", "style", "template", "noscript", "head", "title", "iframe", "object", "svg"}
)
#: elements that start a new line of text
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure",
        "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
        "section", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip

# C0 and C1 controls (except tab and newline), DEL, and the XML non-characters
_CONTROL = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), *range(127, 160), 0xFFFE, 0xFFFF])
_SURROGATES = re.compile("[\ud800-\udfff]")
_HTML_PARSER = etree.HTMLParser(
    recover=True, no_network=True, remove_comments=True, remove_pis=True, default_doctype=False
)


def clean_text(text: str) -> str:
    """``text`` without control characters or lone surrogates, whitespace collapsed per line.

    Lines are kept (joined by ``\\n``), blank lines dropped.
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL)
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("", text)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment, one line per block element, cleaned by :func:`clean_text`.

    Never raises: markup lxml cannot parse at all gives the empty string.
    """
    if "<" not in markup and "&" not in markup:
        return clean_text(markup)
    # lxml refuses strings with NUL and other XML-illegal characters
    markup = markup.translate(_CONTROL)
    try:
        root = etree.fromstring(f"<html><body><div>{markup}</div></body></html>", _HTML_PARSER)
    except (etree.LxmlError, ValueError):
        return ""
    if root is None:
        return ""
    return clean_text("".join(_visible_text(root)))


def _visible_text(root: etree._Element) -> list[str]:
    """The text pieces of ``root`` a reader sees, with a line break around each block element."""
    parts: list[str] = []
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start" and tag in _INVISIBLE:
            walker.skip_subtree()
            continue
        if tag in _BLOCKS:
            parts.append("\n")
        text = element.text if event == "start" else element.tail
        if text:
            parts.append(text)
    return parts


#: longest title kept (a 5 MiB title is an attack or a bug, never a headline)
MAX_TITLE_CHARS = 1000
#: longest summary/content kept per field
MAX_TEXT_CHARS = 500_000


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def field_text(value: object, content_type: str | None) -> str:
    """Plain text of a feed field whose declared type is ``content_type`` (HTML unless it says text/plain).

    At most :data:`MAX_TEXT_CHARS` characters (cut with "…").
    """
    if not isinstance(value, str) or not value:
        return ""
    if content_type and "plain" in content_type:
        return _cap(clean_text(value), MAX_TEXT_CHARS)
    return _cap(html_to_text(value), MAX_TEXT_CHARS)


def title_text(value: object, content_type: str | None = "text/html") -> str:
    """A title as one line of plain text, at most :data:`MAX_TITLE_CHARS` characters."""
    return _cap(field_text(value, content_type).replace("\n", " "), MAX_TITLE_CHARS)


def resolve_link(link: object, base: str) -> str | None:
    """``link`` made absolute against ``base``; ``None`` unless the result is an http(s) URL with a host.

    Links with other schemes (``javascript:``, ``data:``, ``file:``) are dropped here so that no
    later stage can follow or render them by accident.
    """
    if not isinstance(link, str):
        return None
    link = clean_text(link).replace("\n", "")
    if not link:
        return None
    try:
        absolute = urljoin(base, link) if base else link
        parts = urlsplit(absolute)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return absolute


def from_struct_time(value: object) -> datetime | None:
    """Tz-aware UTC datetime from feedparser's UTC ``*_parsed`` struct_time; odd values give None."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def parse_date(value: object) -> datetime | None:
    """A tz-aware UTC datetime from an RFC 3339/ISO 8601 or RFC 822 date string; None when it is not one.

    Dates without a zone are taken as UTC. Never raises.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 100:
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    try:
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
