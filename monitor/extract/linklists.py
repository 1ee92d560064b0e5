"""In-body link lines: "Read more:" lines and related-story lists inside an article (pure).

News sites put links to their other stories inside the article body: a "Read more:
<headline>" line between two paragraphs, a "Related" list, a bare headline link. trafilatura
keeps many of them, because they sit in the same container as the story, and a rule on
the linked story's words then fires on this one. :func:`link_lines` finds such blocks on
the parsed page and :func:`drop_link_lines` removes their lines from the extracted text
(removing them from the page instead changes which block trafilatura takes for the body).

A block is a link line when its words are mostly (:data:`LINK_SHARE`) the text of links to
other pages of the same site, with at most a short label before the first link and no
sentence ending; when it opens with a "read more"-style cue (or follows a lone cue label)
and is at least half link text, to any site; or when it is nothing but such a label. A
list item counts only in a list that is mostly links. A real paragraph that contains a
link has a low link share, or words before its link, and stays; a link to the page itself
or to an anchor on it counts as plain text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement  # type: ignore[import-untyped]  # lxml ships no type stubs

from monitor.extract.urls import registrable_domain

__all__ = ["LINK_SHARE", "drop_link_lines", "link_lines"]

#: a block whose words are at least this share same-site link text is a link line
LINK_SHARE = 0.7
#: a cue line ("Read more: <link>") needs this share of link text
_CUE_LINK_SHARE = 0.5
#: a link line without a cue has at most this many words outside links ("VIDEO", "Photos:")
_MAX_PLAIN_WORDS = 3
_LABEL_ENDS = (":", "|", "»", ">", "–", "—", "-")
# a block ending like a sentence is prose even when a link covers most of it: headlines
# and link labels do not end with a full stop
_SENTENCE_END = re.compile(r"[.!…][\"'”’»)\]]*$")

_WORD = re.compile(r"\w+")
_PATH_END = re.compile(r"[?#]")
_ITEM_MARK = re.compile(r"^\s*[-*•]\s+")
# Elements that hold one line or paragraph of text. A <div> counts only when it has no
# block children (a leaf), so an article container is never judged as one block.
_LINE_TAGS = ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "dd", "div")
_BLOCK_CHILDREN = frozenset(
    {"p", "div", "ul", "ol", "li", "table", "section", "article", "blockquote", "h1", "h2", "h3", "h4",
     "h5", "h6", "dl", "figure", "header", "footer", "aside", "nav", "form", "pre"}
)
# Openers of "see another story" lines in the languages of the corpus and the evaluation
# sets. Only whole openers followed by a separator (or the end of the block) count, so a
# sentence that begins "See also how the council ..." without a colon is prose.
_CUE = re.compile(
    r"^\W*(?:"
    r"(?:read|see|watch|listen)(?: also| more| next| too)?(?: here)?"
    r"|(?:also|further) read(?:ing)?|related(?: stories| articles| content| coverage| links| news| topics)?"
    r"|more on (?:this|that)(?: story| topic)?|more from [\w .'-]{1,40}|recommended(?: for you| stories)?"
    r"|editors?['’]?s?['’]? (?:recommendations|picks)"
    r"|you (?:may|might) also (?:like|be interested in)|don't miss|top stories|most read|trending(?: now)?"
    r"|le[ae] (?:más|también|mais|além)|lee|mir[ae]|ver (?:más|también)|puedes ver|te puede interesar"
    r"|contenido relacionado|noticias relacionadas|también te puede interesar"
    r"|lesen sie (?:auch|mehr|hier)|mehr zum thema|auch interessant|weitere (?:beiträge|artikel|meldungen)"
    r"|empfohlene (?:beiträge|artikel)|das könnte sie (?:auch )?interessieren|siehe auch"
    r"|(?:à )?lire (?:aussi|également|la suite)|voir aussi|sur le même sujet"
    r"|leggi (?:anche|pure)|potrebbe interessarti|czytaj (?:także|też|więcej)|zobacz (?:także|też|również)"
    r"|leia (?:também|mais)|veja (?:também|mais)|lees (?:ook|meer)|bekijk ook"
    r")\s*(?:[:>»›|–—-]+|$)",
    re.IGNORECASE,
)


@dataclass(slots=True)
class _Site:
    """The page a link is judged from: its address, registrable domain and path, and the
    verdicts on the hrefs seen so far (menus repeat the same links)."""

    url: str
    domain: str
    path: str
    seen: dict[str, tuple[bool, bool]] = field(default_factory=dict)
    domains: dict[str, str] = field(default_factory=dict)

    def is_other_page(self, href: str) -> tuple[bool, bool]:
        """(points to another page, and that page is on this site) for one ``href``."""
        verdict = self.seen.get(href)
        if verdict is None:
            verdict = self.seen[href] = self._judge(href.strip())
        return verdict

    def _judge(self, href: str) -> tuple[bool, bool]:
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            return False, False
        if href.startswith("/") and not href.startswith("//"):
            path, host = _PATH_END.split(href, maxsplit=1)[0], ""  # the common case, without urljoin
        else:
            try:
                target = urlsplit(urljoin(self.url, href) if self.url else href)
            except ValueError:
                return False, False
            if target.scheme not in ("http", "https", ""):
                return False, False
            path, host = target.path, target.hostname or ""
        same_site = not host or self._domain_of(host) == self.domain
        if same_site and path.rstrip("/") == self.path:
            return False, False  # the page itself, or an anchor on it
        return True, same_site

    def _domain_of(self, host: str) -> str:
        domain = self.domains.get(host)
        if domain is None:
            domain = self.domains[host] = registrable_domain(host)
        return domain


def _site(url: str | None) -> _Site:
    parts = urlsplit(url or "")
    return _Site(url or "", registrable_domain(parts.hostname or ""), parts.path.rstrip("/"))


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _link_words(block: HtmlElement, site: _Site) -> tuple[int, int]:
    """(words in links to other pages of this site, words in links to any other page)."""
    same = anywhere = 0
    for anchor in block.iter("a"):
        other, same_site = site.is_other_page(anchor.get("href") or "")
        if other:
            n = _words(anchor.text_content())
            anywhere += n
            same += n if same_site else 0
    return same, anywhere


def _is_leaf(block: HtmlElement) -> bool:
    return not any(isinstance(child.tag, str) and child.tag in _BLOCK_CHILDREN for child in block)


class _Kind(Enum):
    EMPTY = "empty"
    PROSE = "prose"
    LINK = "link"  # a link line
    LABEL = "label"  # a lone "Related stories" / "Read more:" label; what follows is judged as a cue line


def _kind(block: HtmlElement, text: str, site: _Site, after_label: bool) -> _Kind:
    """What ``block`` (whose whitespace-collapsed text is ``text``) is."""
    words = _words(text)
    if not words:
        return _Kind.EMPTY
    cue = _CUE.match(text)
    if cue and cue.end() >= len(text):
        return _Kind.LABEL
    if block.find(".//a") is None:
        return _Kind.PROSE
    same, anywhere = _link_words(block, site)
    if cue or after_label:
        return _Kind.LINK if anywhere >= _CUE_LINK_SHARE * words else _Kind.PROSE
    if same < LINK_SHARE * words or words - anywhere > _MAX_PLAIN_WORDS or _SENTENCE_END.search(text):
        return _Kind.PROSE
    return _Kind.LINK if _opens_with_link(block, text, site) else _Kind.PROSE


def _opens_with_link(block: HtmlElement, text: str, site: _Site) -> bool:
    """Whether ``block`` starts with its first link to another page, or with a label
    ("VIDEO:", "Photos |") before it; "Your <a>email list will grow</a>" is a sentence."""
    for anchor in block.iter("a"):
        if site.is_other_page(anchor.get("href") or "")[0]:
            at = text.find(" ".join(anchor.text_content().split()))
            prefix = text[: max(at, 0)].rstrip()
            return not _WORD.search(prefix) or prefix.endswith(_LABEL_ENDS)
    return False


def _mostly_links(items: HtmlElement, site: _Site) -> bool:
    """Whether a list's words are mostly same-site link text (a related-stories list, a menu)."""
    words = _words(items.text_content())
    return words > 0 and _link_words(items, site)[0] >= LINK_SHARE * words


def _line_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def link_lines(tree: HtmlElement, url: str | None) -> frozenset[str]:
    """The texts (whitespace-collapsed, case-folded) of the page's link lines.

    ``tree`` is the parsed page, ``url`` its address (relative links are resolved against
    it; without it only relative links count as same-site). A text that the page also
    shows as an ordinary block (a paragraph equal to a menu entry) is left out, so
    :func:`drop_link_lines` never removes it. The tree is not changed. Never raises on odd
    markup.
    """
    site = _site(url)
    links: set[str] = set()
    prose: set[str] = set()
    after_label = False
    lists: dict[HtmlElement, bool] = {}  # a list item is a link line only in a list of links
    for block in tree.iter(*_LINE_TAGS):
        if block.tag in ("div", "li") and not _is_leaf(block):
            continue
        text = " ".join(block.text_content().split())
        kind = _kind(block, text, site, after_label)
        if kind is _Kind.EMPTY:
            continue
        after_label = kind is _Kind.LABEL
        if kind is _Kind.LINK and block.tag == "li" and (parent := block.getparent()) is not None:
            if parent not in lists:
                lists[parent] = _mostly_links(parent, site)
            kind = kind if lists[parent] else _Kind.PROSE
        (prose if kind is _Kind.PROSE else links).add(text.casefold())
    return frozenset(links - prose)


def drop_link_lines(text: str, lines: frozenset[str]) -> str:
    """``text`` (one block a line, as extracted) without the lines that are link lines.

    A list item's leading ``- `` marker is ignored when comparing.
    """
    if not lines:
        return text
    kept = [line for line in text.split("\n") if _line_key(_ITEM_MARK.sub("", line)) not in lines]
    return "\n".join(kept)
