"""The daemon's notices about itself: silent failure is itself an alert.

Checked every minute: a source failing for ``health.source_failures`` polls in a row, an
outbox row due longer than ``health.pending_after`` ago and still pending (a hold for
quiet hours, a digest or the throttle is not counted), a target with dead rows. Each
notice is throttled per subject (``health.throttle``) and goes to the health targets; a
notice about a failing target never goes only through that target.

What is wrong (:func:`find_problems`) and whom to tell (:func:`plan_notices`) are pure
functions of what the store read; :class:`HealthChecker` reads, asks them and writes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus

from monitor.config import HealthSettings
from monitor.daemon.runtime import Runtime
from monitor.identity.keys import idempotency_key
from monitor.models import MessageKind, OutboxStatus
from monitor.store import repo
from monitor.store.facade import Overview
from monitor.store.payload import NoticePayload

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
    overview: Overview, configured: Collection[str], settings: HealthSettings, now: float
) -> list[Problem]:
    """Every current problem, given what the store holds at ``now``, in a stable order.

    Configured sources (``configured``: their names) that are gone (their last failure was
    HTTP 410) or that failed ``settings.source_failures`` polls in a row, by name; then an
    alert due longer than ``settings.pending_after`` ago and still pending; then each target with dead alerts.
    """
    out: list[Problem] = []
    for state in overview.sources.values():
        if state.name in configured and state.failures and state.last_http_status == HTTPStatus.GONE:
            # gone for good: say so at once, not after several failed polls
            out.append(
                Problem(
                    f"source:{state.name}",
                    f"Source '{state.name}' is gone (HTTP 410): remove it or change its URL.",
                )
            )
        elif state.name in configured and state.failures >= settings.source_failures:
            out.append(
                Problem(
                    f"source:{state.name}",
                    f"Source '{state.name}' has failed {state.failures} polls in a row: {state.last_error}",
                )
            )
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


def _age(seconds: float) -> str:
    # minutes under an hour: "0.0 h" says nothing to someone who set pending_after to minutes
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


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
        now = rt.clock.timestamp()
        overview = await rt.store.overview()
        return find_problems(overview, rt.sources, rt.config.settings.health, now)

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
        """One health pass: notices for the current problems, and the outbox gauges."""
        started = time.monotonic()
        try:
            problems = await self.problems()
            if problems:
                written = await self.enqueue(problems)
                if written:
                    self.rt.outbox_changed.set()
            counts = await self.rt.store.outbox_counts()
            self.rt.metrics.outbox_pending.set(counts.get(OutboxStatus.PENDING, 0))
            self.rt.metrics.outbox_dead.set(counts.get(OutboxStatus.DEAD, 0))
        except Exception:  # the daemon's top level: a failed check is logged and retried next minute
            log.exception("health check failed")
        log.debug("health check in %.0f ms", (time.monotonic() - started) * 1000)
