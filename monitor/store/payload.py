"""The JSON an outbox row carries: what the delivery loop needs to render the message later.

The planners build an :class:`AlertPayload` (one story and the rules that matched it) or a
:class:`NoticePayload` (a note, with the first few stories of a flood); the store writes
them with ``to_json`` and hands them back with ``from_json``. Rows outlive the process
that wrote them, so the JSON shape (the ``_...JSON`` dicts below) only ever grows: a new
field gets a default, and no field is renamed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict, cast

from monitor.models import Match, Snippet, Story


class _SnippetJSON(TypedDict):
    text: str
    spans: list[list[int]]  # [start, end] character offsets of the hits


class _RuleJSON(TypedDict):
    rule: str
    snippets: list[_SnippetJSON]


class _AlertJSON(TypedDict, total=False):
    title: str
    url: str
    source: str
    outlet: str
    published: float | None  # epoch seconds
    rules: list[_RuleJSON]
    details: list[str]  # a follow-up's new details (sentences of the write-up)


class _NoticeJSON(TypedDict, total=False):
    note: str
    items: list[_AlertJSON]


@dataclass(frozen=True, slots=True)
class RuleEvidence:
    """One rule that matched the story, with the snippets that show where."""

    rule: str
    snippets: tuple[Snippet, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertPayload:
    """One story as an alert shows it, and the rules that matched it.

    ``published`` is in epoch seconds (None when the feed gave no date); ``outlet`` is
    empty when the feed named none (the message then shows ``source``). Snippets keep
    only their text and hit spans.
    """

    title: str = ""
    url: str = ""
    source: str = ""
    outlet: str = ""
    published: float | None = None
    rules: tuple[RuleEvidence, ...] = ()
    #: a follow-up's write-up: what it adds to the event (sentences of its lead)
    details: tuple[str, ...] = ()

    @classmethod
    def from_story(cls, story: Story, matches: Sequence[Match]) -> AlertPayload:
        """The payload of ``story`` alerting for ``matches`` (every snippet of each match)."""
        return cls(
            title=story.title,
            url=story.url,
            source=story.source,
            outlet=story.outlet,
            published=story.published.timestamp() if story.published else None,
            rules=tuple(
                RuleEvidence(m.rule, tuple(Snippet(text=s.text, spans=s.spans) for s in m.snippets))
                for m in matches
            ),
        )

    def to_json(self) -> str:
        """The JSON text stored in ``outbox.payload`` (non-ASCII kept as is)."""
        return json.dumps(self._to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> AlertPayload:
        """Read back what :meth:`to_json` wrote; missing fields take their defaults.

        Raises ``ValueError`` when ``text`` is not JSON.
        """
        return cls._from_dict(cast(_AlertJSON, json.loads(text)))

    def _to_dict(self) -> _AlertJSON:
        return {
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "outlet": self.outlet,
            "published": self.published,
            "rules": [
                {
                    "rule": r.rule,
                    "snippets": [{"text": s.text, "spans": [list(x) for x in s.spans]} for s in r.snippets],
                }
                for r in self.rules
            ],
            **({"details": list(self.details)} if self.details else {}),
        }

    @classmethod
    def _from_dict(cls, data: _AlertJSON) -> AlertPayload:
        return cls(
            title=data.get("title", ""),
            url=data.get("url", ""),
            source=data.get("source", ""),
            outlet=data.get("outlet") or "",
            published=data.get("published"),
            rules=tuple(
                RuleEvidence(
                    r["rule"],
                    tuple(
                        Snippet(text=s["text"], spans=tuple((int(a), int(b)) for a, b in s["spans"]))
                        for s in r["snippets"]
                    ),
                )
                for r in data.get("rules", [])
            ),
            details=tuple(str(d) for d in data.get("details", [])),
        )


@dataclass(frozen=True, slots=True)
class NoticePayload:
    """A message that is a note rather than one story: a folded flood (``items`` shows the
    first few stories) or a health notice (no items)."""

    note: str = ""
    items: tuple[AlertPayload, ...] = ()

    def to_json(self) -> str:
        """The JSON text stored in ``outbox.payload`` (non-ASCII kept as is)."""
        data: _NoticeJSON = {"note": self.note, "items": [item._to_dict() for item in self.items]}
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> NoticePayload:
        """Read back what :meth:`to_json` wrote; missing fields take their defaults.

        Raises ``ValueError`` when ``text`` is not JSON.
        """
        data = cast(_NoticeJSON, json.loads(text))
        return cls(
            note=data.get("note", ""),
            items=tuple(AlertPayload._from_dict(item) for item in data.get("items", [])),
        )
