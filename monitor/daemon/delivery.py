"""The delivery loop: drains the outbox through apprise, per destination, in order.

The protocol of one send: the rows are *claimed* (``sending``, with a lease) in a write
transaction before the message goes out, so that no send happens that the database does
not know of; then the outcome is written (sent, retry, dead, unknown). Guarantees:

* no send is repeated because of a local fault: a claim that cannot be written sends
  nothing; an outcome that cannot be written (disk full, database locked past the busy
  timeout) is kept in memory and written later while its destination sends nothing more
  (:mod:`monitor.daemon.holds`); every error of a destination's round is caught, counted
  (``newsmonitor_delivery_local_errors_total``) and pauses that destination alone;
* the one window for a duplicate is a crash between a send and its outcome: the next start
  finds the row ``sending`` and sends it once more with the same key when its lease ends;
  a graceful stop that cuts a send short writes it as an unknown outcome;
* retries reuse the row's idempotency key; an unknown outcome (no answer before
  ``delivery.timeout``, or the connection dropped after the request went out) is counted
  in ``newsmonitor_delivery_unknown_total`` and retried on a slower, bounded schedule
  (:mod:`monitor.daemon.retries`); a 429 or 503's ``Retry-After`` is honoured;
* a transient local error while rendering (no file descriptors, out of memory) is retried,
  never dead; templates are read and compiled when the daemon starts;
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
import contextlib
import logging
import random
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TypeVar

from monitor.daemon.batches import Batch, describe_follow_up, outlet_names, plan_batches, render_for
from monitor.daemon.faults import fault_point
from monitor.daemon.holds import Holds, LocalFault, Unwritten
from monitor.daemon.retries import THROTTLED, FailedSend, plan_failure
from monitor.daemon.runtime import Runtime
from monitor.daemon.targets import Destination, Target
from monitor.fetch.client import parse_retry_after
from monitor.models import MessageKind
from monitor.notify.deliver import Outcome, SendResult, privacy_url, send, send_deadline
from monitor.notify.message import Rendered
from monitor.notify.schedule import Throttle

log = logging.getLogger("monitor.delivery")
T = TypeVar("T")

__all__ = ["Batch", "Deliverer", "FailedSend", "outlet_names", "plan_batches", "plan_failure", "render_for"]

#: the span of ``max_per_hour`` (seconds): a destination's send log keeps this much
THROTTLE_WINDOW = 3600.0

#: a claim outlives the longest send by this much (seconds): after a crash its rows go again then
LEASE_GRACE = 5.0
#: errors of this machine, not of the message, while rendering: retried, never dead
_TRANSIENT_RENDER = (OSError, MemoryError, RecursionError)
#: the pseudo-destination of the loop's own faults (a failed read of what is due)
_LOOP = "(loop)"
_INTERRUPTED = (
    "interrupted during a send (newsmonitor stopped or crashed): the outcome is unknown; "
    "sent once more with the same key"
)


@dataclass(slots=True)
class _Round:
    """One delivery round of one destination: the clock as it goes, and what went out or failed.

    ``sends`` are the destination's send times (epoch seconds), those of earlier rounds
    (its stored send log) and this round's, which the hourly throttle counts. ``halted``:
    send nothing more this round (an outcome could not be written, the service asked to wait).
    """

    now: float
    sends: list[float]
    sent_rows: int = 0
    any_success: bool = False
    halted: bool = False
    failed: list[tuple[Batch, SendResult]] = field(default_factory=list)

    def throttled_until(self, throttle: Throttle | None) -> float | None:
        """When one more message fits under ``throttle`` if it does not fit at ``now``; None when it does."""
        if throttle is None:
            return None
        return throttle.decide(self.sends, self.now).fold_at


async def in_daemon_thread(fn: Callable[[], T]) -> T:
    """``fn()`` in a thread of its own that never holds up the exit of the process.

    A send to a receiver that never answers ends only at its socket timeout
    (``delivery.timeout``); the default executor (``asyncio.to_thread``) would make a stop
    wait for it, past Docker's 10 s. Cancelling the await leaves ``fn`` running; its result is dropped.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(set_outcome: Callable[[], None]) -> None:
        def apply() -> None:
            if not future.done():
                set_outcome()

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(apply)

    def run() -> None:
        try:
            value = fn()
        except BaseException as exc:  # handed to the awaiting task, which raises it
            settle(partial(future.set_exception, exc))
        else:
            settle(partial(future.set_result, value))

    threading.Thread(target=run, name="newsmonitor-send", daemon=True).start()
    return await future


class Deliverer:
    """Runs the outbox drain; one asyncio task per destination with due rows."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._running: dict[str, asyncio.Task[int]] = {}
        self._rng = random.Random()
        self._stop: asyncio.Event | None = None
        self.holds = Holds()
        self._recovered = False

    def destination(self, dest_id: str) -> tuple[Target, Destination] | None:
        for target in self.rt.targets.values():
            for dest in target.destinations:
                if dest.id == dest_id:
                    return target, dest
        return None

    def _target_name(self, dest_id: str) -> str:
        found = self.destination(dest_id)
        return found[0].name if found is not None else ""

    # ------------------------------------------------------------------ the loop

    async def drain_once(self) -> int:
        """Start delivery for every destination with due rows; wait for them; return rows sent.

        Never raises: a local fault is counted and leaves the rows for the next drain.
        """
        if not await self._recover():
            return 0
        try:
            dests = await self._due(self.rt.clock.timestamp())
        except Exception as exc:  # a failed read of the store: nothing was sent; the next drain tries again
            self._loop_fault("read", exc)
            return 0
        results = await asyncio.gather(*(self._deliver_destination(d) for d in dests))
        await self._flush_all()
        return sum(results)

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set; wakes on new outbox rows, when a round ends, or when the
        next row is due or a pause ends. Before the first claim, rows a gone process left
        ``sending`` are made due again (:meth:`_recover`)."""
        self._stop = stop
        while not stop.is_set():
            self.rt.outbox_changed.clear()  # before the tick: what is written meanwhile wakes the wait
            wait = await self._cycle()
            waiter = asyncio.ensure_future(self.rt.outbox_changed.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)
        await self._flush_all()

    async def _cycle(self) -> float:
        """One tick; returns how long to wait before the next. Never raises."""
        try:
            return await self._tick()
        except Exception as exc:  # the loop must survive anything: a failed read is a local fault, it pauses
            return self._loop_fault("read", exc)

    async def _tick(self) -> float:
        now = self.rt.clock.timestamp()
        if not await self._recover():
            until = self.holds.paused_until(_LOOP, now)
            return max(0.05, until - now) if until is not None else 1.0
        for dest in await self._due(now):
            task = self._running.get(dest)
            if (task is None or task.done()) and self.holds.paused_until(dest, now) is None:
                task = asyncio.create_task(self._deliver_destination(dest))
                # a round that ends may leave rows due (more than one round's worth): look again
                task.add_done_callback(lambda _task: self.rt.outbox_changed.set())
                self._running[dest] = task
        self.holds.clear_faults(_LOOP)
        return await self._next_wait(now)

    async def _due(self, now: float) -> list[str]:
        """The destinations with rows due at ``now`` or outcomes still to write."""
        dests = await self.rt.store.due_destinations(now)
        return list(dict.fromkeys([*dests, *self.holds.unwritten_destinations()]))

    async def _next_wait(self, now: float) -> float:
        """Seconds until the next row is due or a pause ends (at most 30; rows due now: their
        destination is running, woken when its round ends, or paused)."""
        waits = [30.0]
        due = await self.rt.store.next_due()
        if due is not None and due > now:
            waits.append(due - now)
        pause_end = self.holds.next_end(now)
        if pause_end is not None:
            waits.append(pause_end - now)
        return max(0.05, min(waits))

    def _loop_fault(self, stage: str, exc: BaseException) -> float:
        """Count and log a local fault of the loop itself; returns how long it pauses."""
        delay = self.holds.fault(_LOOP, self.rt.clock.timestamp())
        self.rt.metrics.delivery_local_errors.labels("", stage).inc()
        log.warning("delivery: %s failed (%s: %s); trying again in %.0f s", stage, type(exc).__name__, exc, delay)
        return delay

    async def _recover(self) -> bool:
        """Once, before the first claim: rows a gone process left ``sending`` (a crash between a
        send and its outcome) become due again when their lease ends, each counted as an
        unknown outcome. Returns whether that is done (False: the store failed; try again later)."""
        if self._recovered:
            return True
        rt = self.rt
        if rt.store.shared:
            # instances share the database: rows left sending are recovered per destination by
            # whoever leases it next (_lease_destination), once their own lease has ended
            self._recovered = True
            return True
        try:
            found = await rt.store.recover_interrupted(rt.clock.timestamp(), _INTERRUPTED)
        except Exception as exc:  # a local fault: no claim is made until this worked
            self._loop_fault("recover", exc)
            return False
        self._recovered = True
        for row in found:
            rt.metrics.delivery_unknown.labels(row.target).inc()
        if found:
            log.warning(
                "delivery: %d alerts were being sent when newsmonitor last stopped; each goes out once more "
                "with its key when its lease ends: %s",
                len(found),
                ", ".join(row.key for row in found[:20]),
            )
        return True

    async def _flush_all(self) -> None:
        """Try once more to write every kept outcome; say what could not be written."""
        for dest in self.holds.unwritten_destinations():
            try:
                await self.holds.flush(dest)
            except Exception as exc:  # still failing: logged below; the rows stay 'sending'
                self._local_fault(dest, "record", exc)
        left = self.holds.unwritten()
        self.rt.metrics.delivery_unrecorded.set(len(left))
        if left and (self._stop is None or self._stop.is_set()):
            log.error(
                "delivery: the outcome of %d sends could not be written; their rows stay 'sending' and, "
                "after a restart, go out once more with their keys: %s",
                len(left),
                "; ".join(f"{u.what} {list(u.ids)}" for u in left[:20]),
            )

    # ------------------------------------------------------------------ one destination

    async def _deliver_destination(self, dest_id: str) -> int:
        """One round of ``dest_id``; returns rows sent. Never raises: a local fault (or a bug) is
        counted and logged, and pauses this destination alone; nothing is sent twice because of it."""
        try:
            return await self._round(dest_id)
        except LocalFault as fault:
            self._local_fault(dest_id, fault.stage, fault.cause)
        except Exception as exc:  # the top of a destination's task: any error pauses it, never kills it
            self._local_fault(dest_id, "round", exc)
        return 0

    def _local_fault(self, dest_id: str, stage: str, exc: BaseException) -> None:
        rt = self.rt
        delay = self.holds.fault(dest_id, rt.clock.timestamp())
        target = self._target_name(dest_id)
        rt.metrics.delivery_local_errors.labels(target, stage).inc()
        rt.metrics.delivery_unrecorded.set(len(self.holds.unwritten()))
        local = isinstance(exc, OSError | LocalFault) or type(exc).__module__.startswith("sqlalchemy")
        log.log(
            logging.WARNING if local else logging.ERROR,
            "delivery target=%s: %s failed on a local fault (%s: %s); this destination pauses %.0f s, "
            "nothing is sent twice",
            target,
            stage,
            type(exc).__name__,
            exc,
            delay,
            exc_info=None if local else exc,
        )

    async def _round(self, dest_id: str) -> int:
        rt = self.rt
        now = rt.clock.timestamp()
        if self.holds.paused_until(dest_id, now) is not None:
            return 0
        try:
            await self.holds.flush(dest_id)
        except Exception as exc:  # the outcomes kept stay kept; this destination sends nothing meanwhile
            raise LocalFault("record", exc) from exc
        rt.metrics.delivery_unrecorded.set(len(self.holds.unwritten()))
        if rt.store.shared and not await self._lease_destination(dest_id, now):
            return 0
        try:
            return await self._round_held(dest_id, now)
        finally:
            if rt.store.shared and not self.holds.has_unwritten(dest_id):
                await rt.store.leases.release_destination(dest_id)

    async def _lease_destination(self, dest_id: str, now: float) -> bool:
        """Lease ``dest_id`` for this round (instances sharing the database: one delivers to a
        destination at a time, so its order and backoff hold cluster-wide); whether it is this
        instance's. Rows a dead instance left ``sending`` become due again first. Held by
        another, the destination is looked at again a second later."""
        rt = self.rt
        lease = now + rt.config.settings.instances.delivery_lease
        recovered = await rt.store.leases.claim_destination(
            dest_id, self._target_name(dest_id), now=now, until=lease, error=_INTERRUPTED
        )
        if recovered is None:
            self.holds.pause(dest_id, now + 1.0)
            return False
        for row in recovered:
            rt.metrics.delivery_unknown.labels(row.target).inc()
        if recovered:
            log.warning(
                "delivery: %d alerts were being sent by an instance that stopped; each goes out once more "
                "with its key: %s",
                len(recovered),
                ", ".join(row.key for row in recovered[:20]),
            )
        return True

    async def _round_held(self, dest_id: str, now: float) -> int:
        rt = self.rt
        rows = await rt.store.pending_for(dest_id, now)
        found = self.destination(dest_id)
        if found is None:
            # the notifier or this URL was removed from the config: never send to a stale URL
            await rt.store.cancel([r.id for r in rows], "destination removed from the configuration", now=now)
            return 0
        target, dest = found
        state = await rt.store.destination(dest_id, target.name)
        if state.blocked_until and state.blocked_until > now:
            self.holds.pause(dest_id, state.blocked_until)
            return 0
        round_ = _Round(now=now, sends=list(state.sent_log))
        await self._send_batches(target, dest, plan_batches(rows, target.name), round_)
        last_success = state.last_success_at
        for batch, result in round_.failed:
            first_failed = min((r.first_failed_at or round_.now) for r in batch.rows)
            # the destination works while this message does not: it fails on its own (poison?);
            # a busy or throttled service (429, 503) is about the destination as a whole
            individual = result.status not in THROTTLED and (
                result.message_rejected
                or round_.any_success
                or (last_success is not None and last_success >= first_failed)
            )
            await self._fail(batch, result, round_.now, individual)
        if not self.holds.has_unwritten(dest_id):
            self.holds.clear_faults(dest_id)
        return round_.sent_rows

    async def _send_batches(self, target: Target, dest: Destination, batches: list[Batch], round_: _Round) -> None:
        """Send ``batches`` in order, recording each outcome in ``round_`` (failures are left to the caller).

        Stops early when the destination looks down (two failures, no success), when the
        service asked to wait (429, 503), when an outcome could not be written, when the
        daemon is stopping, or when the next message would exceed ``max_per_hour``: then
        the batches not sent yet are held as one throttle digest until the window frees up.
        """
        limit = target.settings.max_per_hour
        throttle = Throttle(limit, window=THROTTLE_WINDOW) if limit else None
        for index, batch in enumerate(batches):
            if round_.halted or (len(round_.failed) >= 2 and not round_.any_success):
                break  # nothing more now: the destination is down, asked to wait, or an outcome is unwritten
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
        """Render, claim, send one batch, and write a success or a dead end at once; a failure
        joins ``round_.failed``. Raises :class:`LocalFault` before the send (nothing went out)."""
        rt = self.rt
        ids = [r.id for r in batch.rows]
        rendered = await self._render(target, dest, batch)
        if isinstance(rendered, SendResult):  # it can never be rendered: kept, as dead
            round_.halted = not await self._record(
                dest.id, "dead", ids, partial(rt.store.mark_dead, ids, rendered.detail, tried=False)
            )
            return
        if not await self._claim(dest.id, ids, round_):
            return
        fault_point("before_send")
        try:
            result = await self._send(target, dest, batch, rendered)
        except asyncio.CancelledError:
            await self._cut_short(batch, rt.clock.timestamp())
            raise
        now = round_.now = rt.clock.timestamp()
        if result.outcome is Outcome.SENT:
            fault_point("after_send_before_mark")
            write = partial(
                rt.store.mark_sent, ids, dest=dest.id, target=target.name, now=now,
                keep_sends_after=now - THROTTLE_WINDOW,
            )
            round_.sent_rows += len(ids)
            round_.sends.append(now)
            round_.any_success = True
            round_.halted = not await self._record(dest.id, "sent", ids, write)
        elif result.outcome is Outcome.DEAD:
            write = partial(rt.store.mark_dead, ids, result.detail, tried=result.attempted, now=now)
            round_.halted = not await self._record(dest.id, "dead", ids, write)
        else:
            round_.failed.append((batch, result))
            round_.halted = result.status in THROTTLED  # the service asked this destination to wait

    async def _claim(self, dest_id: str, ids: list[int], round_: _Round) -> bool:
        """Claim ``ids`` for one send (``sending`` with a lease); whether all were claimed.

        Raises :class:`LocalFault` when the claim cannot be written: then nothing is sent.
        When some rows changed meanwhile (cancelled, requeued), the claimed ones are released
        and the round stops; the next plans again from what is stored.
        """
        rt = self.rt
        lease = rt.clock.timestamp() + send_deadline(rt.config.settings.delivery.timeout) + LEASE_GRACE
        try:
            if rt.store.shared:
                claimed = await rt.store.leases.claim_rows(dest_id, ids, lease)
            else:
                claimed = await rt.store.claim(ids, lease)
        except Exception as exc:  # a local fault before the send: nothing went out
            raise LocalFault("claim", exc) from exc
        if claimed == sorted(ids):
            return True
        round_.halted = True
        if claimed:
            await self._record(dest_id, "released", claimed, partial(rt.store.release, claimed))
        return False

    async def _record(self, dest_id: str, what: str, ids: list[int], write: Callable[[], Awaitable[object]]) -> bool:
        """Write the outcome ``write`` writes; whether it is written.

        When the store cannot write it (disk full, locked past the busy timeout, no file
        descriptors), or ``dest_id`` has earlier outcomes still unwritten, it is kept in
        memory and written later, in order (:class:`Holds`); the destination pauses and sends
        nothing until then. Never a resend: the rows stay ``sending``.
        """
        outcome = Unwritten(what, tuple(ids), write)
        if self.holds.has_unwritten(dest_id):
            self.holds.keep(dest_id, outcome)
            return False
        try:
            await write()
        except Exception as exc:  # a local fault: the outcome is kept and written later
            self.holds.keep(dest_id, outcome)
            self._local_fault(dest_id, "record", exc)
            return False
        return True

    async def _cut_short(self, batch: Batch, now: float) -> None:
        """A stop cut the send of ``batch`` short: it may have arrived. Written as an unknown
        outcome (retried later with its key), or, when that fails, left ``sending`` for the next start."""
        result = SendResult(Outcome.UNKNOWN, "cut short by a stop of newsmonitor; outcome unknown")
        try:
            await self._fail(batch, result, now, individual=True)
        except Exception as exc:  # the rows stay 'sending': the next start sends them once more
            log.warning("delivery: could not write a send cut short by the stop (%s)", exc)

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

    async def _render(self, target: Target, dest: Destination, batch: Batch) -> Rendered | SendResult:
        """The batch's message as ``dest`` receives it, or a DEAD result when it can never be rendered.

        Raises :class:`LocalFault` for an error of this machine (a failed read of the store,
        no file descriptors, no memory): retried later, never dead.
        """
        message = batch.message
        try:
            if message.kind in (MessageKind.ALERT, MessageKind.DIGEST, MessageKind.FOLLOW_UP):
                await self._attach_outlets(batch)
            if message.kind == MessageKind.FOLLOW_UP:
                describe_follow_up(message)
            return render_for(target, dest, message)
        except _TRANSIENT_RENDER as exc:
            raise LocalFault("render", exc) from exc
        except Exception as exc:  # Jinja2 and user templates raise any type: the row is kept, as dead
            if type(exc).__module__.startswith("sqlalchemy"):  # the outlets' read failed: local
                raise LocalFault("read", exc) from exc
            return SendResult(Outcome.DEAD, f"render failed: {type(exc).__name__}: {exc}", attempted=False)

    async def _send(self, target: Target, dest: Destination, batch: Batch, rendered: Rendered) -> SendResult:
        rt = self.rt
        message = batch.message
        key = message.keys[0] if len(message.keys) == 1 else ",".join(message.keys[:20])
        timeout = rt.config.settings.delivery.timeout
        deadline = send_deadline(timeout)
        sending = partial(
            send,
            dest.url,
            title=rendered.title,
            body=rendered.body,
            body_format=rendered.body_format,
            key=key if len(key) < 200 else message.keys[0],
            timeout=timeout,
        )
        try:
            result = await asyncio.wait_for(in_daemon_thread(sending), deadline)
        except TimeoutError:  # the thread goes on until its socket timeout; it holds nothing up
            result = SendResult(Outcome.UNKNOWN, f"no answer within {deadline:g} s; outcome unknown")
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
        """Record a failed send of ``batch`` (see :func:`plan_failure`) in one transaction (or keep it to write later)."""
        rt = self.rt
        settings = rt.config.settings.delivery
        rows = batch.rows
        retry_after = parse_retry_after(result.retry_after, rt.clock.now()) if result.retry_after else None
        failed = FailedSend.of(rows, result, now, individual, retry_after)
        ids = [r.id for r in rows]
        decide = partial(plan_failure, failed=failed, settings=settings, rng=self._rng)
        write = partial(rt.store.record_failure, ids, dest=rows[0].dest, target=failed.target, now=now, decide=decide)
        await self._record(rows[0].dest, "failed", ids, write)
        if failed.is_poison(settings):
            log.error("outbox rows %s set aside as poison after %d attempts", ids, failed.solo_failures)
