"""Commands that run the daemon: ``check``, ``run``, ``once`` and ``demo``."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING

import click

from monitor.cli.base import (
    config_option,
    load_or_exit,
    log_format_option,
    main,
    setup_logging,
    verbose_option,
)
from monitor.config import default_config_path
from monitor.errors import ConfigError, StoreError, WorkerPoolError
from monitor.redact import redact_text

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.config.queries import QueryCheck
    from monitor.daemon.pipeline import PollResult
    from monitor.daemon.rulecache import RuleCache


def load_with_rules(config_path: str | None) -> tuple[Config, RuleCache, QueryCheck]:
    """The configuration at ``config_path`` (exits 2 when it is invalid), the cache of its
    compiled rules, and its checked queries: the queries of the rule set cached for the file
    are not parsed again (nor its rules section read, when it has the same bytes), and the
    daemon compiles the rules from the others as parsed."""
    from monitor.daemon.rulecache import RuleCache

    path = config_path or default_config_path()
    rule_cache = RuleCache.for_file(path)
    queries, known = rule_cache.known()
    return load_or_exit(path, queries, known), rule_cache, queries


@main.command()
@config_option
@verbose_option
@click.option(
    "--online",
    is_flag=True,
    help="Also poll every source once (recording and sending nothing) and say what each one lists.",
)
def check(config_path: str | None, verbose: int, online: bool) -> None:
    """Validate the configuration and every rule; list every problem (exit 2 if any).

    With --online, poll every enabled source once, as the daemon would, without recording
    anything or alerting: each source's kind, how many stories or article links it lists
    or why it failed, and the feeds a page advertises (exit 1 if a source failed).
    """
    setup_logging(verbose)
    config, _, _ = load_with_rules(config_path)
    s = config.settings
    for warning in config.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"{config.path}: OK: {len(s.sources)} sources, {len(s.rules)} rules, {len(s.notifiers)} notifiers"
    )
    if online:
        from monitor.daemon.probe import probe_sources

        poll_log = logging.getLogger("monitor.poll")
        level = poll_log.level
        if not verbose:  # each source's line says why its poll failed: the log's warning would repeat it
            poll_log.setLevel(logging.ERROR)
        try:
            code = asyncio.run(probe_sources(config, echo=click.echo))
        finally:
            poll_log.setLevel(level)
        sys.exit(code)


@main.command()
@config_option
@verbose_option
@log_format_option
@click.option("--workers", default=1, show_default=True, help="Parser worker processes (0 = a thread).")
def run(config_path: str | None, verbose: int, workers: int) -> None:
    """Run the daemon until SIGTERM or Ctrl-C."""
    setup_logging(max(verbose, 1))
    config, rule_cache, queries = load_with_rules(config_path)
    from monitor.daemon.service import Daemon

    async def main_() -> int:
        daemon = Daemon(config, workers=workers, rule_cache=rule_cache, queries=queries)
        try:
            return await daemon.run()
        finally:
            await daemon.close()

    try:
        sys.exit(asyncio.run(main_()))
    except ConfigError as exc:  # a setting the running system refuses (a web port in use)
        for problem in exc.problems:
            click.echo(f"newsmonitor: {redact_text(problem)}", err=True)
        sys.exit(2)
    except (StoreError, WorkerPoolError) as exc:
        click.echo(f"newsmonitor: {exc}", err=True)
        sys.exit(1)


@main.command()
@config_option
@verbose_option
@log_format_option
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what the rules match in each source's listing now; read-only, works beside a running daemon.",
)
@click.option("--workers", default=1, show_default=True, help="Parser worker processes (0 = a thread).")
@click.option(
    "--ignore-source-errors",
    is_flag=True,
    help="Exit 0 even when a source failed (default: exit 1, so that cron reports it).",
)
def once(config_path: str | None, verbose: int, dry_run: bool, workers: int, ignore_source_errors: bool) -> None:
    """Poll every source once, deliver what is due, and exit.

    With --dry-run nothing is recorded or sent and the database is only read: every story
    that the rules match in a source's current listing is shown, marked "would alert if
    new", "seen already" or "older than max_age".

    Exit status: 0 when every source was polled, 1 when any source failed (each failure is
    printed; --ignore-source-errors makes it 0), the database cannot be used or the parser
    workers cannot start, 2 when the configuration is invalid.
    """
    setup_logging(verbose)
    config, rule_cache, queries = load_with_rules(config_path)
    try:
        polls = show_dry_run(config, workers) if dry_run else poll_once(config, workers, rule_cache, queries)
    except (StoreError, WorkerPoolError) as exc:
        click.echo(f"newsmonitor: {exc}", err=True)
        sys.exit(1)
    sys.exit(once_status(polls, ignore_source_errors=ignore_source_errors))


def poll_once(
    config: Config, workers: int, rule_cache: RuleCache | None = None, queries: QueryCheck | None = None
) -> list[PollResult]:
    """Poll every source once and deliver what is due, as the daemon would (its rules compiled
    through ``rule_cache`` from the queries ``queries`` parsed); print one line per source.
    Raises StoreError when the database cannot be locked or used, WorkerPoolError when the
    parser workers cannot start."""
    from monitor.daemon.service import Daemon

    async def main_() -> list[PollResult]:
        daemon = Daemon(config, workers=workers, rule_cache=rule_cache, queries=queries)
        try:
            return await daemon.run_once()
        finally:
            await daemon.close()

    results = asyncio.run(main_())
    for result in results:
        line = f"{result.source}: {result.status}, {result.listed} listed, {result.new} new"
        if result.error:
            line += f" ({redact_text(result.error)})"
        click.echo(line)
    return results


def show_dry_run(config: Config, workers: int) -> list[PollResult]:
    """Print what the rules match in every source's current listing, each story marked as
    it would fare (see :func:`monitor.daemon.probe.dry_run`); returns the polls."""
    from monitor.daemon.probe import DryRunMark, dry_run

    run = asyncio.run(dry_run(config, workers=workers))
    counts = dict.fromkeys(DryRunMark, 0)
    for source in run.sources:
        poll = source.poll
        if poll.error:
            click.echo(f"{poll.source}: error ({redact_text(poll.error)})")
            continue
        click.echo(f"{poll.source}: {poll.listed} listed, {len(source.matched)} matching")
        for hit in source.matched:
            counts[hit.mark] += 1
            to = f" (to {', '.join(hit.targets) or 'no notifier'})" if hit.mark is DryRunMark.NEW else ""
            click.echo(f"  {hit.mark}{to}: {hit.story.title} <{hit.story.url}>")
            for match in hit.matches:
                snippet = match.snippets[0].plain() if match.snippets else ""
                click.echo(f"    rule {match.rule}: {snippet}")
    summary = ", ".join(f"{n} {mark}" for mark, n in counts.items())
    click.echo(f"dry run, nothing recorded or sent: {summary}")
    if run.seen_note:
        click.echo(f"({redact_text(run.seen_note)})")
    return [source.poll for source in run.sources]


def once_status(results: list[PollResult], *, ignore_source_errors: bool) -> int:
    """The exit status of ``once`` after polling: 1 when a source failed (said on stderr, for
    cron), unless ``ignore_source_errors``; else 0."""
    from monitor.daemon.pipeline import PollStatus

    failed = [r.source for r in results if r.status is PollStatus.ERROR]
    if not failed:
        return 0
    click.echo(
        f"newsmonitor: {len(failed)} of {len(results)} sources failed: {', '.join(failed)}", err=True
    )
    return 0 if ignore_source_errors else 1


@main.command()
@click.option("--duration", default=30.0, show_default=True, help="Seconds to run.")
@click.option("--port", default=0, help="Port of the bundled news site (0 = any free port).")
def demo(duration: float, port: int) -> None:
    """Run the real daemon for ~30 s against a bundled news site on 127.0.0.1 (offline)."""
    from monitor.demo.run import run_demo

    sys.exit(asyncio.run(run_demo(duration=duration, port=port, echo=click.echo)))
