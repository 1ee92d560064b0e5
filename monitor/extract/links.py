"""Article links on a news section page (pure, no I/O).

Two ways to choose the anchors:

* the default heuristic reads every ``<a href>`` with lxml directly (about 10× faster than
  a BeautifulSoup tree: 1–3 ms against 15–30 ms on the real section pages in the corpus,
  see ``benchmarks/links.py``) and keeps same-site links whose URL looks like an article
  (:func:`monitor.extract.shape.rejection_reason`);
* a CSS ``selector`` (BeautifulSoup with the lxml parser, soupsieve) picks the anchors
  instead, and the same-site and article-shape checks are skipped: the user said which
  links are articles.

Either way every link is resolved against the page (honouring ``<base href>``),
normalised, deduplicated in page order, and every link left out gets a short reason so
``newsmonitor test-source -v`` can explain the result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import lxml.html  # type: ignore[import-untyped]  # lxml ships no type stubs
from bs4 import BeautifulSoup, Tag
from lxml import etree

from monitor.extract.charset import decode_html
from monitor.extract.shape import rejection_reason
from monitor.extract.urls import normalize_url, registrable_domain

__all__ = [
    "FEED_TYPES",
    "MAX_ANCHORS",
    "MAX_LINKS",
    "Link",
    "LinkReport",
    "advertised_feeds",
    "compile_patterns",
    "discover_links",
]

#: at most this many links are accepted from one page (a listing never has more articles)
MAX_LINKS = 5000
#: at most this many anchors are examined; the rest of a link-farm page is ignored
MAX_ANCHORS = 50_000
#: the media types with which ``<link rel="alternate">`` advertises a feed (plain
#: ``application/json`` is left out: WordPress advertises its REST API with it)
FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"}
)
_MAX_TEXT = 300
_SPACES = re.compile(r"\s+")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>", re.IGNORECASE)
_GENERIC_TEXT = frozenset(
    {
        "",
        "read more",
        "more",
        "continue reading",
        "read full story",
        "full story",
        "weiterlesen",
        "mehr",
        "lire la suite",
        "leer más",
        "click here",
        "here",
        "details",
        "»",
        "›",
        "→",
    }
)


@dataclass(frozen=True, slots=True)
class Link:
    """An accepted article link: normalised absolute ``url`` and its anchor ``text`` (may be empty)."""

    url: str
    text: str


@dataclass(slots=True)
class LinkReport:
    """The result of :func:`discover_links`: accepted links in page order, and
    ``rejected`` as ``(url or raw href, reason)`` pairs, also in page order."""

    accepted: list[Link] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def compile_patterns(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    """Compile include/exclude regular expressions (searched anywhere in the absolute URL).

    Raises ``ValueError`` naming the first pattern that does not compile and why, so the
    config loader can report it with its file and line.
    """
    compiled: list[re.Pattern[str]] = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ValueError(f"pattern {pattern!r} is not a string")
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
    return compiled


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()[:_MAX_TEXT]


def _anchor_text_lxml(anchor: lxml.html.HtmlElement) -> str:
    text = _clean(" ".join(anchor.itertext()))
    if not text:
        text = _clean(anchor.get("title") or "")
    if not text:
        for img in anchor.iter("img"):
            text = _clean(img.get("alt") or "")
            if text:
                break
    return text


def _parse_lxml(markup: str) -> lxml.html.HtmlElement | None:
    # No huge_tree: libxml2 then stops descending at its depth limit (256) instead of
    # building a 100k-deep tree, which keeps hostile pages bounded in time and memory.
    parser = lxml.html.HTMLParser(recover=True, no_network=True, remove_comments=True, huge_tree=False)
    try:
        return lxml.html.document_fromstring(_XML_DECLARATION.sub("", markup, count=1), parser=parser)
    except (etree.ParserError, ValueError, etree.XMLSyntaxError):
        return None


def _anchors_lxml(markup: str) -> tuple[str | None, Iterator[tuple[str, str]]]:
    root = _parse_lxml(markup)
    if root is None:
        return None, iter(())
    base = next((b.get("href") for b in root.iter("base") if b.get("href")), None)

    def gen() -> Iterator[tuple[str, str]]:
        for anchor in root.iter("a", "area"):
            href = anchor.get("href")
            if href is not None:
                yield href, _anchor_text_lxml(anchor)

    return base, gen()


def _anchors_css(markup: str, selector: str) -> tuple[str | None, Iterator[tuple[str, str]]]:
    soup = BeautifulSoup(_XML_DECLARATION.sub("", markup, count=1), "lxml")
    base_tag = soup.find("base", href=True)
    base_href = base_tag.get("href") if isinstance(base_tag, Tag) else None
    base = base_href if isinstance(base_href, str) else None
    selected = soup.select(selector)  # eager, so a bad selector raises here and not mid-loop

    def gen() -> Iterator[tuple[str, str]]:
        for element in selected:
            anchors = [element] if element.name in ("a", "area") else element.select("a[href]")
            for anchor in anchors:
                href = anchor.get("href")
                if isinstance(href, str):
                    title = anchor.get("title")
                    text = _clean(anchor.get_text(" ")) or _clean(title if isinstance(title, str) else "")
                    yield href, text

    return base, gen()


def advertised_feeds(html: bytes | str, page_url: str) -> list[str]:
    """The feeds a page advertises (``<link rel="alternate">`` with a :data:`FEED_TYPES` type).

    Each is resolved against ``page_url`` (or the page's ``<base href>``) and normalised;
    only http(s) URLs, in page order, each once. Malformed HTML never raises (an empty list).
    """
    root = _parse_lxml(decode_html(html))
    if root is None:
        return []
    page = normalize_url(page_url) or page_url
    base = next((b.get("href") for b in root.iter("base") if b.get("href")), None)
    resolve_base = (normalize_url(base, page) if base else None) or page
    feeds: list[str] = []
    for link in root.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        media_type = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" not in rels or media_type not in FEED_TYPES:
            continue
        url = normalize_url(link.get("href") or "", resolve_base)
        if url and url not in feeds:
            feeds.append(url)
    return feeds


def _dedupe_key(url: str) -> str:
    # http/https and a trailing slash do not make a different article on a news site
    return url.split("://", 1)[-1].rstrip("/")


def _scheme_reason(href: str) -> str:
    scheme = href.strip().split(":", 1)[0].lower() if ":" in href else ""
    looks_like_scheme = scheme.isascii() and scheme.replace("+", "").replace("-", "").isalpha()
    if scheme and looks_like_scheme and scheme not in ("http", "https"):
        return f"scheme {scheme}"
    return "malformed URL"


def discover_links(
    html: bytes | str,
    page_url: str,
    *,
    selector: str | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> LinkReport:
    """Find the article links on a section page.

    ``html`` is the page body (bytes are decoded like article pages); ``page_url`` its
    address, against which links are resolved unless the page has a ``<base href>``.
    ``selector`` (CSS) chooses the anchors instead of the default heuristic (an element
    that is not an ``<a>`` contributes the anchors inside it). ``include`` / ``exclude``
    are regular expressions searched in the normalised absolute URL: when ``include`` is
    given, a link is kept only if some pattern matches, and it then replaces the
    same-site and article-shape checks; ``exclude`` drops matches. Invalid patterns or
    selector raise ``ValueError`` (validate them at config load with
    :func:`compile_patterns`); malformed input HTML never raises (an empty report).
    At most :data:`MAX_LINKS` links are accepted and :data:`MAX_ANCHORS` examined.
    """
    includes = compile_patterns(include)
    excludes = compile_patterns(exclude)
    report = LinkReport()
    markup = decode_html(html)
    if not markup.strip():
        return report
    if selector is not None:
        try:
            base, anchors = _anchors_css(markup, selector)
        except Exception as exc:  # soupsieve raises its own SelectorSyntaxError (a ValueError) and others
            raise ValueError(f"invalid CSS selector {selector!r}: {exc}") from exc
    else:
        base, anchors = _anchors_lxml(markup)
    page = normalize_url(page_url) or page_url
    resolve_base = page
    if base:
        # a <base> that is not http(s) (e.g. javascript:) is ignored, as a browser would refuse to navigate
        resolved_base = normalize_url(base, page)
        if resolved_base:
            resolve_base = resolved_base
    site = registrable_domain(urlsplit(page).hostname or "") if page.startswith("http") else ""
    judge = _Judge(resolve_base, site, _dedupe_key(page), selector is not None, includes, excludes, report)
    for examined, (href, text) in enumerate(anchors, start=1):
        if examined > MAX_ANCHORS or len(report.accepted) >= MAX_LINKS:
            report.rejected.append(("…", f"link limit reached ({MAX_LINKS} links / {MAX_ANCHORS} anchors)"))
            break
        judge.judge(href, text)
    return report


@dataclass(slots=True)
class _Judge:
    """Decides on one anchor at a time; holds what the decisions share."""

    base: str
    site: str
    page_key: str
    by_selector: bool
    includes: list[re.Pattern[str]]
    excludes: list[re.Pattern[str]]
    report: LinkReport
    #: dedupe key → index into report.accepted, or -1 when the first occurrence was rejected
    seen: dict[str, int] = field(default_factory=dict)

    def judge(self, href: str, text: str) -> None:
        report = self.report
        raw = href.strip()
        if not raw or raw.startswith("#"):
            report.rejected.append((raw or "(empty)", "same-page anchor"))
            return
        url = normalize_url(raw, self.base)
        if url is None:
            report.rejected.append((raw[:300], _scheme_reason(raw)))
            return
        key = _dedupe_key(url)
        if key in self.seen:
            self._upgrade_text(self.seen[key], text)
            report.rejected.append((url, "duplicate"))
            return
        self.seen[key] = -1
        reason = self._reason(url, key)
        if reason:
            report.rejected.append((url, reason))
            return
        self.seen[key] = len(report.accepted)
        report.accepted.append(Link(url, text))

    def _upgrade_text(self, index: int, text: str) -> None:
        # keep the first position but the better anchor text (image link first, headline second)
        if index < 0:
            return
        current = self.report.accepted[index]
        if current.text.lower() in _GENERIC_TEXT and text.lower() not in _GENERIC_TEXT:
            self.report.accepted[index] = Link(current.url, text)

    def _reason(self, url: str, key: str) -> str | None:
        if key == self.page_key:
            return "the page itself"
        if any(p.search(url) for p in self.excludes):
            return "excluded by pattern"
        reason = rejection_reason(url)
        if reason in ("media file", "feed"):
            return reason
        if self.includes:
            return None if any(p.search(url) for p in self.includes) else "not matched by include pattern"
        if self.by_selector:
            return None
        if self.site and registrable_domain(urlsplit(url).hostname or "") != self.site:
            return "other site"
        return reason
