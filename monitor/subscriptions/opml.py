"""OPML subscription lists in and out (pure: bytes in, values out).

Reading goes through two parsers on purpose. ``defusedxml`` first proves the file safe:
an entity declaration (the whole family of XML bombs: billion laughs, quadratic blow-up,
external entities that read local files or reach other hosts) is refused before anything
is expanded. Then ``listparser`` (a maintained OPML reader) reads the outlines, tolerant of
what real exports get wrong: attribute case (``xmlurl``, ``xmlURL``), feeds nested in
folders, the ``category`` attribute, FOAF and iGoogle lists. A file that is not well-formed
XML (an unescaped ``&`` in a URL is common) is still read by listparser's recovering
parser, and said in a note, as long as it declares no DOCTYPE or entity at all.

Nothing here touches the network: outlines that link to other subscription lists
(``type="link"``/``include``) are reported, never fetched.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from typing import Any
from xml.etree.ElementTree import Element  # the type defusedxml returns; never used to parse

import defusedxml
import defusedxml.ElementTree
import listparser

from monitor.errors import ParseError

#: an OPML file larger than this is refused before it is parsed
MAX_OPML_BYTES = 10 * 2**20
#: a file listing more feeds than this is refused (nothing is imported)
MAX_FEEDS = 10_000
#: tags kept from one outline's folders and categories
MAX_TAGS = 16

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed of a subscription list: its URL as written, its title (the outline's
    ``text``, else its ``title``; may be empty), its categories (``category`` attribute
    parts, then folder names from the outermost in, each once) and, when the outline's
    ``title`` differs from its ``text``, that ``label`` (what newsmonitor's export writes
    as the display name)."""

    url: str
    title: str
    categories: tuple[str, ...] = ()
    label: str = ""


@dataclass(frozen=True, slots=True)
class SubscriptionList:
    """What an OPML file lists.

    ``feeds`` are the outlines with a feed URL, each URL once (repeats merge their
    categories); ``sites`` are outlines naming only a web site (``htmlUrl``), ``lists``
    outlines that link to other subscription lists; ``notes`` say what was odd about the file.
    """

    title: str
    feeds: list[OpmlFeed]
    sites: list[str] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_opml(data: bytes) -> SubscriptionList:
    """The subscription list in ``data`` (an OPML file's bytes).

    Raises :class:`~monitor.errors.ParseError`, saying why in words, for a file over
    :data:`MAX_OPML_BYTES`, one that declares XML entities or an external entity, one that
    is no subscription list, or one with more than :data:`MAX_FEEDS` feeds.
    """
    if len(data) > MAX_OPML_BYTES:
        raise ParseError(
            f"the file has {len(data) / 2**20:.1f} MiB; an OPML file may have at most "
            f"{MAX_OPML_BYTES // 2**20} MiB (split it, or import the folders you need)"
        )
    root, notes = _safety_check(data)
    labels = _labels(root) if root is not None else {}
    parsed = listparser.parse(data)
    if not parsed["version"] and not parsed["feeds"]:
        raise ParseError("this is not an OPML subscription list (no <opml> document with feed outlines)")
    feeds = [_feed(item, labels) for item in parsed["feeds"]]
    if len(feeds) > MAX_FEEDS:
        raise ParseError(
            f"the file lists {len(feeds)} feeds, more than the {MAX_FEEDS} one import takes; "
            "split it into smaller files"
        )
    return SubscriptionList(
        title=str(parsed["meta"].get("title") or ""),
        feeds=feeds,
        sites=[str(item["url"]) for item in parsed["opportunities"]],
        lists=[str(item["url"]) for item in parsed["lists"]],
        notes=notes,
    )


def _safety_check(data: bytes) -> tuple[Element | None, list[str]]:
    """Refuse entity declarations and external references. Returns the document (None
    when it is not well-formed XML but readable by the recovering parser) and notes."""
    try:
        root = defusedxml.ElementTree.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.EntitiesForbidden:
        raise ParseError(
            "refused: the file declares XML entities (<!ENTITY ...>), which no OPML export needs "
            "and XML bombs are made of; nothing was read"
        ) from None
    except (defusedxml.ExternalReferenceForbidden, defusedxml.DTDForbidden):
        raise ParseError("refused: the file refers to an external DTD or entity; nothing was read") from None
    except defusedxml.ElementTree.ParseError as exc:
        if _DECLARATION.search(data):
            raise ParseError(
                f"refused: the file is not well-formed XML ({exc}) and has a DOCTYPE or entity "
                "declaration; nothing was read"
            ) from None
        return None, [f"the file is not well-formed XML ({exc}); it was read as far as it could be"]
    return root, []


def _labels(root: Element) -> dict[str, str]:
    """``title`` attributes that differ from ``text``, by feed URL (attribute names in any case)."""
    labels: dict[str, str] = {}
    for outline in root.iter("outline"):
        attrs = {key.lower(): value for key, value in outline.attrib.items()}
        url, text, title = attrs.get("xmlurl", "").strip(), attrs.get("text", ""), attrs.get("title", "")
        label = " ".join(title.split())
        if url and label and label != " ".join(text.split()):
            labels.setdefault(url, label)
    return labels


def _feed(item: Any, labels: dict[str, str]) -> OpmlFeed:
    categories: list[str] = []
    for path in item.get("categories") or []:
        for part in path:
            text = " ".join(str(part).split())
            if text and text not in categories:
                categories.append(text)
    url = str(item["url"]).strip()
    return OpmlFeed(
        url=url,
        title=" ".join(str(item.get("title") or "").split()),
        categories=tuple(categories[:MAX_TAGS]),
        label=labels.get(url, ""),
    )


# ---------------------------------------------------------------------------- writing


@dataclass(frozen=True, slots=True)
class ExportedFeed:
    """A feed to write: ``name`` (the outline's ``text``, read back as the source name),
    ``label`` (its ``title``, what most readers show: the outlet), its URL and tags (the
    first tag is its folder; all of them go in the ``category`` attribute, but for a tag
    holding "," or "/", which that attribute cannot hold)."""

    name: str
    label: str
    url: str
    tags: tuple[str, ...] = ()


def write_opml(feeds: Sequence[ExportedFeed], *, title: str, created: datetime) -> str:
    """An OPML 2.0 document listing ``feeds``: a folder outline per first tag (in order of
    first use), untagged feeds at the top level; every string escaped for XML."""
    folders: dict[str, list[ExportedFeed]] = {}
    loose: list[ExportedFeed] = []
    for feed in feeds:
        if feed.tags:
            folders.setdefault(feed.tags[0], []).append(feed)
        else:
            loose.append(feed)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        "  <head>",
        f"    <title>{_text(title)}</title>",
        f"    <dateCreated>{format_datetime(created)}</dateCreated>",
        "  </head>",
        "  <body>",
    ]
    lines.extend(_outline(feed, "    ") for feed in loose)
    for folder, members in folders.items():
        lines.append(f"    <outline text={_attr(folder)} title={_attr(folder)}>")
        lines.extend(_outline(feed, "      ") for feed in members)
        lines.append("    </outline>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _outline(feed: ExportedFeed, indent: str) -> str:
    attrs = [("type", "rss"), ("text", feed.name), ("title", feed.label or feed.name), ("xmlUrl", feed.url)]
    # the category attribute separates with "," and "/": a tag holding one cannot be said
    # there (as the first tag, its folder still says it)
    plain = [tag for tag in feed.tags if "," not in tag and "/" not in tag]
    if plain:
        attrs.append(("category", ",".join("/" + tag for tag in plain)))
    return indent + "<outline " + " ".join(f"{key}={_attr(value)}" for key, value in attrs) + "/>"


def _text(value: str) -> str:
    return html.escape(_XML_INVALID.sub("", value), quote=False)


def _attr(value: str) -> str:
    # html.escape with quote=True gives &amp; &lt; &gt; &quot; &#x27;: all valid in XML
    # attributes; tabs and newlines as character references so a reader keeps them
    escaped = html.escape(_XML_INVALID.sub("", value), quote=True)
    return '"' + escaped.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;") + '"'

