"""Commands that run one stage alone on real input: ``test-source`` and ``test-notify``."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys

import click

from monitor.cli.base import config_option, load_or_exit, main
from monitor.redact import install_logging


@main.command("test-source")
@config_option
@click.argument("name_or_url")
@click.option("-v", "--verbose", count=True, help="Also list every rejected link and why.")
def test_source(config_path: str | None, name_or_url: str, verbose: int) -> None:
    """Run one source once without recording anything; print the stories it found."""
    install_logging(logging.INFO if verbose else logging.WARNING)
    from monitor.daemon.probe import run_test_source

    code = asyncio.run(run_test_source(config_path, name_or_url, verbose=verbose > 0, echo=click.echo))
    sys.exit(code)


@main.command("test-notify")
@config_option
@click.argument("target")
def test_notify(config_path: str | None, target: str) -> None:
    """Send one test message to every URL of notifier TARGET, each with its own idempotency key.

    Each URL gets the message as the daemon would render it for that URL; exit 1 if any send failed.
    """
    install_logging(logging.WARNING)
    config = load_or_exit(config_path)
    from monitor.daemon.batches import render_for
    from monitor.daemon.targets import build_targets
    from monitor.models import MessageKind
    from monitor.notify.deliver import Outcome, privacy_url, send
    from monitor.notify.message import Message

    targets = build_targets(config)
    if target not in targets:
        click.echo(f"unknown notifier '{target}'; defined: {', '.join(targets) or 'none'}", err=True)
        sys.exit(2)
    t = targets[target]
    failed = False
    for dest in t.destinations:
        # a key of its own: a receiver that deduplicates on the key must not drop the next test
        key = f"nm-test-{secrets.token_hex(8)}"
        message = Message(
            kind=MessageKind.HEALTH,
            target=target,
            items=[],
            note="newsmonitor test message: delivery works.",
            keys=[key],
        )
        rendered = render_for(t, dest, message)
        result = send(
            dest.url,
            title=rendered.title,
            body=rendered.body,
            body_format=rendered.body_format,
            key=key,
            timeout=config.settings.delivery.timeout,
        )
        detail = f" {result.detail}" if result.detail else ""
        click.echo(f"{privacy_url(dest.url)}: {result.outcome.value} (key {key}){detail}")
        failed = failed or result.outcome is not Outcome.SENT
    sys.exit(1 if failed else 0)
