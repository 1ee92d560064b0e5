"""The daemon's notices about itself: silent failure is itself an alert.

Checked every minute: a source that is not ok (its state is
:func:`monitor.daemon.status.source_health`'s: failing for ``health.source_failures`` polls in
a row, gone, blocked, empty or stale), an outbox row due longer than ``health.pending_after``
ago and still pending (a hold for quiet hours, a digest or the throttle is not counted), a
target with dead rows. Each notice is throttled per subject (``health.throttle``) and goes to
the health targets; a notice about a failing target never goes only through that target. The
check also counts the sources in each state (``newsmonitor_sources``).

What is wrong (:func:`find_problems`) and whom to tell (:func:`plan_notices`) are pure
functions of what the store read; :class:`HealthChecker` reads, asks them and writes.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.config import HealthSettings, SourceSettings
from monitor.daemon.runtime import Runtime
from monitor.daemon.status import source_health, source_statuses
from monitor.identity.keys import idempotency_key
from monitor.models import MessageKind, OutboxStatus
from monitor.store import repo
from monitor.store.facade import Overview
from monitor.store.payload import NoticePayload
from monitor.web.view import SourceHealth

log = logging.getLogger("monitor.health")


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong that the health targets are told about.

    ``subject`` names it for throttling (``source:NAME``, ``pending``, ``dead:TARGET``);
    ``concerned`` is the target it is about, which is never the only one told when there
    is another.
    """

    subject: str
    text: str
    concerned: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A problem to tell now: the health targets told and one outbox row per destination."""

    problem: Problem
    targets: tuple[str, ...]
    rows: tuple[repo.OutboxRow, ...]

    @property
    def subject(self) -> str:
        """The problem's subject, which the store throttles notices by."""
        return self.problem.subject

    @property
    def alone(self) -> bool:
        """Whether the only target told is the one the problem is about."""
        concerned = self.problem.concerned
        return concerned is not None and self.targets == (concerned,)


def find_problems(
    overview: Overview, sources: Mapping[str, SourceSettings], settings: HealthSettings, now: float
) -> list[Problem]:
    """Every current problem, given what the store holds at ``now``, in a stable order.

    First the configured sources (``sources``: their settings by name) in a state worth a
    notice, by name: the state is :func:`~monitor.daemon.status.source_health`'s, so a notice
    never disagrees with the status page; ``failing`` only once it failed
    ``settings.source_failures`` polls in a row, while ``gone``, ``blocked``, ``empty`` and
    ``stale`` are told at once (they are already the result of a streak, or waiting will not
    help). Then an alert due longer than ``settings.pending_after`` ago and still pending;
    then each target with dead alerts.
    """
    out: list[Problem] = []
    for state in overview.sources.values():
        src = sources.get(state.name)
        if src is not None:
            text = _source_problem(src, state, source_health(src, state, settings, now), settings, now)
            if text is not None:
                out.append(Problem(f"source:{state.name}", text))
    oldest = overview.oldest_pending
    if oldest is not None and now - oldest > settings.pending_after:
        out.append(Problem("pending", f"An alert has been waiting for delivery for {_age(now - oldest)}."))
    for target, count in overview.dead_by_target.items():
        out.append(
            Problem(
                f"dead:{target}",
                f"Target '{target}' has {count} undeliverable (dead) alerts; see `newsmonitor outbox`.",
                target,
            )
        )
    return out


def _source_problem(
    src: SourceSettings, state: repo.SourceSummary, health: SourceHealth, settings: HealthSettings, now: float
) -> str | None:
    """The notice about source ``src`` in state ``health``, or None when it is not worth one (yet)."""
    name = src.name
    if health is SourceHealth.GONE:
        return f"Source '{name}' is gone (HTTP 410): remove it or change its URL."
    if health is SourceHealth.FAILING and state.failures >= settings.source_failures:
        return f"Source '{name}' has failed {state.failures} polls in a row: {state.last_error}"
    todo = health.todo_for(name)
    if health is SourceHealth.BLOCKED:
        return f"Source '{name}' is blocked: {state.last_error}. {todo}"
    if health is SourceHealth.EMPTY:
        return f"Source '{name}' is empty: {state.empty_polls} polls in a row listed no story. {todo}"
    if health is SourceHealth.STALE:
        since = state.last_new_story_at or state.primed_at or now
        limit = settings.stale_after_for(src) or 0.0
        return f"Source '{name}' is stale: no new story for {_age(now - since)} (stale_after {_age(limit)}). {todo}"
    return None


def _age(seconds: float) -> str:
    # minutes under an hour: "0.0 h" says nothing to someone who set pending_after to minutes
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 2 * 86400 else f"{seconds / 86400:.1f} days"


def plan_notices(
    problems: Sequence[Problem],
    last_notice: Mapping[str, float],
    *,
    now: float,
    throttle: float,
    targets: Sequence[tuple[str, Sequence[str]]],
) -> list[Notice]:
    """The notices to write at ``now``, in the order of ``problems``.

    A problem whose subject had a notice less than ``throttle`` seconds ago (``last_notice``:
    subject → epoch seconds, as stored; a notice planned here counts too) is skipped. The
    others go to every health target (``targets``: each target's name and destination ids,
    in order) except the one they are about, or to all of them when there is no other.
    """
    last = dict(last_notice)
    notices: list[Notice] = []
    for problem in problems:
        before = last.get(problem.subject)
        if before is not None and now - before < throttle:
            continue
        told = [t for t in targets if t[0] != problem.concerned] or list(targets)
        rows = tuple(
            repo.OutboxRow(
                key=idempotency_key("(health)", f"{problem.subject}:{int(now)}", dest),
                kind=MessageKind.HEALTH,
                rule="(health)",
                target=name,
                dest=dest,
                payload=NoticePayload(note=problem.text),
                due_at=now,
                urgent=True,
            )
            for name, dests in told
            for dest in dests
        )
        notices.append(Notice(problem, tuple(name for name, _ in told), rows))
        last[problem.subject] = now
    return notices


class HealthChecker:
    """Finds the daemon's problems and writes throttled notices about them to the outbox."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def problems(self) -> list[Problem]:
        """The current problems (:func:`find_problems`), from one read of the store."""
        rt = self.rt
        overview = await rt.store.overview()
        return find_problems(overview, rt.sources, rt.config.settings.health, rt.clock.timestamp())

    def count_sources(self, overview: Overview, now: float) -> None:
        """Set ``newsmonitor_sources``: the configured sources in each state at ``now``, given
        what the store holds (``overview``); every state has a value, 0 when no source is in it."""
        rt = self.rt
        rows = source_statuses(rt.sources.values(), overview.sources, rt.config.settings.health, now)
        by_state = Counter(row.health for row in rows)
        for health in SourceHealth:
            rt.metrics.sources.labels(health.metric).set(by_state[health])

    async def enqueue(self, problems: list[Problem]) -> int:
        """Write the notices about ``problems`` not throttled (:func:`plan_notices`); returns how many rows."""
        rt = self.rt
        now = rt.clock.timestamp()
        targets = [
            (name, [dest.id for dest in rt.targets[name].destinations])
            for name in rt.config.health_targets()
            if name in rt.targets
        ]

        def plan(last_notice: Mapping[str, float]) -> list[Notice]:
            return plan_notices(
                problems,
                last_notice,
                now=now,
                throttle=rt.config.settings.health.throttle,
                targets=targets,
            )

        notices = await rt.store.add_health_notices([p.subject for p in problems], now, plan)
        for notice in notices:
            if notice.alone:
                log.error("health: %s (no other target to tell)", notice.problem.text)
            log.warning("health: %s", notice.problem.text)
        return sum(len(notice.rows) for notice in notices)

    async def check(self) -> None:
        """One health pass: the sources' states counted, notices for the current problems, the
        outbox gauges and the database's size."""
        started = time.monotonic()
        rt = self.rt
        try:
            now = rt.clock.timestamp()
            overview = await rt.store.overview()
            self.count_sources(overview, now)
            problems = find_problems(overview, rt.sources, rt.config.settings.health, now)
            if problems:
                written = await self.enqueue(problems)
                if written:
                    rt.outbox_changed.set()
            counts = await rt.store.outbox_counts()  # the notices just written count too
            rt.metrics.outbox_pending.set(counts.get(OutboxStatus.PENDING, 0))
            rt.metrics.outbox_dead.set(counts.get(OutboxStatus.DEAD, 0))
            size = await rt.store.database_bytes()
            if size is not None:
                rt.metrics.database_bytes.set(size)
        except Exception:  # the daemon's top level: a failed check is logged and retried next minute
            log.exception("health check failed")
        log.debug("health check in %.0f ms", (time.monotonic() - started) * 1000)
