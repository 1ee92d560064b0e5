"""The stored history: what each recorded story said, every match of a rule, how every alert ended.

Three tables beside the daemon's working state (:mod:`monitor.store.schema`):

* ``story_texts``: a recorded story's language and the text rules searched, compressed
  with zlib (:func:`encode_text`, :func:`decode_text`); its title, link, source and dates
  are the story's ``stories`` row. Written with the story, deleted with it
  (:func:`repo.prune <monitor.store.repo.prune>`): kept as long as the story is.
* ``rule_matches``: each match of a rule on a story, when the poll that recorded the story
  (or a source's first listing of a seen one) found it.
* ``alert_history``: how each outbox row ended (sent, dead or cancelled) and when, written
  in the transaction that marks the row (:func:`record_outcomes`), so it is there exactly
  when the outbox says so, and kept after the outbox row is pruned.

The last two are pruned by time (:func:`prune_history`), a bounded batch per transaction.
Nothing here holds a secret: a destination is its hash and its notifier's name, an error
is redacted before it is written, a source is its name.

Functions take a :class:`~sqlalchemy.Connection` inside a transaction; rows come back as
the frozen dataclasses below.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Float, Text, delete, func, literal, or_, select

from monitor.models import MessageKind, OutboxStatus
from monitor.redact import redact_text
from monitor.store.schema import alert_history, outbox, rule_matches, stories, story_texts

#: the outbox states a row can end from (a claimed row is ``sending`` while its send runs)
_OPEN = (OutboxStatus.PENDING, OutboxStatus.SENDING)

#: zlib's level for story texts: 6 (its default) keeps ~3 % more than 1 for ~1.6 times the time
#: (about 0.2 ms for a 4 KB text), paid once per story on the database thread
TEXT_LEVEL = 6
#: the longest language tag kept (BCP 47 tags in feeds are short; a longer one is cut)
LANG_LIMIT = 35
#: ids per ``IN (...)`` list: well under SQLite's and PostgreSQL's parameter limits
_CHUNK = 500


def encode_text(text: str) -> bytes:
    """``text`` as stored: its UTF-8 (lone surrogates kept, so nothing is lost) compressed by zlib."""
    return zlib.compress(text.encode("utf-8", "surrogatepass"), TEXT_LEVEL)


def decode_text(data: bytes) -> str:
    """The text :func:`encode_text` stored as ``data``; raises ``zlib.error`` for other bytes."""
    return zlib.decompress(data).decode("utf-8", "surrogatepass")


@dataclass(frozen=True, slots=True)
class StoredStory:
    """A recorded story as the history keeps it.

    ``text`` is what rules searched besides the title (the article's text, or the feed's),
    None for a story recorded before the history kept texts; ``lang`` its language as
    decided then (None: unknown). Times are epoch seconds.
    """

    id: int
    source: str
    title: str
    url: str
    published: float | None
    first_seen: float
    cluster: str | None
    lang: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """How one outbox row ended: ``outcome`` (sent, dead or cancelled) at ``at``.

    One row per (rule, story or cluster, destination): ``target`` is the notifier's name,
    ``dest`` the hash of the URL it went to. ``title`` and ``url`` are its story's, while
    the story is kept (None for a summary or health notice, or once the story is pruned).
    ``error`` says why a row is dead or cancelled (redacted).
    """

    id: int
    key: str
    kind: MessageKind
    rule: str
    target: str
    dest: str
    story_id: int | None
    cluster: str | None
    outcome: OutboxStatus
    at: float
    error: str | None
    title: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class MatchActivity:
    """What the history says of the rules' matches and alerts in a time window.

    ``times``: each rule's matches in the window (epoch seconds, oldest first; rules with
    none are absent); ``last``: each rule's latest match the history holds, in the window or
    before it; ``sent``: how many alerts of each rule were sent in the window (one per
    destination; rules with none are absent).
    """

    times: Mapping[str, Sequence[float]]
    last: Mapping[str, float]
    sent: Mapping[str, int]


# ---------------------------------------------------------------------------- writing


def add_texts(conn: Connection, ids: Sequence[int], texts: Sequence[tuple[str | None, bytes]]) -> None:
    """Keep the language and encoded text (:func:`encode_text`) of each of the stories
    ``ids`` (``texts`` in the same order)."""
    rows = [
        {"story_id": sid, "lang": lang[:LANG_LIMIT] if lang else None, "text": data}
        for sid, (lang, data) in zip(ids, texts, strict=True)
    ]
    if rows:
        conn.execute(story_texts.insert(), rows)


def add_matches(conn: Connection, matches: Sequence[tuple[int, str]], *, source: str, now: float) -> None:
    """Record ``matches`` ((story id, rule name) each), found by a poll of ``source`` at ``now``."""
    rows = [{"rule": rule, "story_id": sid, "source": source, "matched_at": now} for sid, rule in matches]
    if rows:
        conn.execute(rule_matches.insert(), rows)


def record_outcomes(
    conn: Connection, ids: Sequence[int], outcome: OutboxStatus, now: float, *, error: str | None = None
) -> int:
    """Record that the outbox rows ``ids`` that are still open (pending, or claimed for a
    send: ``sending``) end with ``outcome`` at ``now`` (``error``, redacted, says why when it
    is not ``sent``); returns how many.

    Call it in the transaction that marks the rows, before marking them: a row no longer
    open was recorded when it stopped being so, and is not recorded twice.
    """
    said = redact_text(error)[:500] if error else None
    columns = ["key", "kind", "rule", "target", "dest", "story_id", "cluster", "outcome", "at", "error"]
    wanted = list(dict.fromkeys(ids))
    recorded = 0
    for i in range(0, len(wanted), _CHUNK):
        rows = select(
            outbox.c.key,
            outbox.c.kind,
            outbox.c.rule,
            outbox.c.target,
            outbox.c.dest,
            outbox.c.story_id,
            outbox.c.cluster,
            literal(outcome.value, Text),
            literal(now, Float),
            literal(said, Text),
        ).where(outbox.c.id.in_(wanted[i : i + _CHUNK]), outbox.c.status.in_(_OPEN))
        recorded += conn.execute(alert_history.insert().from_select(columns, rows)).rowcount or 0
    return recorded


# ---------------------------------------------------------------------------- reading


def stories_between(
    conn: Connection,
    *,
    since: float,
    until: float,
    sources: Collection[str] | None = None,
    after: int = 0,
    limit: int = 500,
) -> list[StoredStory]:
    """Up to ``limit`` stories first seen in [``since``, ``until``), in the order they were
    first seen (then by id); of those first seen at ``since`` exactly, only the ones with an
    id above ``after``; only those of ``sources`` (names) unless None.

    Page through a window by passing the last story of one page as the ``since`` (its
    ``first_seen``) and ``after`` (its ``id``) of the next: the index on ``first_seen``
    gives each page in order, so a page costs the same wherever it is in the window.
    """
    query = (
        select(
            stories.c.id,
            stories.c.source,
            stories.c.title,
            stories.c.url,
            stories.c.published,
            stories.c.first_seen,
            stories.c.cluster,
            story_texts.c.lang,
            story_texts.c.text,
        )
        .select_from(stories.outerjoin(story_texts, story_texts.c.story_id == stories.c.id))
        .where(
            stories.c.first_seen >= since,
            or_(stories.c.first_seen > since, stories.c.id > after),
            stories.c.first_seen < until,
        )
        .order_by(stories.c.first_seen, stories.c.id)
        .limit(limit)
    )
    if sources is not None:
        query = query.where(stories.c.source.in_(sorted(sources)))
    return [
        StoredStory(
            id=int(row.id),
            source=row.source,
            title=row.title,
            url=row.url,
            published=row.published,
            first_seen=row.first_seen,
            cluster=row.cluster,
            lang=row.lang,
            text=decode_text(row.text) if row.text is not None else None,
        )
        for row in conn.execute(query)
    ]


def match_activity(conn: Connection, *, since: float, until: float) -> MatchActivity:
    """The matches of every rule in [``since``, ``until``), each rule's latest match, and the
    alerts sent per rule in the window (see :class:`MatchActivity`)."""
    times: dict[str, list[float]] = {}
    found = conn.execute(
        select(rule_matches.c.rule, rule_matches.c.matched_at)
        .where(rule_matches.c.matched_at >= since, rule_matches.c.matched_at < until)
        .order_by(rule_matches.c.matched_at, rule_matches.c.id)
    )
    for rule, at in found:
        times.setdefault(rule, []).append(float(at))
    last = conn.execute(select(rule_matches.c.rule, func.max(rule_matches.c.matched_at)).group_by(rule_matches.c.rule))
    sent = conn.execute(
        select(alert_history.c.rule, func.count())
        .where(
            alert_history.c.at >= since,
            alert_history.c.at < until,
            alert_history.c.outcome == OutboxStatus.SENT,
            alert_history.c.kind == MessageKind.ALERT,
        )
        .group_by(alert_history.c.rule)
    )
    return MatchActivity(
        times=times,
        last={rule: float(at) for rule, at in last},
        sent={rule: int(n) for rule, n in sent},
    )


def alerts_between(
    conn: Connection,
    *,
    since: float,
    until: float,
    rule: str | None = None,
    outcomes: Collection[OutboxStatus] | None = None,
    limit: int = 500,
) -> list[AlertRecord]:
    """The newest ``limit`` alert outcomes in [``since``, ``until``), oldest first; only those
    of ``rule`` and with one of ``outcomes`` unless None."""
    query = (
        select(alert_history, stories.c.title, stories.c.url)
        .select_from(alert_history.outerjoin(stories, stories.c.id == alert_history.c.story_id))
        .where(alert_history.c.at >= since, alert_history.c.at < until)
        .order_by(alert_history.c.at.desc(), alert_history.c.id.desc())
        .limit(limit)
    )
    if rule is not None:
        query = query.where(alert_history.c.rule == rule)
    if outcomes is not None:
        query = query.where(alert_history.c.outcome.in_([o.value for o in outcomes]))
    rows = list(conn.execute(query).mappings())
    return [
        AlertRecord(
            id=int(row["id"]),
            key=row["key"],
            kind=MessageKind(row["kind"]),
            rule=row["rule"],
            target=row["target"],
            dest=row["dest"],
            story_id=row["story_id"],
            cluster=row["cluster"],
            outcome=OutboxStatus(row["outcome"]),
            at=float(row["at"]),
            error=row["error"],
            title=row["title"],
            url=row["url"],
        )
        for row in reversed(rows)
    ]


# ---------------------------------------------------------------------------- pruning


def delete_texts(conn: Connection, story_ids: Sequence[int]) -> None:
    """Forget the texts of the stories ``story_ids`` (they are being deleted)."""
    for i in range(0, len(story_ids), _CHUNK):
        conn.execute(delete(story_texts).where(story_texts.c.story_id.in_(story_ids[i : i + _CHUNK])))


def prune_history(conn: Connection, *, older_than: float, batch: int = 1000) -> int:
    """Delete up to ``batch`` matches and up to ``batch`` alert outcomes from before
    ``older_than``, oldest first; returns how many rows went (call again until 0)."""
    deleted = 0
    for table, at in ((rule_matches, rule_matches.c.matched_at), (alert_history, alert_history.c.at)):
        ids = conn.execute(select(table.c.id).where(at < older_than).order_by(at).limit(batch)).scalars().all()
        for i in range(0, len(ids), _CHUNK):
            conn.execute(delete(table).where(table.c.id.in_(ids[i : i + _CHUNK])))
        deleted += len(ids)
    return deleted


@dataclass(frozen=True, slots=True)
class SpikeCounts:
    """A rule's matches now and before, as a spike rule judges them.

    ``current``: stories the rule matched in the window ending now; ``before``: stories it
    matched in the baseline before the window, which covered ``span`` seconds of stored
    history (less than the baseline asked for while the history is younger than it).
    """

    current: int
    before: int
    span: float


@dataclass(frozen=True, slots=True)
class SpikeStory:
    """One story of a spike: the first recorded copy, and how many sources listed it matching."""

    title: str
    url: str
    source: str
    published: float | None
    first_seen: float
    sources: int


def spike_counts(conn: Connection, rule: str, *, now: float, window: float, baseline: float) -> SpikeCounts:
    """The matches of ``rule`` in (``now - window``, ``now``] and in the ``baseline`` before
    that, each story counted once. The baseline starts no earlier than the oldest match the
    history holds (of any rule: when the daemon started keeping it)."""
    start = now - window

    def count(since: float, until: float) -> int:
        found = conn.execute(
            select(func.count(func.distinct(rule_matches.c.story_id))).where(
                rule_matches.c.rule == rule, rule_matches.c.matched_at > since, rule_matches.c.matched_at <= until
            )
        ).scalar()
        return int(found or 0)

    oldest = conn.execute(select(func.min(rule_matches.c.matched_at))).scalar()
    since = start - baseline if oldest is None else max(start - baseline, float(oldest))
    span = max(0.0, start - since) if oldest is not None else 0.0
    return SpikeCounts(current=count(start, now), before=count(since, start) if span else 0, span=span)


def spike_stories(conn: Connection, rule: str, *, since: float, until: float, limit: int) -> list[SpikeStory]:
    """The stories ``rule`` matched in (``since``, ``until``], copies of one story (its
    cluster) counted once: most sources first, then the newest; at most ``limit``."""
    rows = conn.execute(
        select(
            rule_matches.c.story_id,
            rule_matches.c.source,
            stories.c.title,
            stories.c.url,
            stories.c.published,
            stories.c.first_seen,
            stories.c.cluster,
        )
        .join(stories, stories.c.id == rule_matches.c.story_id)
        .where(rule_matches.c.rule == rule, rule_matches.c.matched_at > since, rule_matches.c.matched_at <= until)
        .order_by(rule_matches.c.story_id)
        .limit(20 * limit + 1000)
    ).all()
    groups: dict[str, tuple[SpikeStory, set[str]]] = {}
    for sid, source, title, url, published, first_seen, cluster in rows:
        key = cluster or f"#{sid}"
        if key not in groups:
            first = SpikeStory(title or "", url or "", source, published, float(first_seen), 0)
            groups[key] = (first, set())
        groups[key][1].add(source)
    ranked = sorted(groups.values(), key=lambda g: (-len(g[1]), -g[0].first_seen, g[0].url))
    return [
        SpikeStory(s.title, s.url, s.source, s.published, s.first_seen, len(listed)) for s, listed in ranked[:limit]
    ]
