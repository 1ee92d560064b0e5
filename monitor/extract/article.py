"""Main text and metadata of a news article page (trafilatura; pure, no I/O).

The extraction mode is not a guess: ``benchmarks/extract.py`` scores every mode in
:data:`MODES` on the scrapinghub article-extraction benchmark (181 human-annotated pages,
4-token-shingle scoring). Measured (2 shared cores, noisy): ``precision-pruned`` F1 0.964
(P 0.958, R 0.971) at ~55 pages/s; trafilatura's plain default F1 0.960 (P 0.942); ``fast``
F1 0.962 at ~80 pages/s. Precision is favoured because chrome left in the text becomes
false alerts, and it costs 0.007 recall here. Promo pruning leaves the benchmark unchanged
and removes in-body newsletter/app promos that trafilatura keeps.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura
from lxml.html import HtmlElement  # type: ignore[import-untyped]  # lxml ships no type stubs
from trafilatura.settings import Document
from trafilatura.utils import load_html

from monitor.extract.charset import decode_html
from monitor.extract.urls import normalize_url
from monitor.models import STORY_TEXT_LIMIT, STORY_TITLE_LIMIT, clip

__all__ = ["DEFAULT_MODE", "MODES", "Article", "ExtractMode", "extract_article"]

# trafilatura logs every page it cannot handle at ERROR level; our caller already logs one
# line per failed article with the source and URL, so its own lines would be duplicates.
logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


@dataclass(slots=True)
class Article:
    """What was extracted from one article page.

    ``text`` is the article body only, paragraphs separated by newlines (never empty when
    an Article is returned), at most :data:`~monitor.models.STORY_TEXT_LIMIT` characters
    (the rest of a longer body is dropped); ``title`` at most
    :data:`~monitor.models.STORY_TITLE_LIMIT`. ``published`` is timezone-aware (UTC when the page gives no
    zone); ``lang`` is a lower-case primary language subtag (``"en"``); ``canonical_url``
    is the page's own ``<link rel=canonical>`` / ``og:url``, normalised, or ``None``.
    """

    title: str | None
    text: str
    published: datetime | None
    author: str | None
    lang: str | None
    canonical_url: str | None


@dataclass(frozen=True, slots=True)
class ExtractMode:
    """One trafilatura configuration (see ``trafilatura.bare_extraction``)."""

    name: str
    fast: bool = False
    favor_precision: bool = False
    favor_recall: bool = False
    include_tables: bool = True
    #: also drop in-body promotions (newsletter sign-ups, app banners, recommendation widgets)
    prune_promos: bool = False


#: The configurations measured by ``benchmarks/extract.py``.
MODES: dict[str, ExtractMode] = {
    m.name: m
    for m in (
        ExtractMode("default"),
        ExtractMode("fast", fast=True),
        ExtractMode("precision", favor_precision=True),
        ExtractMode("recall", favor_recall=True),
        ExtractMode("fast-precision", fast=True, favor_precision=True),
        ExtractMode("fast-recall", fast=True, favor_recall=True),
        ExtractMode("no-tables", include_tables=False),
        ExtractMode("precision-pruned", favor_precision=True, prune_promos=True),
        ExtractMode("fast-pruned", fast=True, prune_promos=True),
    )
}
DEFAULT_MODE = "precision-pruned"

# Blocks that sit inside article bodies but are not the story. Class/id fragments only
# (never tag names), chosen to be specific: "promo" and "newsletter" rarely name a block
# holding article prose, unlike "related" or "share", which are left to trafilatura.
_PROMO_TOKENS = (
    "promo",
    "newsletter",
    "signup",
    "sign-up",
    "app-banner",
    "smart-banner",
    "appbanner",
    "outbrain",
    "taboola",
    "advert",
)
_MAX_PROMO_PARAGRAPHS = 2


def _prune_promos(tree: HtmlElement) -> None:
    # A promo block never holds more than a couple of paragraphs; the limit keeps a
    # story body that a site happens to class "promo-article" from being dropped.
    doomed: list[HtmlElement] = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        marks = f"{element.get('class', '')} {element.get('id', '')}".lower()
        if any(token in marks for token in _PROMO_TOKENS) and (
            sum(1 for _ in element.iter("p")) <= _MAX_PROMO_PARAGRAPHS
        ):
            doomed.append(element)
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()


_BLANKS = re.compile(r"[ \t\u00a0]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_PUBLISHED_XPATH = (
    '//meta[@property="article:published_time" or @name="article:published_time"'
    ' or @itemprop="datePublished" or @name="pubdate" or @name="publishdate"'
    ' or @property="og:published_time" or @name="parsely-pub-date" or @name="sailthru.date"'
    ' or @name="dc.date.issued" or @name="DC.date.issued"]/@content'
    ' | //time[@itemprop="datePublished"]/@datetime'
)


def _clean_text(text: str) -> str:
    lines = (_BLANKS.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n"))
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def _parse_datetime(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if not 1990 <= parsed.year <= 2100:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _first(tree: HtmlElement, xpath: str) -> str | None:
    try:
        values = tree.xpath(xpath)
    except Exception:  # lxml raises several error types on broken trees; metadata is optional
        return None
    for value in values if isinstance(values, list) else ():
        text = str(value).strip()
        if text:
            return text
    return None


def _canonical(tree: HtmlElement, url: str | None) -> str | None:
    raw = _first(tree, '//link[@rel="canonical"]/@href') or _first(
        tree, '//meta[@property="og:url"]/@content'
    )
    return normalize_url(raw, base=url) if raw else None


def _lang(tree: HtmlElement) -> str | None:
    raw = (
        _first(tree, "/html/@lang")
        or _first(tree, "/html/@xml:lang")
        or _first(tree, '//meta[@http-equiv="content-language" or @http-equiv="Content-Language"]/@content')
        or _first(tree, '//meta[@property="og:locale"]/@content')
    )
    if not raw:
        return None
    primary = re.split(r"[-_,; ]", raw.strip(), maxsplit=1)[0].lower()
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def _published(tree: HtmlElement) -> datetime | None:
    found = _first(tree, _PUBLISHED_XPATH)
    return _parse_datetime(found) if found else None


def extract_article(html: bytes | str, url: str | None = None, *, mode: str = DEFAULT_MODE) -> Article | None:
    """Extract the main text and metadata of an article page.

    ``html`` is the page body (bytes are decoded by BOM, valid UTF-8, ``<meta charset>``,
    then detection); ``url`` is the page's address, used to resolve the canonical URL and
    to help trafilatura. ``mode`` is a key of :data:`MODES` (raises ``KeyError`` otherwise).
    Returns ``None`` when no main text could be found or the input is not usable HTML; any
    other failure inside the parser is also turned into ``None`` (the caller logs it), so
    hostile input never raises.
    """
    options = MODES[mode]
    try:
        text = decode_html(html)
        if not text.strip():
            return None
        tree = load_html(text)
        if tree is None:
            return None
        published = _published(tree)
        lang = _lang(tree)
        canonical = _canonical(tree, url)
        for inert in tree.xpath("//template"):
            # browsers never render <template> content; trafilatura would keep it as text
            inert.drop_tree()
        if options.prune_promos:
            _prune_promos(tree)
        doc = trafilatura.bare_extraction(
            tree,
            url=url,
            fast=options.fast,
            favor_precision=options.favor_precision,
            favor_recall=options.favor_recall,
            include_comments=False,
            include_tables=options.include_tables,
            include_images=False,
            include_links=False,
            with_metadata=True,
            deduplicate=False,
            # no extensive search: it turns a bare "© 2026" into 2026-01-01, and a wrong old
            # date would make max_age silently drop a fresh story
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
        if not isinstance(doc, Document):
            return None
        # what rules search of a story, no more: a 9 MB page must not become 9 MB of story
        body = clip(_clean_text(doc.text or ""), STORY_TEXT_LIMIT)
        if not body:
            return None
        title = clip(_BLANKS.sub(" ", doc.title).strip(), STORY_TITLE_LIMIT) if doc.title else None
        return Article(
            title=title or None,
            text=body,
            published=published or (_parse_datetime(doc.date) if doc.date else None),
            author=doc.author or None,
            lang=lang,
            canonical_url=canonical,
        )
    except Exception:  # trafilatura/lxml have no single error type; "never raises" is the contract
        return None
