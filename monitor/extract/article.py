"""Main text and metadata of a news article page (trafilatura; pure, no I/O).

The extraction mode is not a guess: ``benchmarks/extract.py`` scores it against plain
trafilatura on two public sets with known text, the scrapinghub benchmark (181 news pages,
human-annotated bodies) and trafilatura's evaluation set (990 pages, hand-picked text and
boilerplate segments). The precision-tuned mode chosen on the first set alone kept 2.8
points less of the article on the second and found nothing useful on twice as many
pages, so the default (``default-pruned``) is trafilatura's default settings plus three
steps of ours, each measured on both sets:

* in-body promotions are pruned from the page (:func:`_prune_promos`);
* link lines ("Read more: <headline>", related-story lists; ``linklists.py``) are dropped
  from the extracted text, which halves the gap in boilerplate to the precision mode;
* a text that is implausibly short for the page (:func:`implausibly_short`) is replaced by
  the ``favor_recall`` mode's when that finds clearly more (logged at debug).

The daemon also keeps the feed's own text for matching when the article lacks any of its
words (:func:`with_feed_text`). Figures are in the benchmark's docstring and the commit
that chose this mode.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

import trafilatura
from lxml.html import HtmlElement  # type: ignore[import-untyped]  # lxml ships no type stubs
from trafilatura.settings import Document
from trafilatura.utils import load_html

from monitor.extract.charset import decode_html
from monitor.extract.linklists import drop_link_lines, link_lines
from monitor.extract.urls import normalize_url
from monitor.models import STORY_TEXT_LIMIT, STORY_TITLE_LIMIT, clip

__all__ = [
    "DEFAULT_MODE",
    "MODES",
    "Article",
    "ExtractMode",
    "extract_article",
    "implausibly_short",
    "with_feed_text",
]

log = logging.getLogger(__name__)

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
    #: also drop in-body link lines ("Read more: <headline>", related-story lists; see linklists.py)
    prune_link_lists: bool = False
    #: the mode tried when this one's text is implausibly short for the page
    fallback: str | None = None


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
        ExtractMode("recall-pruned", favor_recall=True, prune_promos=True, prune_link_lists=True),
        ExtractMode("default-pruned", prune_promos=True, prune_link_lists=True, fallback="recall-pruned"),
        ExtractMode(
            "precision-guarded", favor_precision=True, prune_promos=True, prune_link_lists=True,
            fallback="default-pruned",
        ),
    )
}
DEFAULT_MODE = "default-pruned"

#: an extraction shorter than this is implausible for any article page ...
MIN_ARTICLE_CHARS = 200
#: ... and so is one under this share of the page's paragraph text
MIN_PROSE_SHARE = 0.2
#: the fallback mode's text replaces the first only when it is this many times longer
FALLBACK_GAIN = 1.5

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
    # NFC, as trafilatura gives when it decodes the bytes itself: a page may spell one
    # letter as a composed or a decomposed sequence, and a feed the other way
    text = unicodedata.normalize("NFC", text)
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


def _bare_extraction(
    tree: HtmlElement, url: str | None, options: ExtractMode, drop: frozenset[str]
) -> tuple[Document | None, str]:
    """One trafilatura run over ``tree`` (which it copies, never changes); the document and
    its clean text without the lines in ``drop``."""
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
        return None, ""
    return doc, _clean_text(drop_link_lines(doc.text or "", drop))


def _prose_chars(tree: HtmlElement) -> int:
    """Characters of paragraph text on the whole page: what an article page at least holds."""
    return sum(len(_BLANKS.sub(" ", p.text_content()).strip()) for p in tree.iter("p"))


def implausibly_short(text: str, prose_chars: int) -> bool:
    """Whether an extracted ``text`` is too short to be the article of a page holding
    ``prose_chars`` characters of paragraph text: under :data:`MIN_ARTICLE_CHARS`, or under
    :data:`MIN_PROSE_SHARE` of the page's paragraphs (a date line, the lede alone, the
    comment policy)."""
    return len(text) < max(MIN_ARTICLE_CHARS, MIN_PROSE_SHARE * prose_chars)


def _main_text(
    tree: HtmlElement, url: str | None, options: ExtractMode, drop: frozenset[str]
) -> tuple[Document | None, str]:
    """The mode's extraction, or its fallback mode's when the first is implausibly short and
    the second finds clearly more (the document's metadata comes from the first when it has any)."""
    doc, text = _bare_extraction(tree, url, options, drop)
    if options.fallback is None:
        return doc, text
    prose = _prose_chars(tree)
    if not implausibly_short(text, prose):
        return doc, text
    other_doc, other_text = _bare_extraction(tree, url, MODES[options.fallback], drop)
    if len(other_text) < FALLBACK_GAIN * len(text) or not other_text:
        return doc, text
    log.debug(
        "extraction: mode %s kept %d characters of a page with %d in paragraphs; mode %s kept %d: using it (%s)",
        options.name, len(text), prose, options.fallback, len(other_text), url or "no url",
    )
    return doc or other_doc, other_text


def extract_article(html: bytes | str, url: str | None = None, *, mode: str = DEFAULT_MODE) -> Article | None:
    """Extract the main text and metadata of an article page.

    ``html`` is the page body (bytes are decoded by BOM, valid UTF-8, ``<meta charset>``,
    then detection); ``url`` is the page's address, used to resolve the canonical URL and
    relative links and to help trafilatura. ``mode`` is a key of :data:`MODES` (raises
    ``KeyError`` otherwise); when the mode's text is implausibly short for the page
    (:func:`implausibly_short`) its ``fallback`` mode is tried and the clearly longer text
    kept (logged at debug). Returns ``None`` when no main text could be found or the input
    is not usable HTML; any other failure inside the parser is also turned into ``None``
    (the caller logs it), so hostile input never raises.
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
        # link lines are found on the whole page but dropped from the extracted text only:
        # taking them out of the page first changes which block trafilatura takes for the body
        drop = link_lines(tree, url or canonical) if options.prune_link_lists else frozenset()
        doc, body = _main_text(tree, url, options, drop)
        # what rules search of a story, no more: a 9 MB page must not become 9 MB of story
        body = clip(body, STORY_TEXT_LIMIT)
        if doc is None or not body:
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


_WORD = re.compile(r"\w+")


def with_feed_text(article_text: str, feed_text: str) -> str:
    """The text a story is matched on once its article was extracted.

    ``article_text`` is the extracted article, ``feed_text`` what the feed gave (its summary
    or content). Matching must never lose a word the feed already gave, and an extraction
    can miss the story (a date line, the comment policy) or leave out a standfirst; so the
    article text alone is returned only when every word of the feed text is in it, the
    feed text alone when the article adds no word to it, and otherwise the feed text, a
    blank line, then the article text. Words are ``\\w+`` runs compared case-folded.
    """
    feed_words = set(_WORD.findall(feed_text.casefold()))
    if not feed_words:
        return article_text
    article_words = set(_WORD.findall(article_text.casefold()))
    if feed_words <= article_words:
        return article_text
    if article_words <= feed_words:
        return feed_text.strip()
    return f"{feed_text.strip()}\n\n{article_text}"
