"""The delivery loop: drains the outbox through apprise, per destination, in order.

Guarantees:

* a row is marked sent only after apprise reported success, in its own transaction right
  after the send (the only window for a duplicate is a crash between the two);
* retries reuse the row's idempotency key; a timeout is an unknown outcome and is retried;
* backoff is per destination, so one dead target never delays the others;
* rows of one destination go out in creation order, except that a message that keeps
  failing on its own while the ones behind it succeed (a poison message) is set aside and
  finally marked dead, never blocking the queue;
* rows that keep failing longer than ``delivery.dead_after`` become ``dead`` (kept, listed by
  ``newsmonitor outbox``, requeued by ``newsmonitor outbox retry``);
* a notifier's ``max_per_hour`` caps the messages (not rows) sent to each destination in any
  rolling hour, those of the round in progress included; what is over the cap is held and
  goes out as one digest when the window frees up.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial

from monitor.config import DeliverySettings, SourceSettings
from monitor.daemon.backoff import backoff_delay
from monitor.daemon.faults import fault_point
from monitor.daemon.runtime import Runtime
from monitor.daemon.targets import Destination, Target
from monitor.models import MessageKind
from monitor.notify.deliver import Outcome, SendResult, privacy_url, send
from monitor.notify.message import AlertItem, Message, Rendered
from monitor.notify.schedule import Throttle
from monitor.store import repo
from monitor.store.facade import FailurePlan
from monitor.store.payload import AlertPayload, NoticePayload

log = logging.getLogger("monitor.delivery")


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
    )


def plan_batches(rows: list[repo.OutboxEntry], target: str) -> list[Batch]:
    """Group due rows of one destination into messages, oldest first.

    Immediate rows of one story (or cluster) become one alert listing every rule that
    matched it; rows held for a digest, quiet hours or a throttle become one digest;
    summary and health rows go alone.
    """
    batches: list[Batch] = []
    by_story: dict[str, Batch] = {}
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


#: the span of ``max_per_hour`` (seconds): a destination's send log keeps this much
THROTTLE_WINDOW = 3600.0


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


@dataclass(frozen=True, slots=True)
class FailedSend:
    """One failed send of a batch, as the failure policy (:func:`plan_failure`) sees it.

    ``individual``: the destination works while this message does not (it fails on its own,
    a poison message?); such a failure counts towards ``poison_attempts`` and does not hold
    the destination back. ``solo_failures`` is the rows' count of such failures after this
    one, and ``first_failed`` when the first of them first failed (``now`` for a first failure).
    """

    target: str
    error: str
    status: int | None
    now: float
    individual: bool
    solo_failures: int
    first_failed: float

    @classmethod
    def of(cls, rows: list[repo.OutboxEntry], result: SendResult, now: float, individual: bool) -> FailedSend:
        """The failure of sending ``rows`` (one batch, one destination) with ``result`` at ``now``."""
        return cls(
            target=rows[0].target,
            error=result.detail or result.outcome.value,
            status=result.status,
            now=now,
            individual=individual,
            solo_failures=max(r.solo_failures for r in rows) + (1 if individual else 0),
            first_failed=min((r.first_failed_at or now) for r in rows),
        )

    def is_poison(self, settings: DeliverySettings) -> bool:
        """Whether the rows are set aside as poison: failed alone ``poison_attempts`` times."""
        return self.individual and self.solo_failures >= settings.poison_attempts


def plan_failure(
    state: repo.DestinationState, failed: FailedSend, settings: DeliverySettings, rng: random.Random
) -> FailurePlan:
    """What to write after ``failed``, given the destination's ``state``: retry later with backoff; poison or too old → dead.

    The backoff grows with the destination's failures in a row or the rows' failures on
    their own, whichever is more (at least a minute after HTTP 429: apprise does not pass Retry-After
    on). An individual failure leaves the destination as it is; otherwise the destination
    counts one more failure and is blocked, with all its rows, until the backoff ends.
    Pure but for ``rng``, the backoff's jitter.
    """
    failures = state.failures + (0 if failed.individual else 1)
    delay = backoff_delay(
        max(failures, failed.solo_failures, 1), base=settings.retry_base, cap=settings.retry_cap, rng=rng
    )
    if failed.status == 429:
        delay = max(delay, 60.0)
    error, now = failed.error, failed.now
    dead_reason = None
    if failed.is_poison(settings):
        dead_reason = f"poison: failed {failed.solo_failures} times while other messages went through: {error}"
    elif now - failed.first_failed >= settings.dead_after:
        dead_reason = f"failing for longer than dead_after: {error}"
    destination = None
    if not failed.individual:
        destination = replace(
            state, target=failed.target, failures=failures, blocked_until=now + delay, last_error=error[:300]
        )
    return FailurePlan(
        error=error,
        retry_at=now + delay,
        solo=failed.individual,
        dead_reason=dead_reason,
        destination=destination,
    )


@dataclass(slots=True)
class _Round:
    """One delivery round of one destination: the clock as it goes, and what went out or failed.

    ``sends`` are the destination's send times (epoch seconds), those of earlier rounds
    (its stored send log) and this round's, which the hourly throttle counts.
    """

    now: float
    sends: list[float]
    sent_rows: int = 0
    any_success: bool = False
    failed: list[tuple[Batch, SendResult]] = field(default_factory=list)

    def throttled_until(self, throttle: Throttle | None) -> float | None:
        """When one more message fits under ``throttle`` if it does not fit at ``now``; None when it does."""
        if throttle is None:
            return None
        return throttle.decide(self.sends, self.now).fold_at


class Deliverer:
    """Runs the outbox drain; one asyncio task per destination with due rows."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._running: dict[str, asyncio.Task[int]] = {}
        self._rng = random.Random()
        self._stop: asyncio.Event | None = None

    def destination(self, dest_id: str) -> tuple[Target, Destination] | None:
        for target in self.rt.targets.values():
            for dest in target.destinations:
                if dest.id == dest_id:
                    return target, dest
        return None

    async def drain_once(self) -> int:
        """Start delivery for every destination with due rows; wait for them; return rows sent."""
        now = self.rt.clock.timestamp()
        dests = await self.rt.store.due_destinations(now)
        results = await asyncio.gather(*(self._deliver_destination(d) for d in dests))
        return sum(results)

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set; wakes on new outbox rows or when the next row is due."""
        self._stop = stop
        while not stop.is_set():
            try:
                await self._tick()
            except Exception:  # the loop must survive anything; the error is logged once per tick
                log.exception("delivery loop error")
            wait = await self._next_wait()
            self.rt.outbox_changed.clear()
            waiter = asyncio.ensure_future(self.rt.outbox_changed.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _next_wait(self) -> float:
        due = await self.rt.store.next_due()
        if due is None:
            return 30.0
        return min(30.0, max(0.05, due - self.rt.clock.timestamp()))

    async def _tick(self) -> None:
        now = self.rt.clock.timestamp()
        for dest in await self.rt.store.due_destinations(now):
            task = self._running.get(dest)
            if task is None or task.done():
                self._running[dest] = asyncio.create_task(self._deliver_destination(dest))

    async def _deliver_destination(self, dest_id: str) -> int:
        rt = self.rt
        found = self.destination(dest_id)
        now = rt.clock.timestamp()
        rows = await rt.store.pending_for(dest_id, now)
        if found is None:
            # the notifier or this URL was removed from the config: never send to a stale URL
            await rt.store.cancel([r.id for r in rows], "destination removed from the configuration", now=now)
            return 0
        target, dest = found
        state = await rt.store.destination(dest_id, target.name)
        if state.blocked_until and state.blocked_until > now:
            return 0
        round_ = _Round(now=now, sends=list(state.sent_log))
        await self._send_batches(target, dest, plan_batches(rows, target.name), round_)
        last_success = state.last_success_at
        for batch, result in round_.failed:
            first_failed = min((r.first_failed_at or round_.now) for r in batch.rows)
            # the destination works while this message does not: it fails on its own (poison?)
            individual = (
                result.message_rejected
                or round_.any_success
                or (last_success is not None and last_success >= first_failed)
            )
            await self._fail(batch, result, round_.now, individual)
        return round_.sent_rows

    async def _send_batches(self, target: Target, dest: Destination, batches: list[Batch], round_: _Round) -> None:
        """Send ``batches`` in order, recording each outcome in ``round_`` (failures are left to the caller).

        Stops early when the destination looks down (two failures, no success), when the
        daemon is stopping, or when the next message would exceed ``max_per_hour``: then
        the batches not sent yet are held as one throttle digest until the window frees up.
        """
        limit = target.settings.max_per_hour
        throttle = Throttle(limit, window=THROTTLE_WINDOW) if limit else None
        for index, batch in enumerate(batches):
            if len(round_.failed) >= 2 and not round_.any_success:
                break  # two failures and no success in this pass: the destination is down
            if self._stop is not None and self._stop.is_set():
                break  # shutting down: finish the send in flight, start no new one
            round_.now = self.rt.clock.timestamp()
            until = round_.throttled_until(throttle)
            if until is not None:
                # counted in messages sent, this round's included: a burst cannot slip past the cap
                await self._hold_for_throttle(target, batches[index:], until)
                break
            await self._send_one(target, dest, batch, round_)

    async def _send_one(self, target: Target, dest: Destination, batch: Batch, round_: _Round) -> None:
        """Send one batch and record a success or a dead end at once; a failure joins ``round_.failed``."""
        fault_point("before_send")
        result = await self._send(target, dest, batch)
        now = round_.now = self.rt.clock.timestamp()
        ids = [r.id for r in batch.rows]
        if result.outcome is Outcome.SENT:
            fault_point("after_send_before_mark")
            await self.rt.store.mark_sent(
                ids, dest=dest.id, target=target.name, now=now, keep_sends_after=now - THROTTLE_WINDOW
            )
            round_.sent_rows += len(ids)
            round_.sends.append(now)
            round_.any_success = True
        elif result.outcome is Outcome.DEAD:
            await self.rt.store.mark_dead(ids, result.detail, tried=result.attempted, now=now)
        else:
            round_.failed.append((batch, result))

    async def _hold_for_throttle(self, target: Target, batches: list[Batch], until: float) -> None:
        """Hold the rows of ``batches`` until ``until`` as one throttle digest."""
        ids = [r.id for batch in batches for r in batch.rows]
        await self.rt.store.hold_for_throttle(ids, until)
        log.info(
            "target=%s over max_per_hour=%d: %d alerts held until %s",
            target.name,
            target.settings.max_per_hour,
            len(ids),
            datetime.fromtimestamp(until, UTC).isoformat(),
        )

    async def _send(self, target: Target, dest: Destination, batch: Batch) -> SendResult:
        rt = self.rt
        message = batch.message
        if message.kind in (MessageKind.ALERT, MessageKind.DIGEST):
            await self._attach_outlets(batch)
        try:
            rendered = render_for(target, dest, message)
        except Exception as exc:  # Jinja2 and user templates raise any type: the row is kept, as dead
            return SendResult(Outcome.DEAD, f"render failed: {type(exc).__name__}: {exc}", attempted=False)
        key = message.keys[0] if len(message.keys) == 1 else ",".join(message.keys[:20])
        timeout = rt.config.settings.delivery.timeout
        result = await asyncio.to_thread(
            send,
            dest.url,
            title=rendered.title,
            body=rendered.body,
            body_format=rendered.body_format,
            key=key if len(key) < 200 else message.keys[0],
            timeout=timeout,
        )
        rt.metrics.deliveries.labels(target.name, result.outcome.value).inc()
        if result.outcome is Outcome.UNKNOWN:
            rt.metrics.delivery_unknown.labels(target.name).inc()
        level = logging.INFO if result.outcome is Outcome.SENT else logging.WARNING
        log.log(
            level,
            "deliver target=%s url=%s kind=%s alerts=%d outcome=%s%s",
            target.name,
            privacy_url(dest.url),
            message.kind,
            len(batch.rows),
            result.outcome.value,
            f" detail={result.detail!r}" if result.detail else "",
        )
        return result

    async def _attach_outlets(self, batch: Batch) -> None:
        """Every outlet known now to carry each item's story (syndication clusters)."""
        sources = await self.rt.store.cluster_sources(batch.subjects)
        for item, subject in zip(batch.message.items, batch.subjects, strict=True):
            outlets = outlet_names(sources[subject], self.rt.sources)
            if outlets:
                item.outlets = outlets

    async def _fail(self, batch: Batch, result: SendResult, now: float, individual: bool) -> None:
        """Record a failed send of ``batch`` (see :func:`plan_failure`) in one transaction."""
        settings = self.rt.config.settings.delivery
        rows = batch.rows
        failed = FailedSend.of(rows, result, now, individual)
        ids = [r.id for r in rows]
        decide = partial(plan_failure, failed=failed, settings=settings, rng=self._rng)
        await self.rt.store.record_failure(
            ids, dest=rows[0].dest, target=failed.target, now=now, decide=decide
        )
        if failed.is_poison(settings):
            log.error("outbox rows %s set aside as poison after %d attempts", ids, failed.solo_failures)
