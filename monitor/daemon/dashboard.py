"""The dashboard's views of a running daemon: the outbox, alerts, rules, try-a-rule, readiness.

:class:`RuntimeDashboard` is the :class:`~monitor.web.view.DashboardProvider` the web server
reads; it turns stored rows into the web package's plain values, so ``web/`` never sees the
store or the runtime.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from zoneinfo import ZoneInfo

from monitor.daemon.history import Backtest, backtest, rules_report
from monitor.daemon.outbox import Zones, describe, headline, wait_of
from monitor.daemon.runtime import Runtime
from monitor.daemon.status import STATUS_CACHE_SECONDS, RuntimeStatus
from monitor.errors import FetchError, MonitorError, QueryError, TopicModelError
from monitor.extract.article import extract_article
from monitor.extract.language import story_language
from monitor.models import MessageKind, OutboxStatus, Snippet, Story
from monitor.redact import redact_text
from monitor.rules import Matcher, RuleSpec
from monitor.store import repo
from monitor.store.history import AlertRecord
from monitor.store.payload import AlertPayload
from monitor.web.view import AlertItem, AlertOutcome, OutboxItem, Readiness, RuleItem, TryMatch, TryResult

log = logging.getLogger("monitor.daemon")

#: the outbox rows the dashboard lists
LISTED = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.DEAD)
#: readiness: the database must answer within this many seconds
DATABASE_DEADLINE = 5.0
#: readiness: a scheduler whose jobs start later than this is not keeping up
MAX_SCHEDULER_LAG = 60.0
#: the longest pasted text a tried query reads (the matcher reads less)
MAX_PASTED = 512 * 1024
#: the days of stored history a tried query searches, and the rules page counts matches in
HISTORY_DAYS = 30
#: the alert outcomes read per alert listed (one per destination; summaries' outcomes too)
OUTCOMES_PER_ALERT = 8
#: the matches of a tried query shown (the newest; all are counted)
TRIED_SHOWN = 50


def outbox_item(row: repo.OutboxEntry, destination: repo.DestinationState | None, now: float, zones: Zones) -> OutboxItem:
    """``row`` as the dashboard lists it: why it waits, in the words of ``newsmonitor outbox``."""
    wait = wait_of(row, destination, now)
    return OutboxItem(
        id=row.id,
        status=row.status.value,
        rule=row.rule,
        target=row.target,
        headline=headline(row),
        tries=row.attempts,
        waiting=describe(wait, now, zones.of_target(row.target)) if wait is not None else "",
        until=wait.until if wait is not None else None,
        created_at=row.created_at,
        last_error=redact_text(row.last_error or ""),
    )


#: an alert: its rule and its story (the story's cluster when it has one)
AlertKey = tuple[str, int | str | None]


def alert_outcomes(records: list[AlertRecord]) -> dict[AlertKey, tuple[AlertOutcome, ...]]:
    """The history's outcomes of alerts by alert, oldest first (summaries and notices left out)."""
    found: dict[AlertKey, list[AlertOutcome]] = {}
    for r in records:
        if r.kind is MessageKind.ALERT:
            outcome = AlertOutcome(r.target, r.outcome.value, r.at, r.error or "")
            found.setdefault((r.rule, r.cluster or r.story_id), []).append(outcome)
    return {key: tuple(outcomes) for key, outcomes in found.items()}


def alert_items(
    rows: list[repo.OutboxEntry], limit: int, outcomes: Mapping[AlertKey, tuple[AlertOutcome, ...]] | None = None
) -> list[AlertItem]:
    """Alert rows as alerts, one per rule and story (a story sent to two notifiers is one
    alert: the newest row stands for it, ``outcomes`` tells each), at most ``limit``."""
    seen: set[AlertKey] = set()
    items: list[AlertItem] = []
    for row in rows:
        payload = row.payload
        key: AlertKey = (row.rule, row.cluster or row.story_id)
        if not isinstance(payload, AlertPayload) or key in seen:
            continue
        seen.add(key)
        snippets: tuple[Snippet, ...] = next((e.snippets for e in payload.rules if e.rule == row.rule), ())
        items.append(
            AlertItem(
                id=row.id,
                rule=row.rule,
                title=payload.title,
                url=payload.url,
                source=payload.source,
                outlet=payload.outlet,
                at=row.created_at,
                published=payload.published,
                status=row.status.value,
                snippets=snippets,
                outcomes=(outcomes or {}).get(key, ()),
            )
        )
        if len(items) >= limit:
            break
    return items


class RuntimeDashboard(RuntimeStatus):
    """The :class:`~monitor.web.view.DashboardProvider` of a running daemon."""

    def __init__(self, rt: Runtime, *, cache_for: float = STATUS_CACHE_SECONDS) -> None:
        super().__init__(rt, cache_for=cache_for)
        self._rt = rt
        #: held while a search of the stored history runs: one at a time, the others are told
        #: so (each takes the CPU thread a page at a time; 100 000 stories take about a minute)
        self.history_search = asyncio.Lock()

    async def outbox_items(self, limit: int) -> list[OutboxItem]:
        """The waiting and dead rows, the first ``limit`` by id."""
        rows, destinations = await self._rt.store.outbox_listing(LISTED, limit)
        now = self._rt.clock.timestamp()
        zones = Zones.of(self._rt.config)
        return [outbox_item(row, destinations.get(row.dest), now, zones) for row in rows]

    async def retry_alert(self, row_id: int) -> bool:
        """Row ``row_id`` pending again, due now, and the delivery loop woken for it."""
        done = await self._rt.store.retry_row(row_id, self._rt.clock.timestamp())
        if done:
            log.info("outbox: row %d requeued from the dashboard", row_id)
            self._rt.outbox_changed.set()
        return done

    async def alert_items(self, limit: int, rule: str | None = None) -> list[AlertItem]:
        """The newest ``limit`` alerts (of ``rule`` only), newest first."""
        # twice as many rows: a story sent to two notifiers has two rows and is one alert
        rows = await self._rt.store.recent_alerts(limit * 2, rule)
        if not rows:
            return []
        # how they ended: the outcomes since the oldest was written (each comes after its row)
        records = await self._rt.store.alert_history(
            since=min(r.created_at for r in rows), until=self._rt.clock.timestamp() + 1, rule=rule,
            limit=limit * OUTCOMES_PER_ALERT,
        )
        return alert_items(rows, limit, alert_outcomes(records))

    def _window(self) -> tuple[float, float]:
        now = self._rt.clock.timestamp()
        return now - HISTORY_DAYS * 86400, now

    async def rule_items(self) -> list[RuleItem]:
        """Every configured rule (switched off too) with its alert count, and its matches,
        alerts sent and last match in the last :data:`HISTORY_DAYS` days of the history
        (a rule that never matched has none: the dead rules show)."""
        rules = self._rt.config.settings.rules
        counts = await self._rt.store.alert_counts()
        since, until = self._window()
        report = await rules_report(self._rt.store, [r.name for r in rules], since=since, until=until)
        activity = {a.rule: a for a in report.rules}
        items = []
        for r in rules:
            done = activity[r.name]
            alerts, last_alert = counts.get(r.name, (0, None))
            items.append(
                RuleItem(r.name, r.shown, r.enabled, alerts, last_alert, matches=done.matches, sent=done.alerts,
                         last_match=done.last_match, window_days=HISTORY_DAYS)
            )
        return items

    async def try_rule(self, query: str, *, text: str = "", url: str = "", about: str = "") -> TryResult:
        """``query`` (and/or the topic ``about``: a topic rule at the default threshold) run on
        ``text``, else the article at ``url`` (through the daemon's own guarded client: its
        allow_networks, nothing more), else the stored stories."""
        about = about.strip()
        if not query.strip() and not about:
            return TryResult(query, error="a query, a topic (about), or both are needed")
        if about and len(about.split()) < 2:
            return TryResult(query, error="describe the topic in a few words, e.g. 'export controls on rare earths'")
        try:
            # on the CPU thread, as all matching: the word caches are shared by every matcher
            matcher = await self._rt.cpu(Matcher.compile, [RuleSpec("try", query if query.strip() else "", about=about)])
        except QueryError as exc:
            return TryResult(query, error=f"invalid query: {exc}")
        except TopicModelError as exc:
            return TryResult(query, error=str(exc))
        if text.strip():
            text = text[:MAX_PASTED]
            story = Story(source="(pasted text)", url="", title="", text=text, lang=story_language(None, "", text))
            return await self._rt.cpu(_result, query, matcher, story, "the pasted text")
        if url:
            try:
                story = await self._story_at(url)
            except MonitorError as exc:
                return TryResult(query, error=redact_text(str(exc)), scope=url)
            return await self._rt.cpu(_result, query, matcher, story, "the article at the URL")
        return await self._backtest(query, about)

    async def _backtest(self, query: str, about: str = "") -> TryResult:
        """``query`` over the stories first seen in the last :data:`HISTORY_DAYS` days, a
        page at a time on the CPU thread (the polls go on meanwhile)."""
        settings = self._rt.config.settings
        since, until = self._window()
        if self.history_search.locked():
            busy = "another search of the stored history is running; try again when it is done"
            return TryResult(query, error=busy, scope="the stored history")
        try:
            async with self.history_search:
                found = await backtest(
                    self._rt.store, query, since=since, until=until, configured=settings.sources,
                    zone=ZoneInfo(settings.timezone), limit=TRIED_SHOWN, cpu=self._rt.cpu, about=about,
                )
        except MonitorError as exc:
            return TryResult(query, error=redact_text(str(exc)), scope="the stored history")
        return _history_result(found)

    async def _story_at(self, url: str) -> Story:
        if not url.lower().startswith(("http://", "https://")):
            raise FetchError("only http and https URLs can be read")
        response = await self._rt.http.get(url)
        article = extract_article(response.body, url=response.url)
        if article is None:
            raise FetchError("no article text found at that address")
        return Story(
            source="(url)",
            url=response.url,
            title=article.title or "",
            text=article.text,
            lang=story_language(article.lang, article.title or "", article.text),
        )

    async def readiness(self) -> Readiness:
        """Database reachable (within :data:`DATABASE_DEADLINE`), the scheduler's lag, and
        the age of the oldest alert due and not sent (too old: ``health.pending_after``)."""
        problems: list[str] = []
        overview = None
        try:
            overview = await asyncio.wait_for(self._rt.store.overview(), DATABASE_DEADLINE)
        except (MonitorError, TimeoutError) as exc:
            problems.append(f"database: {redact_text(str(exc)) or 'no answer'}")
        lag = self._rt.scheduler_lag
        if lag is not None and lag > MAX_SCHEDULER_LAG:
            problems.append(f"scheduler: jobs start {lag:.0f}s late")
        now = self._rt.clock.timestamp()
        oldest = overview.oldest_pending if overview is not None else None
        age = max(0.0, now - oldest) if oldest is not None else None
        if age is not None and age > self._rt.config.settings.health.pending_after:
            problems.append(f"outbox: an alert has waited {age:.0f}s to be sent")
        return Readiness(overview is not None, lag, age, tuple(problems))


def _history_result(found: Backtest) -> TryResult:
    days = (found.until - found.since) / 86400
    scope = f"the stored history of {days:.0f} days ({found.zone} days)"
    if found.without_text:
        scope += f"; {found.without_text} stories recorded without their text: only titles searched"
    return TryResult(
        found.query,
        searched=found.searched,
        matched=found.matched,
        matches=tuple(
            TryMatch(title=m.title, url=m.url, source=m.source, snippets=m.snippets, seen=m.first_seen)
            for m in found.matches
        ),
        scope=scope,
        per_day=tuple((d.day.isoformat(), d.count) for d in found.per_day),
    )


def _result(query: str, matcher: Matcher, story: Story, scope: str) -> TryResult:
    matches = matcher.match(story)
    found = tuple(
        TryMatch(title=story.title, url=story.url, source=story.source, snippets=m.snippets) for m in matches[:1]
    )
    return TryResult(query, searched=1, matches=found, scope=scope, matched=len(found))
