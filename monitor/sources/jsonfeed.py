"""JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1) with the standard library.

feedparser 6 reads JSON Feed too, but only as a last resort after both XML parsers failed,
and it lets ``json`` errors such as RecursionError or the integer-digits limit escape. Here
the document is decoded leniently (bad UTF-8 becomes U+FFFD), absurd numbers are kept as
strings, nesting beyond Python's recursion limit becomes a ParseError, and fields of the
wrong type are ignored instead of failing the whole feed. Pure, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from monitor.errors import ParseError
from monitor.sources.feedtext import (
    FeedEntry,
    ParsedFeed,
    clean_text,
    field_text,
    parse_date,
    resolve_link,
    title_text,
)

#: longest integer literal kept as a number (Python refuses to convert much longer ones anyway)
_MAX_INT_DIGITS = 100


def _int_or_text(literal: str) -> int | str:
    return int(literal) if len(literal) <= _MAX_INT_DIGITS else literal


def _no_constant(_: str) -> None:
    return None


def looks_like_json(body: bytes) -> bool:
    """Whether the first non-blank byte (after a UTF-8 BOM) opens a JSON object or array."""
    head = body[:64].removeprefix(b"\xef\xbb\xbf").lstrip()
    return head[:1] in (b"{", b"[")


def _author(item: dict[str, Any]) -> str | None:
    candidates: list[Any] = []
    if isinstance(item.get("authors"), list):
        candidates.extend(item["authors"])
    candidates.append(item.get("author"))
    for author in candidates:
        if isinstance(author, dict) and isinstance(author.get("name"), str):
            name = clean_text(author["name"])
            if name:
                return name
    return None


def _entry(item: dict[str, Any], base: str, feed_lang: str | None) -> FeedEntry:
    guid = item.get("id")
    guid_text = str(guid) if isinstance(guid, (str, int)) and not isinstance(guid, bool) else None
    link = resolve_link(item.get("url"), base) or resolve_link(item.get("external_url"), base)
    # capped as the other feeds' text fields are (``field_text``), plain text or HTML
    content = field_text(item.get("content_html"), "text/html") or field_text(
        item.get("content_text"), "text/plain"
    )
    published = parse_date(item.get("date_published")) or parse_date(item.get("date_modified"))
    lang = item.get("language")
    return FeedEntry(
        guid=clean_text(guid_text) or None if guid_text is not None else None,
        link=link,
        title=title_text(item.get("title"), "text/plain"),
        summary=field_text(item.get("summary"), "text/plain"),
        content=content,
        published=published,
        author=_author(item),
        lang=lang if isinstance(lang, str) and lang else feed_lang,
    )


def parse_json_feed(body: bytes, *, url: str, max_entries: int = 2000) -> ParsedFeed:
    """Parse a JSON Feed document into a :class:`ParsedFeed` (``parser="jsonfeed"``).

    Raises ParseError when the body is not JSON, nests too deeply, or is JSON but not a JSON
    Feed (no ``items`` list). Items that are not objects are skipped and counted in ``warning``.
    """
    text = body.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="replace")
    try:
        doc = json.loads(text, parse_int=_int_or_text, parse_constant=_no_constant, strict=False)
    except RecursionError:
        raise ParseError("not a feed: JSON nested too deeply") from None
    except ValueError as exc:
        raise ParseError(f"not a feed: invalid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ParseError("not a feed: JSON document is not an object")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("not a feed: JSON Feed has no 'items' list")
    version = doc.get("version")
    warnings: list[str] = []
    if not (isinstance(version, str) and version.startswith("https://jsonfeed.org/version/")):
        warnings.append("JSON document without a JSON Feed version")
    base = resolve_link(doc.get("home_page_url"), url) or url
    feed_lang = doc.get("language") if isinstance(doc.get("language"), str) else None
    entries: list[FeedEntry] = []
    skipped = 0
    truncated_from: int | None = None
    for item in items:
        if not isinstance(item, dict):
            skipped += 1
            continue
        if len(entries) >= max_entries:
            warnings.append(f"only the first {max_entries} of {len(items)} items were read")
            truncated_from = len(items)
            break
        entries.append(_entry(item, base, feed_lang))
    if skipped:
        warnings.append(f"skipped {skipped} items that are not JSON objects")
    return ParsedFeed(
        title=title_text(doc.get("title"), "text/plain"),
        link=resolve_link(doc.get("home_page_url"), url),
        lang=feed_lang or None,
        entries=entries,
        parser="jsonfeed",
        warning="; ".join(warnings) or None,
        truncated_from=truncated_from,
    )
