"""What a destination receives, before rendering: a :class:`Message` of :class:`AlertItem` s.

The delivery loop builds these from outbox rows; :class:`monitor.notify.render.Renderer`
turns one into a :class:`Rendered` title and body for apprise. Fields hold raw values as
stored (possibly hostile); sanitising is the renderer's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.models import MessageKind, Snippet

#: the message kinds the renderer knows; each has a template per body format
KINDS: tuple[MessageKind, ...] = tuple(MessageKind)
#: the body formats, as apprise names them
FORMATS = ("text", "markdown", "html")


@dataclass(slots=True)
class AlertItem:
    """One story (or syndication cluster) in a message, with every rule that matched it."""

    key: str  # idempotency key of the outbox row
    title: str
    url: str
    outlets: list[str]
    published: datetime | None
    rules: list[tuple[str, list[Snippet]]]  # (rule name, snippets)
    source: str
    #: in a follow-up: what this write-up adds to the event (sentences of its lead)
    details: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Message:
    """One notification to one notifier.

    ``kind`` is ``alert`` (one story, all rules that matched it), ``digest`` (many stories,
    grouped by rule), ``follow_up`` (later write-ups of an event alerted before: ``note``
    says what they add, ``items`` lists them), ``summary`` (a flood was folded: ``note`` says so, ``items`` shows the
    first few) or ``health`` (``note`` only). ``keys`` lists every idempotency key the
    message carries; the renderer prints them in the footer.
    """

    kind: MessageKind
    target: str
    items: list[AlertItem]
    note: str = ""
    keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered message: ``title`` is one line; ``body_format`` is text, markdown or html."""

    title: str
    body: str
    body_format: str
