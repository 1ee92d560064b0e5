"""``newsmonitor events``: group a file of stories into events as ``group: event`` would."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import click
from pydantic import ValidationError

from monitor.cli.base import main
from monitor.cli.inputs import ARCHIVE_ERRORS, input_lines
from monitor.cli.rules import story_from_json
from monitor.config import EventSettings
from monitor.config.durations import parse_duration


def _stories(lines: Iterator[str], bad: list[str]) -> Iterator[tuple[str, Any, float]]:
    """(id, story, seen at) of each valid line; a bad line's error goes to ``bad``. A story
    without a published date counts as seen one second after the one before it."""
    at = 0.0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or "id" not in obj:
                raise ValueError('not a JSON object with an "id"')
            story = story_from_json(obj)
        except ValueError as exc:
            bad.append(f"line {number}: {exc}")
            continue
        at = story.published.timestamp() if story.published else at + 1.0
        yield str(obj["id"]), story, at


@main.command("events")
@click.option("--window", default="24h", show_default=True, help="How long an event takes write-ups.")
@click.option(
    "--threshold", type=float, default=0.25, show_default=True, help="How alike a write-up must be (0 to 1)."
)
@click.argument("stories", default="-", metavar="STORIES.jsonl")
def events(window: str, threshold: float, stories: str) -> None:
    """Group the stories of a JSON-lines file (- for stdin) into events, as a rule with
    ``group: event`` would, in the order of the file (or of their published dates).

    Each line is an object with id, title, text and optionally published (ISO 8601), lang.
    Output: one JSON object per story: its event (the id of the event's first story),
    whether it started the event, its best similarity to an earlier event, and the new
    details a follow-up would quote. Exit status 1 when some line was invalid, 2 for bad
    options.
    """
    try:
        settings = EventSettings(window=parse_duration(window), threshold=threshold)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        raise click.BadParameter(message, param_hint=f"--{error['loc'][0]}") from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--window") from None
    from monitor.daemon.eventgroups import group_stories

    bad: list[str] = []
    try:
        for grouped in group_stories(_stories(input_lines(stories), bad), settings):
            out = {"id": grouped.id, "event": grouped.event, "started": grouped.started, "score": grouped.score}
            if grouped.details:
                out["details"] = list(grouped.details)
            click.echo(json.dumps(out, ensure_ascii=False))
    except ARCHIVE_ERRORS as exc:
        click.echo(f"newsmonitor: {stories}: {exc}", err=True)
        sys.exit(1)
    for problem in bad:
        click.echo(f"newsmonitor: {stories}: {problem}", err=True)
    sys.exit(1 if bad else 0)
