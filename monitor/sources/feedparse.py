"""Turn a fetched feed body (RSS 0.9x/1.0/2.0, Atom, JSON Feed) into a :class:`ParsedFeed`.

The one entry point is :func:`parse_feed`. It is pure and CPU-bound and its input is
hostile, so the daemon runs it in :class:`monitor.sources.parsepool.WorkerPool`, never on the loop.

Order of work: JSON bodies go to :mod:`monitor.sources.jsonfeed`; XML bodies first pass the
prolog guard (:mod:`monitor.sources.prolog`, refuses entity bombs and XXE, strips the
DOCTYPE), then fastfeedparser (lxml, fast) reads them; feedparser (expat plus a forgiving
loose parser) is the fallback whenever fastfeedparser raises or finds no items, because it
recovers items from broken documents that lxml gives up on. Both only ever get bytes:
either library treats a ``str`` as a URL (and feedparser also as a file path) to open.
See benchmarks/feedparse.py for the measurement behind this order.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import fastfeedparser
import feedparser

from monitor.errors import ParseError
from monitor.sources.feedtext import (
    FeedEntry,
    ParsedFeed,
    clean_text,
    field_text,
    from_struct_time,
    parse_date,
    resolve_link,
    title_text,
)
from monitor.sources.jsonfeed import looks_like_json, parse_json_feed
from monitor.sources.prolog import HostileXML, HTMLPage, Prepared, prepare_xml
from monitor.sources.wrapped import html_page_error, wrapped_feed

__all__ = ["FeedEntry", "HostileXML", "ParsedFeed", "html_page_error", "parse_feed", "parse_with"]

_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})


def _optional(value: object) -> str | None:
    return (clean_text(value) or None) if isinstance(value, str) else None


def _content_text(contents: object) -> str:
    """Text of an entry's content list (Atom may carry several alternatives; keep distinct ones)."""
    if not isinstance(contents, list):
        return ""
    texts: list[str] = []
    for part in contents:
        if isinstance(part, Mapping):
            text = field_text(part.get("value"), part.get("type"))
            if text and text not in texts:
                texts.append(text)
    return "\n".join(texts)


def _charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip(" \"'"):
            return value.strip(" \"'").lower()
    return None


_DECLARED = re.compile(rb"""^<\?xml[^>]*?\bencoding\s*=\s*["']([^"']+)""")


def _fast_path_ok(charset: str | None, body: bytes) -> bool:
    """Whether fastfeedparser will decode ``body`` right.

    It reads only the XML declaration (UTF-8 when there is none) and replaces undecodable
    bytes, so an HTTP charset that disagrees, or "UTF-8" that is not, needs feedparser.
    """
    m = _DECLARED.match(body)
    declared = m.group(1).decode("ascii", "replace") if m else "utf-8"
    try:
        declared = codecs.lookup(declared).name
        if charset is not None and codecs.lookup(charset).name != declared:
            return False
    except LookupError:
        return False
    if declared == "utf-8":
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


# --- feedparser ---------------------------------------------------------------------------


def _is_truncation(message: str) -> bool:
    return any(s in message for s in ("no element found", "unclosed", "junk after document element"))


def _from_feedparser(prepared: Prepared, url: str, charset: str | None, max_entries: int) -> ParsedFeed:
    # without a content-type feedparser flags every feed as bozo ("no Content-type specified");
    # no content-location: feedparser would resolve GUIDs against it (<id>right</id> becoming
    # https://host/feeds/right), and we resolve the links ourselves
    headers = {"content-type": "application/xml"}
    if charset:
        headers["content-type"] += f"; charset={charset}"
    try:
        # sanitising and URI rewriting are skipped: we keep plain text only and resolve links ourselves
        result = feedparser.parse(
            io.BytesIO(prepared.body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser raises odd types on fuzzed input
        raise ParseError(f"feedparser failed: {type(exc).__name__}: {exc}") from None
    problem = str(result.get("bozo_exception") or "") if result.get("bozo") else ""
    feed = result.get("feed") or {}
    raw_entries = result.get("entries") or []
    if not raw_entries and (problem or not result.get("version")):
        if problem and _is_truncation(problem):
            raise ParseError(f"truncated document: no stories recovered ({problem})")
        if prepared.root is not None and prepared.root not in _FEED_ROOTS:
            raise ParseError(f"not a feed: the document's root element is <{prepared.root}>")
        raise ParseError(f"not a feed: {problem or 'no RSS, Atom or RDF elements found'}")
    base = url
    feed_lang = _optional(feed.get("language")) or _optional((feed.get("title_detail") or {}).get("language"))
    entries = [_entry_from_feedparser(raw, base, feed_lang) for raw in raw_entries[:max_entries]]
    warnings = list(prepared.notes)
    if problem:
        label = "truncated document" if _is_truncation(problem) else "ill-formed feed"
        warnings.append(f"{label}, {len(entries)} stories recovered: {problem}")
    if len(raw_entries) > max_entries:
        warnings.append(f"only the first {max_entries} of {len(raw_entries)} items were read")
    return ParsedFeed(
        title=title_text(feed.get("title"), (feed.get("title_detail") or {}).get("type")),
        link=resolve_link(feed.get("link"), url),
        lang=feed_lang,
        entries=entries,
        parser="feedparser",
        warning="; ".join(warnings) or None,
        truncated_from=len(raw_entries) if len(raw_entries) > max_entries else None,
    )


def _entry_from_feedparser(raw: Mapping[str, Any], base: str, feed_lang: str | None) -> FeedEntry:
    summary_detail = raw.get("summary_detail") or {}
    title_detail = raw.get("title_detail") or {}
    summary = field_text(raw.get("summary"), summary_detail.get("type"))
    content = _content_text(raw.get("content"))
    if content == summary:
        content = ""  # RSS <description> only; some parsers copy it into content too
    lang = _optional(summary_detail.get("language")) or _optional(title_detail.get("language")) or feed_lang
    return FeedEntry(
        guid=_optional(raw.get("id")),
        link=_story_link(raw, base),
        title=title_text(raw.get("title"), title_detail.get("type")),
        summary=summary,
        content=content,
        published=from_struct_time(raw.get("published_parsed"))
        or from_struct_time(raw.get("updated_parsed")),
        author=_optional(raw.get("author")),
        lang=lang,
    )


_PAGE_TYPES = frozenset({"", "text/html", "application/xhtml+xml"})


def _page_links(raw: Mapping[str, Any], rel: str) -> Iterator[object]:
    """The hrefs of the entry's links with relation ``rel`` that name a web page (no type, or HTML)."""
    links = raw.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, Mapping) and link.get("rel") == rel:
            media_type = link.get("type")
            if not isinstance(media_type, str) or media_type.split(";")[0].strip().lower() in _PAGE_TYPES:
                yield link.get("href")


def _story_link(raw: Mapping[str, Any], base: str) -> str | None:
    """The first http(s) link of a feedparser entry that names the story's page, or None.

    In order: its link (feedparser keeps the last alternate one, which may be ``at://`` or
    ``javascript:``), every alternate link, an enclosure that is a web page, and last the GUID
    when it is an absolute http(s) URL as written (feedparser forgets ``isPermaLink`` once an
    item has a link element, so the URL itself is the evidence). A GUID that is not a URL
    never becomes a link, not even resolved against the feed's address: that page is made up.
    """
    guid = raw.get("id")
    link = raw.get("link")
    candidates = [] if link == guid else [link]  # feedparser copies a permalink GUID into link
    for candidate in (*candidates, *_page_links(raw, "alternate"), *_page_links(raw, "enclosure")):
        resolved = resolve_link(candidate, base)
        if resolved:
            return resolved
    return resolve_link(guid, "")


# --- fastfeedparser -----------------------------------------------------------------------


_LANGUAGE = re.compile(rb"<(?:[-\w.]+:)?language>\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3})\s*</")
_XML_LANG = re.compile(
    rb"""<[^!?][^>]*?\bxml:lang\s*=\s*["']([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3})["']"""
)
_FIRST_ITEM = re.compile(rb"<(?:[-\w.]+:)?(?:item|entry)[\s>/]")


def _head_language(body: bytes) -> str | None:
    """The channel's <language>/<dc:language> or the root's xml:lang (fastfeedparser reads only xml:lang)."""
    first = _FIRST_ITEM.search(body)
    head = body[: first.start() if first else 8192]
    m = _LANGUAGE.search(head) or _XML_LANG.search(head)
    return m.group(1).decode("ascii") if m else None


def _closing_tag_missing(body: bytes, root: str | None) -> bool:
    """Whether the document ends without closing its root element (cut off in transfer)."""
    if root is None:
        return False
    tail = body[-1024:]
    return re.search(rb"</(?:[-\w.]+:)?" + re.escape(root.encode()) + rb"\s*>", tail, re.IGNORECASE) is None


def _from_fastfeedparser(prepared: Prepared, url: str, max_entries: int) -> ParsedFeed:
    result = fastfeedparser.parse(
        prepared.body, include_tags=False, include_media=False, include_enclosures=False
    )
    feed = result.get("feed") or {}
    raw_entries = result.get("entries") or []
    base = url  # relative links resolve against the document's own URL (xml:base is not applied)
    feed_lang = _optional(feed.get("language")) or _head_language(prepared.body)
    entries = [_entry_from_fastfeedparser(raw, base, feed_lang) for raw in raw_entries[:max_entries]]
    warnings = list(prepared.notes)
    if _closing_tag_missing(prepared.body, prepared.root):
        warnings.append(
            f"truncated document, {len(entries)} stories recovered: no closing </{prepared.root}> tag"
        )
    if len(raw_entries) > max_entries:
        warnings.append(f"only the first {max_entries} of {len(raw_entries)} items were read")
    return ParsedFeed(
        # fastfeedparser labels unescaped HTML titles text/plain, so strip tags regardless
        title=title_text(feed.get("title"), "text/html"),
        link=resolve_link(feed.get("link"), url),
        lang=feed_lang,
        entries=entries,
        parser="fastfeedparser",
        warning="; ".join(warnings) or None,
        truncated_from=len(raw_entries) if len(raw_entries) > max_entries else None,
    )


def _entry_from_fastfeedparser(raw: Mapping[str, Any], base: str, feed_lang: str | None) -> FeedEntry:
    summary = field_text(raw.get("description"), "text/html")
    content = _content_text(raw.get("content"))
    if content == summary:
        content = ""  # RSS <description> only; some parsers copy it into content too
    return FeedEntry(
        guid=_optional(raw.get("id")),
        link=resolve_link(raw.get("link"), base),
        title=title_text(raw.get("title"), "text/html"),
        summary=summary,
        content=content,
        published=parse_date(raw.get("published")) or parse_date(raw.get("updated")),
        author=_optional(raw.get("author")),
        lang=feed_lang,
    )


# --- entry point --------------------------------------------------------------------------

#: the XML parsers by name, for :func:`parse_with` and the benchmark
_XML_PARSERS: dict[str, Callable[[Prepared, str, str | None, int], ParsedFeed]] = {
    "feedparser": _from_feedparser,
    "fastfeedparser": lambda prepared, url, _charset, max_entries: _from_fastfeedparser(
        prepared, url, max_entries
    ),
}


def parse_with(
    parser: str, body: bytes, *, url: str, content_type: str | None = None, max_entries: int = 2000
) -> ParsedFeed:
    """Parse an XML feed with one named parser ("feedparser" or "fastfeedparser") after the prolog guard.

    For comparisons and debugging; exceptions of the parser itself are not translated.
    """
    prepared = prepare_xml(body, _charset(content_type))
    return _XML_PARSERS[parser](prepared, url, None if prepared.utf8 else _charset(content_type), max_entries)


#: fastfeedparser agreed with feedparser on 90.2 % of the corpus items on its own (97.2 % with
#: the fallback), under the 99 % bar for using it as the fast path, so feedparser parses every
#: feed first and fastfeedparser is only the rescue for a feed feedparser raises on or finds
#: empty; see benchmarks/feedparse.py for the comparison and what the fast parser gets wrong.
USE_FAST_PATH = False


def parse_feed(
    body: bytes, *, url: str, content_type: str | None = None, max_entries: int = 2000
) -> ParsedFeed:
    """Parse a feed body fetched from ``url`` into at most ``max_entries`` entries.

    ``url`` is only the base for relative links (nothing is fetched); ``content_type`` is the
    HTTP header, whose charset beats the XML declaration (a body starting with ``{`` is read
    as JSON Feed whatever the header says). Pure and in-process.

    Raises :class:`~monitor.errors.ParseError` with a message saying what is wrong ("empty
    document", "not a feed: looks like an HTML page; ..." (see :func:`html_page_error`),
    "truncated document: ...", ...) and its subclass :class:`HostileXML` for entity
    declarations that could expand or reach out.
    A feed with no items gives a ParsedFeed with no entries, not an error.
    """
    # decided by the body, not the header: servers label feeds wrongly in both directions
    if looks_like_json(body):
        return parse_json_feed(body, url=url, max_entries=max_entries)
    try:
        prepared = prepare_xml(body, _charset(content_type))
    except HTMLPage:
        return _feed_in_html_page(body, url=url, content_type=content_type, max_entries=max_entries)
    charset = None if prepared.utf8 else _charset(content_type)
    # fastfeedparser reads only the XML declaration; a different HTTP charset needs feedparser
    if USE_FAST_PATH and _fast_path_ok(charset, prepared.body):
        try:
            fast = _from_fastfeedparser(prepared, url, max_entries)
        except Exception:  # any failure of the fast path just means "ask feedparser"
            fast = None
        if fast is not None and fast.entries:
            return fast
    try:
        slow = _from_feedparser(prepared, url, charset, max_entries)
    except ParseError as exc:
        rescued = _rescue(prepared, url, charset, max_entries)
        if rescued is None:
            raise
        rescued.warning = str(exc)
        return rescued
    if not slow.entries and not USE_FAST_PATH:
        return _rescue(prepared, url, charset, max_entries) or slow
    return slow


def _feed_in_html_page(body: bytes, *, url: str, content_type: str | None, max_entries: int) -> ParsedFeed:
    """The feed an HTML page wraps, when it has stories (see :func:`wrapped_feed`); otherwise
    the error of :func:`html_page_error`. HostileXML in the wrapped feed is not caught."""
    embedded = wrapped_feed(body)
    if embedded is not None:
        try:
            feed = parse_feed(embedded, url=url, content_type=content_type, max_entries=max_entries)
        except HostileXML:
            raise
        except ParseError:
            feed = None
        if feed is not None and feed.entries:
            feed.warning = "; ".join(w for w in ("the feed is wrapped in an HTML page", feed.warning) if w)
            return feed
    raise html_page_error(body, url)


def _rescue(prepared: Prepared, url: str, charset: str | None, max_entries: int) -> ParsedFeed | None:
    """fastfeedparser's reading of a feed feedparser could not read, when it finds items."""
    if charset is not None:
        return None  # it would ignore the HTTP charset
    try:
        fast = _from_fastfeedparser(prepared, url, max_entries)
    except Exception:  # nothing to rescue
        return None
    return fast if fast is not None and fast.entries else None
