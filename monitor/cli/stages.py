"""Commands that run one stage alone on real input: ``test-source`` and ``test-notify``."""

from __future__ import annotations

import asyncio
import logging
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
    """Send one test message to every URL of notifier TARGET."""
    install_logging(logging.WARNING)
    config = load_or_exit(config_path)
    from monitor.daemon.targets import build_targets
    from monitor.models import MessageKind
    from monitor.notify.deliver import Outcome, privacy_url, send
    from monitor.notify.message import Message

    targets = build_targets(config)
    if target not in targets:
        click.echo(f"unknown notifier '{target}'; defined: {', '.join(targets) or 'none'}", err=True)
        sys.exit(2)
    t = targets[target]
    message = Message(
        kind=MessageKind.HEALTH,
        target=target,
        items=[],
        note="newsmonitor test message: delivery works.",
        keys=["nm-test"],
    )
    rendered = t.renderer.render(message)
    failed = False
    for dest in t.destinations:
        result = send(
            dest.url,
            title=rendered.title,
            body=rendered.body,
            body_format=rendered.body_format,
            key="nm-test",
            timeout=config.settings.delivery.timeout,
        )
        click.echo(f"{privacy_url(dest.url)}: {result.outcome.value} {result.detail}")
        failed = failed or result.outcome is not Outcome.SENT
    sys.exit(1 if failed else 0)
