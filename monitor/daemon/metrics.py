"""Prometheus metrics, on a registry of our own (tests create many daemons in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every counter and gauge the daemon exports at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("newsmonitor_polls_total", "Polls by outcome", ["source", "outcome"], registry=r)
        self.poll_seconds = Histogram("newsmonitor_poll_seconds", "Duration of one poll", registry=r)
        self.stories_new = Counter(
            "newsmonitor_stories_new_total", "New stories recorded", ["source"], registry=r
        )
        self.fetch_errors = Counter(
            "newsmonitor_fetch_errors_total", "Fetch errors", ["source", "kind"], registry=r
        )
        self.poll_internal_errors = Counter(
            "newsmonitor_poll_internal_errors_total",
            "Polls that failed on an error that is not newsmonitor's own (a bug or an exhausted resource; "
            "each is logged with its traceback)",
            ["source"],
            registry=r,
        )
        self.matches = Counter("newsmonitor_matches_total", "Rule matches", ["rule"], registry=r)
        self.spikes = Counter(
            "newsmonitor_spikes_total", "Spikes that began (one message each), by spike rule", ["rule"], registry=r
        )
        self.enqueued = Counter(
            "newsmonitor_outbox_enqueued_total", "Outbox rows written", ["target"], registry=r
        )
        self.deliveries = Counter(
            "newsmonitor_deliveries_total", "Delivery attempts by outcome", ["target", "outcome"], registry=r
        )
        self.delivery_unknown = Counter(
            "newsmonitor_delivery_unknown_total",
            "Sends whose outcome is unknown (no answer before delivery.timeout, the connection dropped "
            "after the request, or a crash between the send and its record): retried later with the same key",
            ["target"],
            registry=r,
        )
        self.delivery_local_errors = Counter(
            "newsmonitor_delivery_local_errors_total",
            "Delivery steps that failed on this machine (disk full, database locked, no file descriptors), "
            "by stage (read, render, claim, record, recover, round); nothing is sent twice because of one",
            ["target", "stage"],
            registry=r,
        )
        self.delivery_unrecorded = Gauge(
            "newsmonitor_delivery_unrecorded",
            "Outcomes of sends kept in memory because the database could not write them yet",
            registry=r,
        )
        self.database_bytes = Gauge(
            "newsmonitor_database_bytes",
            "Size of the database (SQLite: the file and its write-ahead log on disk, which pruning does "
            "not shrink: freed pages are reused; PostgreSQL: pg_database_size), set by the health check "
            "every minute",
            registry=r,
        )
        self.outbox_pending = Gauge("newsmonitor_outbox_pending", "Pending outbox rows", registry=r)
        self.outbox_dead = Gauge("newsmonitor_outbox_dead", "Dead outbox rows", registry=r)
        self.sources = Gauge(
            "newsmonitor_sources",
            "Configured sources by health state (ok, failing, gone, blocked, empty, stale, never_polled, "
            "disabled), set by the health check every minute",
            ["state"],
            registry=r,
        )
        self.lateness = Histogram(
            "newsmonitor_poll_lateness_seconds",
            "Actual minus planned poll start",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.config_reload_errors = Counter(
            "newsmonitor_config_reload_errors_total", "Failed reloads", registry=r
        )
        self.config_reload_ok = Gauge(
            "newsmonitor_config_last_reload_successful", "Whether the last configuration (re)load worked", registry=r
        )
        self.config_reload_ok.set(1)
        # instances sharing a PostgreSQL database (issue 16); zero and unset with a SQLite file
        self.instance = Gauge(
            "newsmonitor_instance_info", "This instance (its id in the instances table), always 1",
            ["instance"], registry=r,
        )
        self.instances = Gauge(
            "newsmonitor_instances_live", "Instances sharing the database whose heartbeat is recent", registry=r
        )
        self.config_mismatch = Gauge(
            "newsmonitor_config_mismatch",
            "1 when the live instances run configurations of different hashes (reload them all)",
            registry=r,
        )
