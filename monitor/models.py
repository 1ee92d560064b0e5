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
from typing import Protocol


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


#: what a match's evidence is: its hits and its snippets
Report = tuple[tuple[Hit, ...], tuple[Snippet, ...]]


class ReportSource(Protocol):
    """What builds the evidence of a story's matches when it is first read (the matcher's
    per-story state): ``report(key)`` is the report of the match made with ``key``."""

    def report(self, key: object) -> Report: ...


class Match:
    """A rule that matched a story, with the evidence (``topic``: the score of a rule with
    ``about:``, None for a keyword rule).

    Immutable, compared and hashed by its four values, like a frozen dataclass. The matcher
    decides first and builds the evidence (``hits``, ``snippets``) when one of them is first
    read (:meth:`later`): most of the cost of a match is its evidence, and a caller that
    only wants to know which rules matched (a count, a filter, a flood that shows ten
    stories) does not pay it. Reading it later gives what reading it at once would have.
    """

    __slots__ = ("_evidence", "_later", "rule", "topic")

    rule: str
    topic: TopicScore | None
    #: (hits, snippets), once built
    _evidence: Report
    _later: tuple[ReportSource, object] | None

    def __init__(self, rule: str, hits: tuple[Hit, ...] = (), snippets: tuple[Snippet, ...] = (),
                 topic: TopicScore | None = None) -> None:
        _set_rule(self, rule)
        _set_evidence(self, (hits, snippets))
        _set_topic(self, topic)
        _set_later(self, None)

    @classmethod
    def later(cls, rule: str, source: ReportSource, key: object) -> Match:
        """A keyword match whose evidence is ``source.report(key)``, built when first read."""
        match: Match = _new(cls)
        _set_rule(match, rule)
        _set_topic(match, None)
        _set_later(match, (source, key))
        return match

    @property
    def hits(self) -> tuple[Hit, ...]:
        """The matched terms: field, word position and character offsets, at most
        :data:`~monitor.rules.evaluate.MAX_HITS`."""
        later = self._later
        if later is not None:
            # builds the evidence (see :meth:`later`) and lets go of the story's state (the
            # evidence first: another thread may read it as soon as ``_later`` is None);
            # written out in both properties: the CLI reads both of every match
            _set_evidence(self, later[0].report(later[1]))
            _set_later(self, None)
        return self._evidence[0]

    @property
    def snippets(self) -> tuple[Snippet, ...]:
        """One or two passages of the story with the hits marked."""
        later = self._later
        if later is not None:
            _set_evidence(self, later[0].report(later[1]))
            _set_later(self, None)
        return self._evidence[1]

    def _values(self) -> tuple[str, tuple[Hit, ...], tuple[Snippet, ...], TopicScore | None]:
        return self.rule, self.hits, self.snippets, self.topic

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Match)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"Match(rule={self.rule!r}, hits={self.hits!r}, snippets={self.snippets!r}, topic={self.topic!r})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Match is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Match is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[Match], tuple[str, tuple[Hit, ...], tuple[Snippet, ...], TopicScore | None]]:
        # pickled (and copied) with its evidence, never with the matcher's per-story state
        return Match, self._values()


_new = object.__new__
# the slots set through their descriptors: ``__setattr__`` refuses every change
_set_rule, _set_topic, _set_evidence, _set_later = (
    getattr(Match, name).__set__ for name in ("rule", "topic", "_evidence", "_later"))


@dataclass(frozen=True, slots=True)
class HostTurn:
    """One request's turn at a host among the instances sharing a database: the in-flight
    place it holds (``slot``) and when it may start (``start``, epoch seconds: the host's
    delay after the previous request of any instance). Made by the store, used by the fetch
    layer's politeness, which may not import each other."""

    slot: int
    start: float
