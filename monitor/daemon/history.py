"""The stored history put to use: a query backtested over the stories the daemon recorded,
and each rule's activity (matches per day, the last one, alerts sent).

:func:`backtest` and :func:`rules_report` take the :class:`~monitor.store.facade.Store` and
return frozen dataclasses, so ``newsmonitor backtest``, ``newsmonitor rules --report`` and
the dashboard show the same thing. A backtest matches as the daemon does: the stories as
recorded (title, link, language, text), each source's outlet and tags as configured now,
the same matcher; it runs page by page (``cpu``: where a page is matched, the daemon's CPU
thread in the daemon), so the polls of a running daemon interleave with it. The report
reads what the daemon recorded when it matched: no rule runs again.

Days are calendar days in the zone given (the configuration's ``timezone``), by when the
daemon first saw a story or matched it.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import partial

from monitor.config import SourceSettings
from monitor.models import Snippet, Story, TopicScore
from monitor.rules import Matcher, RuleSpec
from monitor.store.facade import Store
from monitor.store.history import StoredStory

#: stories read and matched at a time: one read transaction and one turn of the CPU thread each
PAGE = 500

#: where a page of stories is matched: called with a function of no arguments, awaited
CpuRunner = Callable[[Callable[[], None]], Awaitable[None]]


async def run_inline(work: Callable[[], None]) -> None:
    """Run ``work`` here and now."""
    work()


async def run_dedicated(work: Callable[[], None]) -> None:
    """Run ``work`` here and now, in a process that does nothing else (``newsmonitor
    backtest``), then freeze every object alive (:func:`gc.freeze`).

    The matcher caches the analysis of every word it meets: after a few thousand stories,
    millions of objects the cyclic collector would walk again at each full collection
    (measured on 20 000 stories: 1 490 stories per CPU second without, 2 079 with). Frozen,
    they are still freed when no longer used; only a reference cycle among them would
    outlive the process's work. Not for the daemon, whose other objects come and go.
    """
    work()
    gc.freeze()


@dataclass(frozen=True, slots=True)
class DayCount:
    """How many on one calendar day."""

    day: date
    count: int


@dataclass(frozen=True, slots=True)
class BacktestMatch:
    """A stored story the backtested query matches, with the evidence.

    ``terms`` are the query's terms that matched (as ``match`` prints them); ``snippets``
    the sentences around them. Times are epoch seconds.
    """

    story_id: int
    source: str
    title: str
    url: str
    published: float | None
    first_seen: float
    lang: str | None
    terms: tuple[str, ...]
    snippets: tuple[Snippet, ...]
    #: the topic score (a backtest with ``about``), else None
    topic: TopicScore | None = None


@dataclass(frozen=True, slots=True)
class Backtest:
    """What a query matches in the stories first seen in [``since``, ``until``).

    ``searched`` stories were searched, ``without_text`` of them recorded before the
    history kept texts (only their titles, links and sources were searched); ``matched``
    of them matched. ``per_day`` counts the matches on every day of the window (in
    ``zone``), oldest first, days without one included; ``matches`` are the newest
    ``limit`` of them, newest first.
    """

    query: str
    since: float
    until: float
    zone: str
    searched: int
    without_text: int
    matched: int
    per_day: tuple[DayCount, ...]
    matches: tuple[BacktestMatch, ...]


@dataclass(frozen=True, slots=True)
class RuleActivity:
    """One rule in a :class:`RulesReport`: its matches in the window (``per_day`` for every
    day, oldest first), the alerts of it sent in the window (one per destination), and its
    latest match in the history (None: none since ``retention`` ago)."""

    rule: str
    matches: int
    alerts: int
    per_day: tuple[DayCount, ...]
    last_match: float | None


@dataclass(frozen=True, slots=True)
class RulesReport:
    """Each rule's activity in [``since``, ``until``), in the order the rules were given,
    days in ``zone``."""

    since: float
    until: float
    zone: str
    days: tuple[date, ...]
    rules: tuple[RuleActivity, ...]

    @property
    def silent(self) -> tuple[RuleActivity, ...]:
        """The rules that matched nothing in the window, in order (dead, or waiting for news)."""
        return tuple(rule for rule in self.rules if rule.matches == 0)


def days_between(since: float, until: float, zone: tzinfo) -> tuple[date, ...]:
    """Every calendar day (in ``zone``) that [``since``, ``until``) touches, oldest first."""
    first = datetime.fromtimestamp(since, UTC).astimezone(zone).date()
    last = datetime.fromtimestamp(max(since, until - 1e-6), UTC).astimezone(zone).date()
    return tuple(first + timedelta(days=n) for n in range((last - first).days + 1))


def _day(ts: float, zone: tzinfo) -> date:
    return datetime.fromtimestamp(ts, UTC).astimezone(zone).date()


def _per_day(days: Sequence[date], counts: Counter[date]) -> tuple[DayCount, ...]:
    return tuple(DayCount(day, counts[day]) for day in days)


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone.tzname(None) or zone)


# ---------------------------------------------------------------------------- backtest


def sources_named(
    configured: Iterable[SourceSettings], names: Collection[str], tags: Collection[str]
) -> set[str] | None:
    """The names of the stored sources a rule limited to ``names`` (source names or outlets)
    and ``tags`` can match, as the daemon applies such a limit; None when neither limits it.

    A configured source counts when its name or outlet is among ``names`` or one of its
    tags among ``tags`` (case aside); a name that no configured source has counts as
    written (a source removed since).
    """
    if not names and not tags:
        return None
    wanted = {n.casefold() for n in names}
    wanted_tags = {t.casefold() for t in tags}
    found = set(names)
    for src in configured:
        if {src.name.casefold(), (src.outlet or "").casefold()} & wanted:
            found.add(src.name)
        if {t.casefold() for t in src.tags} & wanted_tags:
            found.add(src.name)
    return found


@dataclass(slots=True)
class _Tally:
    """A backtest as it goes: fed page by page (:meth:`add`, CPU work), read at the end."""

    matcher: Matcher
    sources: dict[str, SourceSettings]
    zone: tzinfo
    limit: int
    searched: int = 0
    without_text: int = 0
    matched: int = 0
    per_day: Counter[date] = field(default_factory=Counter)
    newest: deque[BacktestMatch] = field(default_factory=deque)

    def story(self, stored: StoredStory) -> Story:
        """``stored`` as the daemon's matcher saw it: its source's outlet and tags as configured now."""
        src = self.sources.get(stored.source)
        return Story(
            source=stored.source,
            url=stored.url,
            title=stored.title,
            text=stored.text or "",
            lang=stored.lang,
            published=datetime.fromtimestamp(stored.published, UTC) if stored.published is not None else None,
            source_tags=tuple(src.tags) if src is not None else (),
            outlet=(src.outlet if src is not None else None) or stored.source,
            cluster=stored.cluster or "",
        )

    def add(self, page: Sequence[StoredStory]) -> None:
        """Match every story of ``page``, counting it and what matched."""
        for stored in page:
            self.searched += 1
            if stored.text is None:
                self.without_text += 1
            found = self.matcher.match(self.story(stored))
            if not found:
                continue
            self.matched += 1
            self.per_day[_day(stored.first_seen, self.zone)] += 1
            match = found[0]
            self.newest.append(
                BacktestMatch(
                    story_id=stored.id,
                    source=stored.source,
                    title=stored.title,
                    url=stored.url,
                    published=stored.published,
                    first_seen=stored.first_seen,
                    lang=stored.lang,
                    terms=tuple(sorted({hit.term for hit in match.hits})),
                    snippets=match.snippets,
                    topic=match.topic,
                )
            )
            if len(self.newest) > self.limit:
                self.newest.popleft()


async def backtest(
    store: Store,
    query: str,
    *,
    since: float,
    until: float,
    configured: Sequence[SourceSettings] = (),
    sources: Sequence[str] = (),
    tags: Sequence[str] = (),
    zone: tzinfo = UTC,
    limit: int = 50,
    cpu: CpuRunner = run_inline,
    page: int = PAGE,
    about: str = "",
    threshold: float | None = None,
) -> Backtest:
    """Run ``query`` over the stories first seen in [``since``, ``until``), as a rule limited
    to ``sources`` (source names or outlets) and ``tags`` would run (neither: every source),
    with the outlets and tags of the ``configured`` sources.

    Reads and matches ``page`` stories at a time, matching on ``cpu``; keeps the newest
    ``limit`` matches. With ``about``, a topic rule (``query`` may be empty; with one, both
    must hold) whose matches carry their similarity. Raises
    :class:`~monitor.errors.QueryError` for an invalid query or
    :class:`~monitor.errors.TopicModelError` (both before reading anything), StoreError or
    the database's errors from the reads.
    """
    matcher = Matcher.compile([RuleSpec("backtest", query, tuple(sources), tuple(tags), about, threshold)])
    tally = _Tally(matcher, {src.name: src for src in configured}, zone, limit)
    names = sources_named(configured, sources, tags)
    read = partial(store.story_history, until=until, sources=names, limit=page)
    stories = await read(since=since)
    while stories:
        # the next page is read on the database thread while this one is matched
        following = asyncio.ensure_future(read(since=stories[-1].first_seen, after=stories[-1].id))
        try:
            await cpu(partial(tally.add, stories))
        except BaseException:
            following.cancel()
            raise
        stories = await following
    days = days_between(since, until, zone)
    return Backtest(
        query=query,
        since=since,
        until=until,
        zone=_zone_name(zone),
        searched=tally.searched,
        without_text=tally.without_text,
        matched=tally.matched,
        per_day=_per_day(days, tally.per_day),
        matches=tuple(reversed(tally.newest)),
    )


# ---------------------------------------------------------------------------- rules report


async def rules_report(
    store: Store, rules: Sequence[str], *, since: float, until: float, zone: tzinfo = UTC
) -> RulesReport:
    """The activity of each of ``rules`` (names) in [``since``, ``until``): its matches on
    each day, the alerts of it sent, its latest match; from what the daemon recorded, in one
    read. Raises StoreError or the database's errors."""
    activity = await store.match_activity(since=since, until=until)
    days = days_between(since, until, zone)
    report = []
    for rule in dict.fromkeys(rules):
        times = activity.times.get(rule, ())
        counts = Counter(_day(at, zone) for at in times)
        report.append(
            RuleActivity(
                rule=rule,
                matches=len(times),
                alerts=activity.sent.get(rule, 0),
                per_day=_per_day(days, counts),
                last_match=activity.last.get(rule),
            )
        )
    return RulesReport(since, until, _zone_name(zone), days, tuple(report))
