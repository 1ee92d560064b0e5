"""The daemon's notices about itself: silent failure is itself an alert.

Checked every minute: a source failing for ``health.source_failures`` polls in a row, an
outbox row pending longer than ``health.pending_after``, a target with dead rows. Each
notice is throttled per subject (``health.throttle``) and goes to the health targets; a
notice about a failing target never goes only through that target.
"""

from __future__ import annotations

import logging
import time
from http import HTTPStatus

from monitor.daemon.runtime import Runtime
from monitor.identity.keys import idempotency_key
from monitor.models import MessageKind, OutboxStatus
from monitor.store import repo
from monitor.store.payload import NoticePayload

log = logging.getLogger("monitor.health")


class HealthChecker:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def problems(self) -> list[tuple[str, str, str | None]]:
        """Current (subject, text, target concerned) problems, from the database."""
        rt = self.rt
        settings = rt.config.settings.health
        now = rt.clock.timestamp()
        out: list[tuple[str, str, str | None]] = []
        with rt.database.read() as conn:
            for state in repo.all_sources(conn):
                if state.name in rt.sources and state.failures and state.last_http_status == HTTPStatus.GONE:
                    # gone for good: say so at once, not after several failed polls
                    out.append(
                        (
                            f"source:{state.name}",
                            f"Source '{state.name}' is gone (HTTP 410): remove it or change its URL.",
                            None,
                        )
                    )
                elif state.name in rt.sources and state.failures >= settings.source_failures:
                    out.append(
                        (
                            f"source:{state.name}",
                            f"Source '{state.name}' has failed {state.failures} polls in a row: {state.last_error}",
                            None,
                        )
                    )
            oldest = repo.oldest_pending(conn)
            if oldest is not None and now - oldest > settings.pending_after:
                hours = (now - oldest) / 3600
                out.append(("pending", f"An alert has been waiting for delivery for {hours:.1f} h.", None))
            for target, count in repo.dead_targets(conn).items():
                out.append(
                    (
                        f"dead:{target}",
                        f"Target '{target}' has {count} undeliverable (dead) alerts; see `newsmonitor outbox`.",
                        target,
                    )
                )
        return out

    def enqueue(self, problems: list[tuple[str, str, str | None]]) -> int:
        """Write throttled health rows to the outbox; returns how many."""
        rt = self.rt
        now = rt.clock.timestamp()
        health_targets = [t for t in rt.config.health_targets() if t in rt.targets]
        rows: list[repo.OutboxRow] = []
        with rt.database.write() as conn:
            for subject, text, concerned in problems:
                last = repo.get_meta(conn, f"health:{subject}")
                if last is not None and now - float(last) < rt.config.settings.health.throttle:
                    continue
                names = [t for t in health_targets if t != concerned] or health_targets
                if concerned is not None and names == [concerned]:
                    log.error("health: %s (no other target to tell)", text)
                for name in names:
                    for dest in rt.targets[name].destinations:
                        rows.append(
                            repo.OutboxRow(
                                key=idempotency_key("(health)", f"{subject}:{int(now)}", dest.id),
                                kind=MessageKind.HEALTH,
                                rule="(health)",
                                target=name,
                                dest=dest.id,
                                payload=NoticePayload(note=text),
                                due_at=now,
                                urgent=True,
                            )
                        )
                repo.set_meta(conn, f"health:{subject}", str(now))
                log.warning("health: %s", text)
            repo.add_outbox(conn, rows, [], now)
        return len(rows)

    async def check(self) -> None:
        started = time.monotonic()
        try:
            problems = await self.rt.db(self.problems)
            if problems:
                written: int = await self.rt.db(self.enqueue, problems)
                if written:
                    self.rt.outbox_changed.set()
            counts = await self.rt.db(self._counts)
            self.rt.metrics.outbox_pending.set(counts.get(OutboxStatus.PENDING, 0))
            self.rt.metrics.outbox_dead.set(counts.get(OutboxStatus.DEAD, 0))
        except Exception:
            log.exception("health check failed")
        log.debug("health check in %.0f ms", (time.monotonic() - started) * 1000)

    def _counts(self) -> dict[OutboxStatus, int]:
        with self.rt.database.read() as conn:
            return repo.outbox_counts(conn)
