"""Commands that run the daemon: ``check``, ``run``, ``once`` and ``demo``."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from monitor.cli.base import config_option, load_or_exit, main, setup_logging, verbose_option
from monitor.errors import ConfigError, StoreError
from monitor.redact import redact_text


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
    config = load_or_exit(config_path)
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
@click.option("--workers", default=1, show_default=True, help="Parser worker processes (0 = a thread).")
def run(config_path: str | None, verbose: int, workers: int) -> None:
    """Run the daemon until SIGTERM or Ctrl-C."""
    setup_logging(max(verbose, 1))
    config = load_or_exit(config_path)
    from monitor.daemon.service import Daemon

    async def main_() -> int:
        daemon = Daemon(config, workers=workers)
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
    except StoreError as exc:
        click.echo(f"newsmonitor: {exc}", err=True)
        sys.exit(1)


@main.command()
@config_option
@verbose_option
@click.option("--dry-run", is_flag=True, help="Print the alerts that would be sent; record and send nothing.")
@click.option("--workers", default=1, show_default=True, help="Parser worker processes (0 = a thread).")
def once(config_path: str | None, verbose: int, dry_run: bool, workers: int) -> None:
    """Poll every source once, deliver what is due, and exit."""
    setup_logging(verbose)
    config = load_or_exit(config_path)
    from monitor.daemon.service import Daemon

    async def main_() -> None:
        daemon = Daemon(config, workers=workers)
        try:
            results = await daemon.run_once(record=not dry_run)
        finally:
            await daemon.close()
        for result in results:
            line = f"{result.source}: {result.status}, {result.listed} listed, {result.new} new"
            if result.error:
                line += f" ({result.error})"
            click.echo(line)
            if dry_run:
                for story, matches in result.alerts:
                    click.echo(f"  would alert: {story.title} <{story.url}>")
                    for match in matches:
                        snippet = match.snippets[0].plain() if match.snippets else ""
                        click.echo(f"    rule {match.rule}: {snippet}")

    try:
        asyncio.run(main_())
    except StoreError as exc:
        click.echo(f"newsmonitor: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.option("--duration", default=30.0, show_default=True, help="Seconds to run.")
@click.option("--port", default=0, help="Port of the bundled news site (0 = any free port).")
def demo(duration: float, port: int) -> None:
    """Run the real daemon for ~30 s against a bundled news site on 127.0.0.1 (offline)."""
    from monitor.demo.run import run_demo

    sys.exit(asyncio.run(run_demo(duration=duration, port=port, echo=click.echo)))
