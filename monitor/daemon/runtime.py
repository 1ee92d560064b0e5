"""Everything one poll or delivery needs, built once from the config and shared."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from monitor.clock import SYSTEM_CLOCK, Clock
from monitor.config import Config, RuleSettings, SourceSettings
from monitor.daemon.metrics import Metrics
from monitor.daemon.targets import Target, build_targets
from monitor.fetch.client import HttpClient
from monitor.rules import Matcher, RuleSpec
from monitor.sources.parsepool import WorkerPool
from monitor.store.db import Database
from monitor.store.facade import Store

log = logging.getLogger("monitor.daemon")
T = TypeVar("T")


def compile_matcher(rules: list[RuleSettings]) -> Matcher:
    """One matcher for every enabled rule, in the order the config lists them."""
    specs = [
        RuleSpec(name=r.name, query=r.query, sources=tuple(r.sources), tags=tuple(r.tags)) for r in rules
    ]
    return Matcher.compile(specs)


class Runtime:
    """Owns the shared parts: database, HTTP client, worker pool, matcher, targets, metrics, clock.

    Database calls run on one dedicated thread (``db``) so that SQLite writes never block
    the event loop and never contend with each other.
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = SYSTEM_CLOCK,
        workers: int = 1,
        database: Database | None = None,
        http: HttpClient | None = None,
        dry_run: bool = False,
    ) -> None:
        self.config = config
        self.clock = clock
        self.dry_run = dry_run
        s = config.settings
        self.database = database or Database(config.database_url)
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
        )
        self.redirectors = {h.lower().rstrip(".") for h in s.http.redirectors}
        self.pool = WorkerPool(processes=workers)
        self.rules = [r for r in s.rules if r.enabled]
        self.rule_by_name = {r.name: r for r in self.rules}
        self.matcher = compile_matcher(self.rules)
        self.targets: dict[str, Target] = build_targets(config)
        self.sources: dict[str, SourceSettings] = {src.name: src for src in s.sources}
        self.metrics = Metrics()
        #: the database's named operations, on the database thread
        self.store = Store(self.database)
        # clustering and matching: CPU work off the event loop, one at a time (the cluster
        # index is not thread-safe, and one thread is enough: the worker pool parses)
        self._cpu_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsmonitor-cpu")
        self.article_limits: dict[str, asyncio.Semaphore] = {}
        self.outbox_changed = asyncio.Event()
        self.cluster_index: Any = None
        #: when the running configuration was loaded, and when a reload last failed (None
        #: once one succeeds)
        #: sources whose address moved permanently: name → (configured URL, new URL)
        self.moved: dict[str, tuple[str, str]] = {}
        self.config_loaded_at = clock.timestamp()
        self.reload_failed_at: float | None = None

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the database thread (:meth:`Store.call`); prefer an operation of :attr:`store`."""
        return await self.store.call(fn, *args)

    async def cpu(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the CPU thread (matching, clustering), never on the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._cpu_thread, lambda: fn(*args))

    def article_limit(self, host: str) -> asyncio.Semaphore:
        """At most ``http.article_per_host`` article fetches in flight per host."""
        sem = self.article_limits.get(host)
        if sem is None:
            sem = asyncio.Semaphore(self.config.settings.http.article_per_host)
            self.article_limits[host] = sem
        return sem

    async def close(self) -> None:
        await self.http.close()
        await self.pool.close()
        self._cpu_thread.shutdown(wait=True)
        self.store.close()
