"""What the web pages read, and the one protocol through which they read it.

The web package never reaches into the daemon: whatever serves the pages (the daemon's
runtime, a test, a future read-only viewer) implements :class:`StatusProvider`, and the
pages render the plain :class:`StatusView` values it returns. ``newsmonitor sources``
prints the same :class:`SourceStatus` rows, so the terminal and the page never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from monitor.models import Snippet


class SourceHealth(StrEnum):
    """A source's state as a user sees it (the words are shown as they are).

    Each is something to act on (:attr:`advice`); ``daemon/status.py`` decides which one a
    source is in, for the status page, ``newsmonitor sources``, the metrics and the notices.
    """

    #: its last poll worked and its listing holds stories
    OK = "ok"
    #: its last poll failed (a network or HTTP error, a body that cannot be read)
    FAILING = "failing"
    #: the server answered 410 Gone: the address is gone for good
    GONE = "gone"
    #: the address guard refused its address (a private or local network)
    BLOCKED = "blocked"
    #: polls work, but ``health.empty_after`` of them in a row listed no story
    EMPTY = "empty"
    #: polls work, but no new story for longer than ``stale_after``
    STALE = "stale"
    NEVER_POLLED = "never polled"
    DISABLED = "disabled"

    @property
    def metric(self) -> str:
        """The ``state`` label of ``newsmonitor_sources`` (no spaces)."""
        return self.value.replace(" ", "_")

    @property
    def advice(self) -> str:
        """What the state means and what to do, in one line (``NAME`` stands for the source)."""
        return self.advice_for("NAME")

    def advice_for(self, source: str) -> str:
        """What the state means for source ``source`` and what to do about it, in one line."""
        meaning, _ = _ADVICE[self]
        return f"{meaning}. {self.todo_for(source)}"

    def todo_for(self, source: str) -> str:
        """What to do about source ``source`` in this state: one or two sentences."""
        return _ADVICE[self][1].replace("NAME", source)


#: each state: what it means, and what to do (NAME stands for the source's name)
_ADVICE = {
    SourceHealth.OK: ("its last poll worked and it lists stories", "Nothing to do."),
    SourceHealth.FAILING: (
        "its polls fail and are retried with backoff; the last error says why",
        "If it lasts, check the address with `newsmonitor test-source NAME`.",
    ),
    SourceHealth.GONE: (
        "the server says the address is gone for good (HTTP 410)",
        "Remove the source or give it its new address.",
    ),
    SourceHealth.BLOCKED: (
        "the address guard refused its address (a private or local network, or a redirect to one)",
        "If it is meant to be reached, such as an intranet feed, add it to allow_networks (top level "
        "or on the source).",
    ),
    SourceHealth.EMPTY: (
        "its polls work but list no story",
        "For a page, set `links:` to a CSS selector of its article links (`newsmonitor test-source "
        "NAME -v` shows the links it rejected and why); for a feed, check that it still lists items.",
    ),
    SourceHealth.STALE: (
        "its polls work but no new story came for longer than stale_after",
        "Check that the site still publishes at this address (it may have moved its feed), or raise "
        "stale_after for a slow source.",
    ),
    SourceHealth.NEVER_POLLED: ("it has not been polled yet", "The daemon polls it at its first turn."),
    SourceHealth.DISABLED: ("`enabled: false` in the configuration: it is not polled", "Nothing to do, or enable it."),
}


def when(ts: float | None) -> str:
    """A timestamp as UTC text for people, ``-`` when there is none."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "-"


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One configured source with what the store knows of it. ``last_error`` is redacted."""

    name: str
    kind: str
    enabled: bool
    health: SourceHealth
    failing_since: float | None = None
    last_poll_at: float | None = None
    next_poll_at: float | None = None
    last_error: str = ""
    polls: int = 0
    stories: int = 0
    #: successful polls in a row that listed no story
    empty_polls: int = 0
    #: when the source last listed a new story (its first poll counts)
    last_new_story_at: float | None = None
    #: what to know about the listing last read, whatever the state ("feed has 2500 entries,
    #: first 2000 read"); "" when nothing
    note: str = ""
    #: the instance that recorded its last poll, where instances share the database ("" else)
    polled_by: str = ""

    @property
    def detail(self) -> str:
        """The state in a few words, with since when or how long where that helps."""
        health = self.health
        if health is SourceHealth.FAILING:
            return f"failing since {when(self.failing_since)}"
        if health is SourceHealth.EMPTY:
            return f"empty for {self.empty_polls} polls"
        if health is SourceHealth.STALE:
            return f"stale: nothing new since {when(self.last_new_story_at)}"
        if health is SourceHealth.GONE:
            return "gone (HTTP 410)"
        return health.value

    def to_json(self) -> dict[str, Any]:
        """The row of ``/api/status`` (times as UTC text)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "enabled": self.enabled,
            "status": self.health.value,
            "detail": self.detail,
            "advice": self.health.advice,
            "empty_polls": self.empty_polls,
            "last_new_story": when(self.last_new_story_at),
            "failing_since": when(self.failing_since),
            "last_poll": when(self.last_poll_at),
            "next_poll": when(self.next_poll_at),
            "last_error": self.last_error,
            "stories": self.stories,
            "note": self.note,
            "polled_by": self.polled_by,
        }


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    """One live instance sharing the database, as its last heartbeat wrote it: how long ago
    that was (seconds), the source leases it held, how late its polls started at most
    (seconds) and the hash of the configuration it runs. ``this``: the instance answering."""

    id: str
    host: str
    pid: int
    heartbeat_age: float
    leases: int
    lag: float
    config_hash: str
    this: bool = False

    def to_json(self) -> dict[str, Any]:
        """The row of ``instances`` in ``/api/status``."""
        return {
            "id": self.id,
            "host": self.host,
            "pid": self.pid,
            "heartbeat_age_seconds": round(self.heartbeat_age, 1),
            "leases": self.leases,
            "lag_seconds": round(self.lag, 1),
            "config_hash": self.config_hash,
            "this": self.this,
        }


@dataclass(frozen=True, slots=True)
class StatusView:
    """The daemon's state as plain values: sources, outbox counts, rules, notifier names."""

    sources: list[SourceStatus]
    outbox: dict[str, int]
    dead_by_target: dict[str, int]
    rules: list[str]
    targets: list[str]
    config_path: str
    config_loaded_at: float
    reload_failed_at: float | None
    #: the live instances sharing the database, oldest first (empty: this one alone, as on SQLite)
    instances: list[InstanceStatus] = field(default_factory=list)

    @property
    def config_mismatch(self) -> str:
        """A warning when the live instances run different configurations, else ""."""
        hashes = {i.config_hash for i in self.instances}
        if len(hashes) < 2:
            return ""
        return (
            f"the live instances run {len(hashes)} different configurations: give every instance "
            "the same file and reload them all"
        )

    def to_json(self) -> dict[str, Any]:
        """The body of ``/api/status``."""
        return {
            "sources": [s.to_json() for s in self.sources],
            "outbox": self.outbox,
            "dead_by_target": self.dead_by_target,
            "rules": self.rules,
            "targets": self.targets,
            "config": self.config_json(),
            "instances": [i.to_json() for i in self.instances],
            "config_mismatch": self.config_mismatch,
        }

    def config_json(self) -> dict[str, str]:
        """Which configuration runs: its path, when it was loaded, how the last reload went."""
        return {
            "path": self.config_path,
            "loaded": when(self.config_loaded_at),
            # the problems themselves are in the log: a message may quote a value
            "last_reload": "failed at " + when(self.reload_failed_at) + " (see the log)"
            if self.reload_failed_at
            else "ok",
        }


class StatusProvider(Protocol):
    """What the web server needs from whoever runs it."""

    async def status_view(self) -> StatusView:
        """The current state; may read the store (off the event loop)."""
        ...

    def metrics_text(self) -> bytes:
        """The Prometheus exposition of the process's metrics."""
        ...


# ---------------------------------------------------------------------------- the dashboard's views


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One outbox row as the dashboard lists it. ``headline`` is untrusted (a story's title);
    ``last_error`` is redacted; ``waiting`` says why a pending row waits, in words, and
    ``until`` when that ends (None: not waiting)."""

    id: int
    status: str
    rule: str
    target: str
    headline: str
    tries: int
    waiting: str
    until: float | None
    created_at: float
    last_error: str

    def to_json(self) -> dict[str, Any]:
        """The row of ``/api/outbox``."""
        return {
            "id": self.id,
            "status": self.status,
            "rule": self.rule,
            "target": self.target,
            "headline": self.headline,
            "tries": self.tries,
            "waiting": self.waiting,
            "until": when(self.until),
            "created": when(self.created_at),
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """How an alert ended at one destination: ``outcome`` (sent, dead or cancelled) at ``at``,
    ``target`` the notifier's name; ``error`` (redacted) says why when it was not sent."""

    target: str
    outcome: str
    at: float
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "outcome": self.outcome, "at": when(self.at), "error": self.error}


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One alert (a rule that matched a story) with its snippets. Every string but ``rule``
    comes from a source and is untrusted; ``url`` may have any scheme (the pages link only
    http and https)."""

    id: int
    rule: str
    title: str
    url: str
    source: str
    outlet: str
    at: float
    published: float | None
    status: str
    snippets: tuple[Snippet, ...] = ()
    #: how it ended at each destination where it has (the stored alert history), oldest first
    outcomes: tuple[AlertOutcome, ...] = ()

    @property
    def outcome_text(self) -> str:
        """The outcomes in words ("sent to chat; dead at locked"), else the status."""
        if not self.outcomes:
            return self.status
        return "; ".join(f"{o.outcome} {'to' if o.outcome == 'sent' else 'at'} {o.target}" for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        """The row of ``/api/alerts`` (snippets with their hit spans as character offsets)."""
        return {
            "id": self.id,
            "rule": self.rule,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "outlet": self.outlet,
            "at": when(self.at),
            "published": when(self.published),
            "status": self.status,
            "outcomes": [o.to_json() for o in self.outcomes],
            "snippets": [{"text": s.text, "spans": [list(x) for x in s.spans]} for s in self.snippets],
        }


@dataclass(frozen=True, slots=True)
class RuleItem:
    """One configured rule with how often it alerted (``alerts`` outbox rows, the latest at
    ``last_alert``) and what the stored history says of it: ``matches`` in the last
    ``window_days`` days, alerts of it ``sent`` in them (one per destination), and its
    ``last_match`` (None: none the history holds)."""

    name: str
    query: str
    enabled: bool
    alerts: int
    last_alert: float | None
    matches: int = 0
    sent: int = 0
    last_match: float | None = None
    window_days: int = 0

    @property
    def silent(self) -> bool:
        """Whether the rule matched nothing in the window (dead, or waiting for news)."""
        return self.matches == 0

    def to_json(self) -> dict[str, Any]:
        """The row of ``/api/rules``."""
        return {
            "name": self.name,
            "query": self.query,
            "enabled": self.enabled,
            "alerts": self.alerts,
            "last_alert": when(self.last_alert),
            "matches": self.matches,
            "sent": self.sent,
            "last_match": when(self.last_match),
            "window_days": self.window_days,
            "silent": self.silent,
        }


@dataclass(frozen=True, slots=True)
class TryMatch:
    """One story a tried query matched, with the snippets that show where (untrusted text)."""

    title: str
    url: str
    source: str
    snippets: tuple[Snippet, ...] = ()
    #: when the daemon first saw the story (a stored story only)
    seen: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "seen": when(self.seen),
            "snippets": [{"text": s.text, "spans": [list(x) for x in s.spans]} for s in self.snippets],
        }


@dataclass(frozen=True, slots=True)
class TryResult:
    """What a query tried on the dashboard found: ``error`` (the query does not parse, the URL
    cannot be read; redacted) or the stories it ``searched`` and those that ``matches``."""

    query: str
    searched: int = 0
    matches: tuple[TryMatch, ...] = ()
    error: str = ""
    #: where the stories came from, in words ("the pasted text", "the stored history of 7 days")
    scope: str = ""
    #: how many of the stories searched matched (``matches`` may show only the newest of them)
    matched: int = 0
    #: over the stored history: the matches on each calendar day of the window, oldest
    #: first ((ISO date, count), days without one included); empty for one story
    per_day: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The body of ``POST /api/try``."""
        return {
            "query": self.query,
            "scope": self.scope,
            "error": self.error,
            "searched": self.searched,
            "matched": self.matched,
            "per_day": [{"day": day, "count": count} for day, count in self.per_day],
            "matches": [m.to_json() for m in self.matches],
        }


@dataclass(frozen=True, slots=True)
class Readiness:
    """What ``/readyz`` reports: the database answers, the scheduler's lag (seconds its last
    job started late; None: no job yet), the age of the oldest alert waiting to be sent, and
    the ``problems`` that make the daemon not ready (none: ready)."""

    database: bool
    scheduler_lag: float | None
    oldest_pending_age: float | None
    problems: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        """The body of ``/readyz``."""
        return {
            "ready": self.ready,
            "database": "ok" if self.database else "unreachable",
            "scheduler_lag_seconds": self.scheduler_lag,
            "oldest_pending_alert_seconds": self.oldest_pending_age,
            "problems": list(self.problems),
        }


class DashboardProvider(StatusProvider, Protocol):
    """What the dashboard, the JSON API and the Atom feeds need besides the status view."""

    async def outbox_items(self, limit: int) -> list[OutboxItem]:
        """The waiting (pending, sending) and dead rows, the first ``limit`` of them by id."""
        ...

    async def retry_alert(self, row_id: int) -> bool:
        """Put dead (or pending) row ``row_id`` back as pending, due now; False when no such row."""
        ...

    async def alert_items(self, limit: int, rule: str | None = None) -> list[AlertItem]:
        """The newest ``limit`` alerts, newest first, of ``rule`` only when given."""
        ...

    async def rule_items(self) -> list[RuleItem]:
        """Every configured rule, in configuration order, with its alert count."""
        ...

    async def try_rule(self, query: str, *, text: str = "", url: str = "", about: str = "") -> TryResult:
        """Run ``query`` (and/or the topic ``about``, a topic rule) on pasted ``text``, on the
        article at ``url`` (fetched through the guarded client), or, when both are empty, on
        the stored stories."""
        ...

    async def readiness(self) -> Readiness:
        """Whether the daemon can do its work now (``/readyz``)."""
        ...
