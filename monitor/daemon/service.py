"""The daemon: one object owns the event loop's work, the scheduler, signals, health and shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import signal
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor import __version__
from monitor.clock import SYSTEM_CLOCK, Clock
from monitor.config import Config, ConfigError, SourceSettings, load_config
from monitor.config.rulesection import checked_rules_of
from monitor.daemon.delivery import Deliverer
from monitor.daemon.health import HealthChecker
from monitor.daemon.health import Problem as HealthProblem
from monitor.daemon.pipeline import PollResult, PollStatus, poll_source
from monitor.daemon.rulecache import CompiledRules, RuleCache
from monitor.daemon.runtime import Runtime, config_hash, enabled_rules, spike_rules
from monitor.daemon.spikes import SpikeWatch, check_interval
from monitor.daemon.targets import Target, build_targets
from monitor.fetch.client import HttpClient
from monitor.identity.keys import source_url_hash
from monitor.redact import register_secret
from monitor.store import repo
from monitor.store.cluster import Member
from monitor.store.db import Database

if TYPE_CHECKING:
    from monitor.config.queries import QueryCheck
    from monitor.store.reloads import ReloadListener
    from monitor.web.server import StatusServer

log = logging.getLogger("monitor.daemon")

#: Docker sends SIGKILL 10 s after SIGTERM; we must be out well before
SHUTDOWN_DEADLINE = 7.0
#: seconds between checks that the database file is still where it was
DATABASE_WATCH = 5.0
#: the scheduler job that checks the spike rules (monitor.daemon.spikes)
SPIKE_JOB = "(spikes)"
#: settings the daemon holds open: a reload reports their changes for the next restart
_RESTART_KEYS = ("database", "http", "allow_networks", "web", "cluster")


class Daemon:
    """Polls every source on its schedule and drains the outbox until stopped.

    ``start()`` takes the single-instance lock and migrates the database; ``run()`` runs
    until SIGTERM/SIGINT (or :meth:`stop`); ``run_once()`` polls everything once, delivers
    what is due and returns.

    ``clock`` is the time source of everything the daemon does (the scheduler included);
    ``workers`` parser processes (0: a thread); ``database`` and ``http`` replace the ones
    the configuration would open (tests). ``rule_cache`` keeps the compiled rules between
    runs and ``queries`` holds the queries checked when ``config`` was loaded (see
    :class:`~monitor.daemon.runtime.Runtime`).
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = SYSTEM_CLOCK,
        workers: int = 1,
        database: Database | None = None,
        http: HttpClient | None = None,
        rule_cache: RuleCache | None = None,
        queries: QueryCheck | None = None,
    ) -> None:
        self.clock = clock
        self.rt = Runtime(config, clock=clock, workers=workers, database=database, http=http,
                          rule_cache=rule_cache, queries=queries)
        self.deliverer = Deliverer(self.rt)
        self.health = HealthChecker(self.rt)
        self.spikes = SpikeWatch(self.rt)
        self.scheduler: AsyncIOScheduler | None = None
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._reloads: set[asyncio.Task[bool]] = set()
        #: the running configuration and its config_hash (see _config_hash)
        self._hashed: tuple[Config | None, str] = (None, "")
        #: compiled rules being written to the rule cache (close() waits for the CPU thread)
        self._writes: set[asyncio.Future[None]] = set()
        self._reload_lock = asyncio.Lock()
        self._started = False
        self._started_at = clock.timestamp()
        #: how late a poll started, at most, since the last heartbeat (seconds)
        self._lag = 0.0
        self._told_mismatch = False
        #: the latest ``reload --all`` request handled, and whether its reload worked
        self._reload_gen = 0
        self._reload_ok = True
        self._listener: asyncio.Task[None] | None = None
        #: LISTENs for ``reload --all`` while the daemon runs with a shared database
        self.reload_listener: ReloadListener | None = None

    @property
    def config(self) -> Config:
        """The running configuration (the runtime's, replaced by :meth:`reload`)."""
        return self.rt.config

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the parser workers, lock the database, migrate it and rebuild in-memory state.

        Raises WorkerPoolError (the workers cannot start: nothing else has been touched) or
        StoreError.
        """
        await self.rt.pool.start()
        await self.rt.store.open()
        await self._rebuild_clusters()
        if self.rt.store.shared:
            # the configuration just read is the one every earlier request asked for
            self._reload_gen = (await self.rt.store.leases.reload_request()).generation
        # the compiled rules and the cluster index live as long as the daemon: keep them out of
        # the garbage collector's full passes, which would otherwise walk them and stall the loop
        gc.collect()
        gc.freeze()
        self._started = True
        for warning in self.config.warnings:
            log.warning("config: %s", warning)

    async def _rebuild_clusters(self) -> None:
        # instances sharing a database settle clusters in it (monitor.daemon.syndication)
        if not self.config.settings.cluster.enabled or self.rt.store.shared:
            return
        from monitor.identity.clusters import ClusterIndex, Signature

        window = self.config.settings.cluster.window
        index = ClusterIndex(window_seconds=window)
        now = self.clock.timestamp()
        for cluster, sig, tkey, at in await self.rt.store.recent_signatures(now - window):
            try:
                signature = Signature.from_bytes(sig) if sig else None
            except ValueError:  # written by another version: cluster on the title alone
                signature = None
            index.add(cluster, signature, tkey, at)
        self.rt.cluster_index = index

    async def close(self) -> None:
        await self.rt.close()

    def stop(self) -> None:
        """Ask the daemon to stop (what SIGTERM does)."""
        self._stop.set()

    # ------------------------------------------------------------------ one pass

    async def run_once(
        self, *, record: bool = True, deliver: bool = True, concurrency: int = 16
    ) -> list[PollResult]:
        """Poll every enabled source once, then deliver everything due."""
        if not self._started:
            await self.start()
        sem = asyncio.Semaphore(concurrency)

        async def one(src: SourceSettings) -> PollResult:
            async with sem:
                try:
                    if record and self.rt.store.shared and not await self._lease(src, force=True):
                        return PollResult(src.name, PollStatus.ERROR, error="being polled by another instance")
                    return await poll_source(self.rt, src, record=record)
                except Exception as exc:  # a bug in one source's poll must not abort the others
                    log.exception("source=%s unexpected error in poll", src.name)
                    return PollResult(
                        source=src.name, status=PollStatus.ERROR, error=f"{type(exc).__name__}: {exc}"
                    )

        results = list(await asyncio.gather(*(one(s) for s in self.config.settings.sources if s.enabled)))
        if deliver and record:
            await self.deliverer.drain_once()
        return results

    # ------------------------------------------------------------------ the daemon

    async def run(self, *, install_signals: bool = True) -> int:
        """Run until stopped. Returns the process exit status (0 on a clean stop).

        Raises :class:`ConfigError` (one problem) before polling anything when ``web.listen``
        cannot be listened on, StoreError when the database cannot be used.
        """
        if not self._started:
            await self.start()
        # first, so that a port in use stops the daemon before it polls or sends anything
        web_server = await self._start_web()
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
            loop.add_signal_handler(signal.SIGHUP, self._on_hangup)
        await self._start_scheduler()
        if self.rt.store.shared:
            from monitor.store.reloads import ReloadListener

            self.reload_listener = ReloadListener(self.rt.store.database.url, self._reload_requested)
            self._listener = asyncio.create_task(self.reload_listener.run())
        delivery = asyncio.create_task(self.deliverer.run(self._stop))
        self._write_rules()
        log.info(
            "newsmonitor running: %d sources, %d rules, %d notifiers",
            len(self.config.settings.sources),
            len(self.rt.rules),
            len(self.rt.targets),
        )
        await self._stop.wait()
        log.info("stopping")
        await self._wind_down(delivery, web_server)
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        return 0

    async def _start_web(self) -> StatusServer | None:
        """Serve the status page on ``web.listen`` (None when unset), within the ``web.*`` bounds.

        Raises :class:`ConfigError` with one line naming the setting and the reason when
        the address cannot be listened on (a port in use, an address not of this host).
        """
        settings = self.config.settings.web
        listen = settings.listen
        if not listen:
            return None
        from monitor.daemon.dashboard import RuntimeDashboard
        from monitor.web.server import ServerLimits
        from monitor.web.server import start as start_web

        limits = ServerLimits(
            max_connections=settings.max_connections,
            header_timeout=settings.header_timeout,
            request_timeout=settings.request_timeout,
            idle_timeout=settings.idle_timeout,
        )
        try:
            if settings.token:
                register_secret(settings.token)  # a token written in the file itself is masked too
            return await start_web(
                RuntimeDashboard(self.rt),
                listen,
                hosts=settings.hosts,
                limits=limits,
                token=settings.token,
                refresh=round(settings.refresh),
            )
        except OSError as exc:
            raise ConfigError(
                [
                    f"{self.config.path}: web.listen: cannot listen on {listen}: {_reason(exc)}; "
                    "stop what listens there, or set another port"
                ]
            ) from None

    async def _start_scheduler(self) -> None:
        """One job per enabled source (first run from its stored state), health and pruning."""
        self.scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1})
        self.scheduler.add_listener(self._on_submit, EVENT_JOB_SUBMITTED)
        states = await self.rt.store.source_states()
        for src in self.config.settings.sources:
            if src.enabled:
                self._add_job(src, states.get(src.name))
        self.scheduler.add_job(
            self._until_stop,
            IntervalTrigger(seconds=60),
            args=[self.health.check],
            id="(health)",
            name="health check",
            misfire_grace_time=30,
            next_run_time=self.clock.now() + timedelta(seconds=5),
        )
        self.scheduler.add_job(
            self._until_stop, IntervalTrigger(hours=1), args=[self._prune], id="(prune)", name="retention",
            misfire_grace_time=600,
        )
        self._schedule_spikes()
        if self.rt.store.shared:
            beat = self.config.settings.instances.heartbeat
            self.scheduler.add_job(
                self._until_stop, IntervalTrigger(seconds=beat), args=[self._heartbeat], id="(heartbeat)",
                name="heartbeat", misfire_grace_time=max(1, int(beat)), next_run_time=self.clock.now(),
            )
        self.scheduler.add_job(
            self._until_stop, IntervalTrigger(seconds=DATABASE_WATCH), args=[self._watch_database],
            id="(database)", name="database watch", misfire_grace_time=5,
        )
        self.scheduler.start()

    async def _wind_down(self, delivery: asyncio.Task[None], web_server: StatusServer | None) -> None:
        """Stop polling at once; let delivery finish the send in flight within the deadline."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.rt.store.shared:
            try:
                await self.rt.store.leases.leave()
            except Exception:  # the database is away: the row goes when it is silent long enough
                log.warning("could not remove this instance from the instances table", exc_info=True)
        listener = [self._listener] if self._listener is not None else []
        for task in [*self._tasks, *self._reloads, *listener]:
            task.cancel()
        try:
            await asyncio.wait_for(delivery, timeout=SHUTDOWN_DEADLINE - 1)
        except (TimeoutError, asyncio.CancelledError):
            log.warning(
                "delivery did not finish within the shutdown deadline; a send cut short is recorded as an "
                "unknown outcome and goes again, with its key, after the restart"
            )
        if self.rt.store.shared:
            # the other instances (or this one restarted) take this one's sources and destinations
            # at once instead of after the leases end (instances.source_lease, 300 s by default)
            try:
                freed = await self.rt.store.leases.release_all()
                log.info("released the leases of %d sources and %d destinations", *freed)
            except Exception:  # the database is away: the leases end on their own
                log.warning("could not release this instance's leases; they end on their own", exc_info=True)
        if web_server is not None:
            await web_server.stop()

    # ------------------------------------------------------------------ reload

    def _on_hangup(self) -> None:
        task = asyncio.create_task(self._hangup())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def _hangup(self) -> bool:
        """SIGHUP: :meth:`reload`; with instances sharing the database, when the configuration
        changed, ask the others to re-read theirs too (those already running it skip it)."""
        before = config_hash(self.config)
        applied = await self.reload()
        if not self.rt.store.shared:
            return applied
        after = config_hash(self.config)
        self._reload_ok = applied
        try:
            if applied and after != before:
                request = await self.rt.store.leases.request_reload(after)
                self._reload_gen = max(self._reload_gen, request.generation)
                log.info("asked the other instances to re-read their configuration (request %d)", request.generation)
            await self._heartbeat()
        except Exception:  # the database is away: the others reload on their own SIGHUP or reload --all
            log.warning("could not ask the other instances to re-read their configuration", exc_info=True)
        return applied

    async def _reload_requested(self) -> None:
        """Carry out the latest ``reload --all`` request unless it was handled already (see
        :mod:`monitor.store.reloads`), then write the heartbeat that tells the outcome.
        Called for each notice, after each (re)connection of the listener and at each heartbeat."""
        try:
            request = await self.rt.store.leases.reload_request()
        except Exception:  # the top of a listener's callback: the database is away; the next heartbeat asks again
            log.warning("could not read the latest reload request", exc_info=True)
            return
        if request.generation <= self._reload_gen:
            return
        self._reload_gen = request.generation
        if request.config_hash is not None and request.config_hash == config_hash(self.config):
            log.info("reload request %d (from %s): this instance runs that configuration already",
                     request.generation, request.by or "newsmonitor reload --all")
            self._reload_ok = True
        else:
            log.info("reload request %d (from %s): re-reading the configuration",
                     request.generation, request.by or "newsmonitor reload --all")
            self._reload_ok = await self.reload()
        try:
            await self._heartbeat()
        except Exception:  # the database is away: the next scheduled heartbeat tells the outcome
            log.warning("could not write the heartbeat after a reload", exc_info=True)

    async def reload(self) -> bool:
        """Read the configuration file again and apply it to the running daemon (SIGHUP).

        The whole file is validated first: if anything is wrong, every error is logged once,
        ``newsmonitor_config_reload_errors_total`` counts it, and the running configuration
        stays exactly as it was. Otherwise rules, notifiers, sources (added, removed,
        re-timed) and the other settings read at each poll or delivery take effect at once;
        settings the daemon holds open (database, HTTP client, allowed networks, web
        listener, clustering) need a restart, and a warning says so. Returns whether the new
        configuration was applied.
        """
        async with self._reload_lock:
            path = self.config.path
            try:
                # the running rules' queries are known: only new ones are parsed
                queries = self.rt.rule_cache.queries(self.rt.compiled)
                # and a rules section with the running one's bytes is not read again
                known = checked_rules_of(self.config)
                config = await asyncio.get_running_loop().run_in_executor(
                    None, partial(load_config, path, queries=queries, known_rules=known)
                )
                rules = enabled_rules(config)
                # compiled on the CPU thread: matching waits for it instead of racing it; the
                # running matcher is kept when the rules did not change
                compiled = await self.rt.cpu(self.rt.compile_rules, config, queries)
                targets = build_targets(config)
            except ConfigError as exc:
                return self._reload_failed(path, "\n".join(exc.problems))
            except Exception as exc:  # e.g. a notifier template that cannot be compiled
                return self._reload_failed(path, f"{type(exc).__name__}: {exc}")
            held = [key for key in _RESTART_KEYS if getattr(config.settings, key) != getattr(self.config.settings, key)]
            if config.settings.instances.politeness != self.config.settings.instances.politeness:
                held.append("instances.politeness")
            await self._swap(config, compiled, targets)
            self._write_rules()
            self.rt.metrics.config_reload_ok.set(1)
            # as at start: the new rules live until the next reload, out of the collector's way
            gc.freeze()
            log.info(
                "configuration reloaded from %s: %d sources, %d rules, %d notifiers",
                path, len(config.settings.sources), len(rules), len(targets),
            )
            if held:
                log.warning("config: changes to %s take effect at the next restart", ", ".join(held))
            for warning in config.warnings:
                log.warning("config: %s", warning)
            return True

    def _write_rules(self) -> None:
        """Write the compiled rules the rule cache holds, on the CPU thread (matching waits
        for it; the loop does not): a start or reload does not wait for the file."""
        task = asyncio.ensure_future(self.rt.cpu(self.rt.rule_cache.flush))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def _reload_failed(self, path: str, detail: str) -> bool:
        self.rt.metrics.config_reload_errors.inc()
        self.rt.metrics.config_reload_ok.set(0)
        self.rt.reload_failed_at = self.clock.timestamp()
        log.error("config reload failed; still running the configuration loaded before from %s:\n%s", path, detail)
        return False

    async def _swap(self, config: Config, compiled: CompiledRules, targets: dict[str, Target]) -> None:
        """Install a new configuration while no matching runs (the CPU thread is held), in one
        step of the event loop (no other task sees half of it)."""
        async with self.rt.cpu_paused():
            old = self.config
            self.rt.apply(config, compiled, targets)
            self._reschedule(old)
        # pending rows of removed destinations are cancelled by the delivery loop
        self.rt.outbox_changed.set()

    def _reschedule(self, old: Config) -> None:
        """Jobs for the new sources: removed or disabled ones stop, new ones start (their
        first poll primes), changed intervals apply from now."""
        scheduler = self.scheduler
        if scheduler is None:  # not running (run_once): nothing is scheduled
            return
        before = {s.name: s for s in old.settings.sources if s.enabled}
        after = {s.name: s for s in self.config.settings.sources if s.enabled}
        for name in before.keys() - after.keys():
            if scheduler.get_job(name) is not None:
                scheduler.remove_job(name)
        for name, src in after.items():
            job = scheduler.get_job(name)
            if job is None:
                self._add_job(src, None)
                continue
            interval = self.config.source_interval(src)
            if interval != old.source_interval(before[name]):
                job.reschedule(IntervalTrigger(seconds=interval, jitter=min(interval * 0.1, 30.0)))
                job.modify(misfire_grace_time=max(1, int(interval / 2)))
        self._schedule_spikes()

    def _schedule_spikes(self) -> None:
        """The spike rules' check job: there while any spike rule is on, every
        :func:`~monitor.daemon.spikes.check_interval` (kept as it is when that did not change)."""
        scheduler = self.scheduler
        if scheduler is None:
            return
        rules = spike_rules(self.config)
        job = scheduler.get_job(SPIKE_JOB)
        if not rules:
            if job is not None:
                scheduler.remove_job(SPIKE_JOB)
            return
        every = check_interval(rules)
        if job is not None and getattr(job.trigger, "interval", None) == timedelta(seconds=every):
            return
        if job is not None:
            scheduler.remove_job(SPIKE_JOB)
        scheduler.add_job(
            self._until_stop, IntervalTrigger(seconds=every), args=[self._check_spikes], id=SPIKE_JOB,
            name="spikes", misfire_grace_time=max(1, int(every / 2)),
            next_run_time=self.clock.now() + timedelta(seconds=10),
        )

    async def _check_spikes(self) -> None:
        await self.spikes.check()

    def _add_job(self, src: SourceSettings, state: repo.SourceState | None) -> None:
        assert self.scheduler is not None
        interval = self.config.source_interval(src)
        now = self.clock.now()
        if state is not None and state.next_poll_at:
            first = datetime.fromtimestamp(state.next_poll_at, UTC)
            first = max(first, now + timedelta(seconds=random.uniform(0, min(5.0, interval))))
        else:
            # spread the first polls: a few sources start within 30 s, thousands over their
            # interval (at about 20 first polls a second), so a big install does not stampede
            spread = min(interval, 30.0 + len(self.config.settings.sources) / 20.0)
            first = now + timedelta(seconds=random.uniform(0, spread))
        self.scheduler.add_job(
            self._poll_job,
            IntervalTrigger(seconds=interval, jitter=min(interval * 0.1, 30.0)),
            args=[src.name],
            id=src.name,
            name=src.name,
            next_run_time=first,
            misfire_grace_time=max(1, int(interval / 2)),
            coalesce=True,
            max_instances=1,
        )

    def _on_submit(self, event: JobSubmissionEvent) -> None:
        for planned in event.scheduled_run_times:
            late = max(0.0, (self.clock.now() - planned).total_seconds())
            self.rt.metrics.lateness.observe(late)
            self.rt.scheduler_lag = late
            self._lag = max(self._lag, late)

    async def _until_stop(self, job: Callable[[], Awaitable[None]]) -> None:
        """Run one scheduled ``job``; cut short by the stop (the scheduler cancels what runs), it
        ends quietly instead of as an error with a traceback."""
        try:
            await job()
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise

    async def _poll_job(self, name: str) -> None:
        src = self.rt.sources[name]
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if self.rt.store.shared and not await self._lease(src):
                return
            await poll_source(self.rt, src)
            state = await self.rt.store.source_state(name)
            if state is not None and state.next_poll_at and self.scheduler is not None:
                job = self.scheduler.get_job(name)
                interval = self.config.source_interval(src)
                if (
                    job is not None
                    and abs(state.next_poll_at - (self.clock.timestamp() + interval)) > interval * 0.2
                ):
                    job.modify(next_run_time=datetime.fromtimestamp(state.next_poll_at, UTC))
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise
            # the stop cancels the polls in flight: nothing of this poll was recorded (the next
            # poll sees its stories as new), which is no error for the scheduler to report
            log.info("source=%s poll cut short by the stop; it is not recorded", name)
        except Exception:  # the top of one scheduled job: a bug in one poll must not stop the others
            log.exception("source=%s unexpected error in poll", name)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def _lease(self, src: SourceSettings, *, force: bool = False) -> bool:
        """Lease ``src`` for one poll among the instances sharing the database; whether this one
        polls it. When another instance holds it, or polled it within its interval, the local
        timer moves to when it is due again (a little later, at random, so that the instances'
        timers do not fire together) and nothing is polled."""
        now = self.clock.timestamp()
        claim = await self.rt.store.leases.claim_source(
            src.name,
            kind=src.kind,
            url_hash=source_url_hash(src.url),
            now=now,
            until=now + self.config.settings.instances.source_lease,
            force=force,
        )
        if claim.claimed:
            return True
        again = claim.lease_until or claim.next_poll_at
        job = self.scheduler.get_job(src.name) if self.scheduler is not None else None
        if job is not None and again is not None:
            interval = self.config.source_interval(src)
            later = again + random.uniform(0.0, min(5.0, interval * 0.05))
            job.modify(next_run_time=datetime.fromtimestamp(max(later, now), UTC))
        return False

    def _config_hash(self) -> str:
        """:func:`config_hash` of the running configuration, once per configuration (it
        serialises every setting: at 100 000 rules, a third of a second on the loop)."""
        if self._hashed[0] is not self.config:
            self._hashed = (self.config, config_hash(self.config))
        return self._hashed[1]

    async def _heartbeat(self) -> None:
        """Write this instance's membership row (see :mod:`monitor.store.cluster`); say once
        when the instances run different configurations."""
        rt = self.rt
        now = self.clock.timestamp()
        beat = self.config.settings.instances.heartbeat
        held = await rt.store.leases.held(now)
        lag, self._lag = self._lag, 0.0
        await rt.store.leases.heartbeat(
            Member(
                rt.instance_id, socket.gethostname(), os.getpid(), self._started_at, now,
                self._config_hash(), version=__version__, leases=held, lag=lag,
                reload_gen=self._reload_gen, reload_ok=self._reload_ok,
            ),
            forget_before=now - 100 * beat,
        )
        live = await rt.store.leases.members(since=now - 3 * beat)
        hashes = {m.config_hash for m in live}
        if rt.shared_hosts is not None:
            # alone, the politeness of this instance's own gates is the cluster's: no statement per request
            rt.shared_hosts.alone = {m.id for m in live} == {rt.instance_id}
        rt.metrics.instances.set(len(live))
        rt.metrics.config_mismatch.set(1 if len(hashes) > 1 else 0)
        if len(hashes) > 1 and not self._told_mismatch:
            log.warning(
                "instances run different configurations: %s; reload them all with the same file",
                ", ".join(f"{m.id}={m.config_hash}" for m in live),
            )
        self._told_mismatch = len(hashes) > 1
        # a request whose notice was missed (the listener's connection was down) is caught up here
        await self._reload_requested()

    async def _watch_database(self) -> None:
        """Whether the database file is still at its path, and a health notice when it was not.

        Every store operation first puts a deleted database file back (the store's
        ``FileKeeper``); this job makes that timely when nothing else runs, and tells the
        health targets what was done.
        """
        keeper = self.rt.store.database.keeper
        if keeper.gone():
            await self.rt.store.next_due()  # any operation: the keeper acts before it, on the database thread
        told = keeper.take_incidents()
        if told:
            await self.health.enqueue([HealthProblem("database", text) for text in told])
            self.rt.outbox_changed.set()

    async def _prune(self) -> None:
        now = self.clock.timestamp()
        cutoff = now - self.config.settings.retention
        window = self.config.settings.cluster.window
        index = self.rt.cluster_index
        if index is not None:
            # the in-memory index forgets what the window no longer reaches, as the database's does
            await self.rt.cpu(index.expire, now)
        pruned = await self.rt.store.prune(cutoff, bands_before=now - window)
        if self.rt.shared_hosts is not None:
            # sites no instance asked for a day: their politeness rows are made again when needed
            await self.rt.shared_hosts.forget_idle(now - 86400)
        if pruned:
            log.info(
                "retention: pruned %d rows (stories not listed, sent alerts, history) from before %s",
                pruned,
                datetime.fromtimestamp(cutoff, UTC).date().isoformat(),
            )


def _reason(exc: OSError) -> str:
    """Why listening failed, in the system's words (``address already in use``)."""
    if isinstance(exc, socket.gaierror):
        return f"the host name does not resolve ({exc.strerror})"
    return os.strerror(exc.errno).lower() if exc.errno and exc.errno > 0 else str(exc)
