"""Everything one poll or delivery needs, built once from the config and shared."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from monitor.clock import SYSTEM_CLOCK, Clock
from monitor.config import Config, RuleSettings, SourceSettings
from monitor.config.rulesection import checked_rules_of
from monitor.daemon.alerts import AlertPolicy
from monitor.daemon.metrics import Metrics
from monitor.daemon.rulecache import CompiledRules, RuleCache, rule_specs
from monitor.daemon.targets import Target, build_targets
from monitor.fetch.client import HttpClient
from monitor.rules import Matcher
from monitor.sources.parsepool import WorkerPool
from monitor.store.db import Database
from monitor.store.facade import Store
from monitor.store.hosts import ClusterHosts

if TYPE_CHECKING:
    from monitor.config.queries import QueryCheck

    # imported when clustering starts (numpy and friends), not when the daemon module loads
    from monitor.identity.clusters import ClusterIndex

log = logging.getLogger("monitor.daemon")
P = ParamSpec("P")
T = TypeVar("T")


def enabled_rules(config: Config) -> list[RuleSettings]:
    """The rules of ``config`` matched against stories that are switched on, in the order the
    file lists them (spike rules, which count these rules' matches, are :func:`spike_rules`)."""
    return [r for r in config.settings.rules if r.enabled and r.matches_stories]


def spike_rules(config: Config) -> list[RuleSettings]:
    """The spike rules of ``config`` that are switched on, in the order the file lists them."""
    return [r for r in config.settings.rules if r.enabled and r.spike is not None]


def config_hash(config: Config) -> str:
    """What identifies the configuration an instance runs: a hash of its validated settings
    (formatting and comments of the file aside), the same on every instance reading the same file."""
    return hashlib.sha256(config.settings.model_dump_json().encode()).hexdigest()[:16]


class Runtime:
    """Owns the shared parts: database, HTTP client, worker pool, matcher, targets, metrics, clock.

    The database is reached through :attr:`store`, whose named operations run on one
    dedicated thread, so that SQLite writes never block the event loop and never contend
    with each other. What the configuration decides (rules, matcher, targets, sources, the
    alert policy) is set by :meth:`apply` alone, at start and on each reload; the parts
    held open (database, HTTP client, worker pool) are built once and need a restart to
    change.

    The rules are compiled through ``rule_cache`` (default: kept nowhere), taking the
    queries ``queries`` parsed when the configuration was checked.
    """

    config: Config
    #: the enabled rules, in the order the config lists them
    rules: list[RuleSettings]
    #: the enabled rules compiled (``matcher`` is its matcher)
    compiled: CompiledRules
    matcher: Matcher
    targets: dict[str, Target]
    #: every configured source by name, enabled or not
    sources: dict[str, SourceSettings]
    #: what turns matched stories into outbox rows (see :func:`~monitor.daemon.alerts.plan_alerts`)
    policy: AlertPolicy
    #: when the running configuration was loaded
    config_loaded_at: float
    #: when a reload last failed (None once one succeeds)
    reload_failed_at: float | None

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
        #: where compiled rule sets are kept between runs (a reload reads and writes it too)
        self.rule_cache = rule_cache or RuleCache(None)
        # the daemon writes the compiled rules once it runs (Daemon.run), or when it closes
        self.rule_cache.deferred = True
        s = config.settings
        #: the database, through its named operations (on the database thread)
        #: this instance among those sharing the database: host, pid and a random part (new at each start)
        self.instance_id = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"
        self.store = Store(database or Database(config.database_url), owner=self.instance_id)
        #: per-site politeness held with the other instances sharing the database (None: this one's alone)
        self.shared_hosts: ClusterHosts | None = None
        if http is None and self.store.shared and s.instances.politeness == "cluster":
            # a place is held at most for the fetch's deadline and a margin, should this process die
            self.shared_hosts = ClusterHosts(self.store.database, self.instance_id, lease=s.http.timeout + 30.0)
        self.http = http or HttpClient(
            total_timeout=s.http.timeout,
            connect_timeout=s.http.connect_timeout,
            read_timeout=s.http.read_timeout,
            max_bytes=s.http.max_bytes,
            max_redirects=s.http.max_redirects,
            per_host_limit=s.http.per_host,
            host_min_delay=s.http.host_delay,
            global_limit=s.http.concurrency,
            allow_networks=list(s.allow_networks),
            clock=clock,
            proxy=s.http.proxy,
            ca_file=s.http.ca_file,
            shared_hosts=self.shared_hosts,
        )
        self.redirectors = {h.lower().rstrip(".") for h in s.http.redirectors}
        self.pool = WorkerPool(processes=workers)
        self.metrics = Metrics()
        if self.store.shared:
            # several instances may be scraped into one Prometheus: each series says whose it is
            self.metrics.label_instance(self.instance_id)
        # clustering and matching: CPU work off the event loop, one at a time (the cluster
        # index is not thread-safe, and one thread is enough: the worker pool parses)
        self._cpu_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmonitor-cpu")
        self.article_limits: dict[str, asyncio.Semaphore] = {}
        self.outbox_changed = asyncio.Event()
        #: recent stories' signatures, rebuilt from the database at start (None: no clustering)
        self.cluster_index: ClusterIndex | None = None
        #: sources whose address moved permanently: name → (configured URL, new URL)
        self.moved: dict[str, tuple[str, str]] = {}
        #: how late (seconds) the scheduler started its latest job (None: none yet); /readyz
        self.scheduler_lag: float | None = None
        self.apply(config, self.compile_rules(config, queries), build_targets(config))

    def compile_rules(self, config: Config, queries: QueryCheck | None = None) -> CompiledRules:
        """The :func:`enabled_rules` of ``config`` compiled through :attr:`rule_cache`, from the
        queries ``queries`` parsed: the running rules when they are the same (nothing is
        compiled), the cached ones when those are. Raises
        :class:`~monitor.errors.QueryError` for an invalid query. Runs on the CPU thread once
        the daemon runs (it takes seconds at 100 000 rules)."""
        running: CompiledRules | None = getattr(self, "compiled", None)
        # the rules section validated before knows the digest of its rules: nothing is
        # listed or hashed per rule unless they must be compiled
        return self.rule_cache.compile(
            lambda: rule_specs(enabled_rules(config)), queries, running, checked=checked_rules_of(config)
        )

    def apply(self, config: Config, compiled: CompiledRules, targets: dict[str, Target]) -> None:
        """Make ``config`` the running configuration.

        ``compiled`` holds the :func:`enabled_rules` of ``config`` compiled and ``targets``
        are built from its notifiers (both can fail, so the caller prepares them before
        anything changes). Everything the configuration decides changes here, together, in
        one step of the event loop; the caller holds the CPU thread (:meth:`cpu_paused`) so
        that no matching is half done across the change.
        """
        rules = enabled_rules(config)
        matcher = compiled.matcher
        self.config = config
        self.rules = rules
        self.compiled = compiled
        self.matcher = matcher
        self.targets = targets
        self.sources = {src.name: src for src in config.settings.sources}
        self.policy = AlertPolicy.from_config(config, rules, matcher, targets)
        self.config_loaded_at = self.clock.timestamp()
        self.reload_failed_at = None

    async def cpu(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the CPU thread (matching, clustering), never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._cpu_thread, partial(fn, *args, **kwargs))

    @asynccontextmanager
    async def cpu_paused(self) -> AsyncIterator[None]:
        """Hold the CPU thread for the body of the ``async with``: no matching or clustering
        runs meanwhile, and none is half done when it starts. Work submitted meanwhile waits
        and runs after the body."""
        loop = asyncio.get_running_loop()
        held = asyncio.Event()
        release = threading.Event()

        def hold() -> None:
            loop.call_soon_threadsafe(held.set)
            release.wait()

        holding = asyncio.ensure_future(self.cpu(hold))
        try:
            await held.wait()
            yield
        finally:
            release.set()
            await holding

    def article_limit(self, host: str) -> asyncio.Semaphore:
        """At most ``http.article_per_host`` article fetches in flight per host."""
        sem = self.article_limits.get(host)
        if sem is None:
            sem = asyncio.Semaphore(self.config.settings.http.article_per_host)
            self.article_limits[host] = sem
        return sem

    async def close(self) -> None:
        await self.http.close()
        if self.shared_hosts is not None:
            self.shared_hosts.close()
        await self.pool.close()
        self._cpu_thread.shutdown(wait=True)
        self.rule_cache.flush()  # what a daemon that never ran (`once`) compiled
        # the indexes of the languages its stories came in, which the next start then reads
        # rather than builds (seconds each at 100 000 rules); the CPU thread is done with them
        compiled: CompiledRules | None = getattr(self, "compiled", None)
        if compiled is not None:
            self.rule_cache.keep_indexes(compiled)
        self.store.close()
