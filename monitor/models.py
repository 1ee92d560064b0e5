"""Plain data shared by every stage: Story, Hit, Snippet, Match, and the outbox enums.

These are deliberately dumb dataclasses with no I/O so that the pure stages
(rules, extract, render) can be tested on their own. :class:`OutboxStatus` and
:class:`MessageKind` live here because both the store and notify need them and
neither may import the other. The limits of a story's fields (``STORY_*_LIMIT``, cut with
:func:`clip`) live here because extraction keeps no more and the matcher searches no more.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OutboxStatus(StrEnum):
    """Where an outbox row is in its life; the value is what the ``outbox.status`` column stores.

    ``pending`` rows wait for (another) delivery attempt; a ``sending`` row is claimed by the
    delivery loop for one send, until its outcome is written or its lease (``lease_until``)
    ends; ``sent`` and ``cancelled`` rows are done and pruned after retention; ``dead`` rows
    gave up and stay until requeued by ``newsmonitor outbox retry``.
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    CANCELLED = "cancelled"


class MessageKind(StrEnum):
    """What a notification is; the value names its templates and is stored in ``outbox.kind``.

    Outbox rows are ``alert`` (one rule matched one story), ``summary`` (a flood was folded
    into one message) or ``health`` (the daemon's notice about itself); the delivery loop
    turns held alert rows into one ``digest``, and the alert rows of an event's later
    write-ups into one ``follow_up``; neither is stored.
    """

    ALERT = "alert"
    DIGEST = "digest"
    SUMMARY = "summary"
    HEALTH = "health"
    #: later write-ups of an event already alerted (``group: event``); like a digest, never stored
    FOLLOW_UP = "follow_up"


#: the most of a story's text that rules search, and that article extraction keeps: the cap
#: of each text field of a feed entry too. Words past it never match (a 9 MB page would take
#: the matcher half a minute and a gigabyte; this much, about a second at worst).
STORY_TEXT_LIMIT = 500_000
#: the most of a story's title that rules search (and extraction keeps)
STORY_TITLE_LIMIT = 1_000
#: the most of a story's URL that rules search (``url:`` terms)
STORY_URL_LIMIT = 2_000
#: how far back from a limit :func:`clip` looks for a space to cut at
_CUT_BACK = 100


def clip(text: str, limit: int) -> str:
    """``text`` when it has at most ``limit`` characters, else its first ``limit`` characters
    cut back to the last whitespace among their last 100 (no half word at the end)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = max(head.rfind(" ", limit - _CUT_BACK), head.rfind("\n", limit - _CUT_BACK))
    return head[:space].rstrip() if space > 0 else head


@dataclass(slots=True)
class Story:
    """One news story, as found in a feed or on a section page.

    ``title`` and ``text`` are the only fields rules search without a field
    prefix; ``text`` is the story's body: the extracted main text of the article,
    or the feed's summary/content when no text was extracted. The raw page is
    never kept here.
    """

    source: str
    url: str
    title: str
    text: str = ""
    summary: str = ""
    guid: str | None = None
    published: datetime | None = None
    author: str | None = None
    lang: str | None = None
    canonical_url: str | None = None
    source_tags: tuple[str, ...] = ()
    #: every identity key of the story (normalised link, canonical URL, GUID, title hash);
    #: the story counts as seen when any of them was seen.
    keys: tuple[str, ...] = ()
    #: the outlet's display name (the source name unless the feed says better)
    outlet: str = ""
    #: how the text was obtained: "feed", "extracted", or "fallback" (extraction failed)
    text_origin: str = "feed"
    #: the syndication cluster (same wire story on several sites); the story's own key when alone
    cluster: str = ""

    @property
    def key(self) -> str:
        """The primary identity key (first of ``keys``)."""
        return self.keys[0] if self.keys else ""


@dataclass(frozen=True, slots=True)
class Hit:
    """One matched query term: which field, which word positions, and character offsets."""

    term: str
    field: str
    position: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Snippet:
    """A sentence (at most ~300 characters) around hits; ``spans`` mark hits as offsets into ``text``."""

    text: str
    spans: tuple[tuple[int, int], ...] = ()
    field: str = "text"

    def _render(self, open_: str, close: str, escape: bool) -> str:
        # one list of pieces joined once, and no call per piece for plain text: ``match``
        # renders every snippet of every match it prints
        text = self.text
        out: list[str] = []
        pos = 0
        for start, end in sorted(self.spans):
            if start < pos:
                continue
            if escape:
                out += (html.escape(text[pos:start]), open_, html.escape(text[start:end]), close)
            else:
                out += (text[pos:start], open_, text[start:end], close)
            pos = end
        out.append(html.escape(text[pos:]) if escape else text[pos:])
        return "".join(out)

    def plain(self) -> str:
        """Plain text with hits marked ``**like this**``."""
        return self._render("**", "**", escape=False)

    def markdown(self) -> str:
        """Markdown with hits in bold; Markdown control characters in the text are escaped."""
        md_special = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~"})
        out: list[str] = []
        pos = 0
        for start, end in sorted(self.spans):
            if start < pos:
                continue
            out.append(self.text[pos:start].translate(md_special))
            out.append("**" + self.text[start:end].translate(md_special) + "**")
            pos = end
        out.append(self.text[pos:].translate(md_special))
        return "".join(out)

    def html(self) -> str:
        """HTML-escaped text with hits in ``<mark>``."""
        return self._render("<mark>", "</mark>", escape=True)


@dataclass(frozen=True, slots=True)
class TopicScore:
    """Why a topic rule (``about:``) matched: the similarity of the story to the rule's
    description (cosine, -1..1), the threshold it had to reach, and the sentence of the
    story most similar to the description with that sentence's own similarity."""

    similarity: float
    threshold: float
    sentence: str
    sentence_similarity: float


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched a story, with the evidence (``topic``: the score of a rule with
    ``about:``, None for a keyword rule)."""

    rule: str
    hits: tuple[Hit, ...] = ()
    snippets: tuple[Snippet, ...] = ()
    topic: TopicScore | None = None


@dataclass(frozen=True, slots=True)
class HostTurn:
    """One request's turn at a host among the instances sharing a database: the in-flight
    place it holds (``slot``) and when it may start (``start``, epoch seconds: the host's
    delay after the previous request of any instance). Made by the store, used by the fetch
    layer's politeness, which may not import each other."""

    slot: int
    start: float
