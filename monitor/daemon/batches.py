"""Turning the due rows of one destination into messages, and a message into what a destination receives.

Pure but for :func:`render_for`'s templates: rows in, :class:`Batch` es out, so a table test
(``tests/daemon/test_batches.py``) covers every grouping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.config import SourceSettings
from monitor.daemon.targets import Destination, Target
from monitor.models import MessageKind
from monitor.notify.message import AlertItem, Message, Rendered
from monitor.store import repo
from monitor.store.payload import AlertPayload, NoticePayload


@dataclass(slots=True)
class Batch:
    """Rows that go out as one message."""

    rows: list[repo.OutboxEntry]
    message: Message
    #: the story or cluster of each item of ``message`` (same order)
    subjects: list[str] = field(default_factory=list)


def _item(key: str, payload: AlertPayload) -> AlertItem:
    published = payload.published
    return AlertItem(
        key=key,
        title=payload.title,
        url=payload.url,
        outlets=[payload.outlet or payload.source],
        published=datetime.fromtimestamp(published, UTC) if published else None,
        rules=[(r.rule, list(r.snippets)) for r in payload.rules],
        source=payload.source,
        details=list(payload.details),
    )


def plan_batches(rows: list[repo.OutboxEntry], target: str) -> list[Batch]:
    """Group due rows of one destination into messages, oldest first.

    Immediate rows of one story (or cluster) become one alert listing every rule that
    matched it; rows held for a digest, quiet hours or a throttle become one digest; the
    follow-up rows of one event (``event`` set) become one follow-up (its note is written
    by :func:`describe_follow_up` once the outlets are known); summary and health rows go
    alone.
    """
    batches: list[Batch] = []
    by_story: dict[str, Batch] = {}
    by_event: dict[int, Batch] = {}
    digest: Batch | None = None
    for row in rows:
        payload = row.payload
        if isinstance(payload, NoticePayload):  # a summary or health row
            items = [_item(row.key, p) for p in payload.items]
            msg = Message(kind=row.kind, target=target, items=items, note=payload.note, keys=[row.key])
            batches.append(Batch([row], msg))
            continue
        if row.digest:
            if digest is None:
                digest = Batch([], Message(kind=MessageKind.DIGEST, target=target, items=[], keys=[]))
                batches.append(digest)
            _merge(digest, row, payload)
            continue
        if row.event is not None:
            batch = by_event.get(row.event)
            if batch is None:
                batch = Batch([], Message(kind=MessageKind.FOLLOW_UP, target=target, items=[], keys=[]))
                by_event[row.event] = batch
                batches.append(batch)
            _merge(batch, row, payload)
            continue
        subject = row.subject
        batch = by_story.get(subject)
        if batch is None:
            batch = Batch([], Message(kind=MessageKind.ALERT, target=target, items=[], keys=[]))
            by_story[subject] = batch
            batches.append(batch)
        _merge(batch, row, payload)
    return batches


def _merge(batch: Batch, row: repo.OutboxEntry, payload: AlertPayload) -> None:
    """Add ``row`` (whose payload is ``payload``) to ``batch``: a rule of an item already there, or a new item."""
    batch.rows.append(row)
    batch.message.keys.append(row.key)
    subject = row.subject
    item = _item(row.key, payload)
    if subject in batch.subjects:
        batch.message.items[batch.subjects.index(subject)].rules.extend(item.rules)
        return
    batch.subjects.append(subject)
    batch.message.items.append(item)


#: the most new details a follow-up quotes
FOLLOW_UP_DETAILS = 4


def describe_follow_up(message: Message) -> None:
    """Write the note of follow-up ``message``: how many more write-ups and outlets tell
    the event now, which, and the sentences they add (at most :data:`FOLLOW_UP_DETAILS`)."""
    outlets: list[str] = []
    for item in message.items:
        for outlet in item.outlets or [item.source]:
            if outlet and outlet not in outlets:
                outlets.append(outlet)
    details: list[str] = []
    for item in message.items:
        for detail in item.details:
            if detail not in details:
                details.append(detail)
    count = len(message.items)
    head = "The story develops: " + (
        f"{count} more write-up{'s' if count != 1 else ''}"
        + (f" from {len(outlets)} outlet{'s' if len(outlets) != 1 else ''} ({', '.join(outlets)})" if outlets else "")
    )
    lines = [head]
    if details:
        lines.append("New details:")
        lines.extend(f"- {d}" for d in details[:FOLLOW_UP_DETAILS])
    message.note = "\n".join(lines)


def outlet_names(sources: Iterable[str], configured: Mapping[str, SourceSettings]) -> list[str]:
    """The outlets of a story's sources, each once, in order: a source's ``outlet``, else its name.

    A source no longer in the configuration is named as it was stored.
    """
    outlets: list[str] = []
    for source in sources:
        name = configured[source].outlet if source in configured else None
        name = name or source
        if name not in outlets:
            outlets.append(name)
    return outlets


def render_for(target: Target, dest: Destination, message: Message) -> Rendered:
    """``message`` as destination ``dest`` of ``target`` receives it: an e-mail URL gets the
    HTML of an e-mail (a subject-length title), any other URL the notifier's format.

    Raises whatever the renderer raises (a user template can fail in any way).
    """
    if dest.url.split("://", 1)[0].lower() in ("mailto", "mailtos"):
        # apprise takes one body and writes the plain-text part from the HTML itself
        html, _plain = target.renderer.render_email(message)
        return html
    return target.renderer.render(message)
