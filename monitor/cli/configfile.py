"""Commands that change or describe the configuration file: ``add``, ``import-opml``,
``export-opml`` and ``schema`` (``init``, which writes a new one, is :mod:`monitor.cli.init`).

Every command that changes a file validates the result as ``check`` would before it
writes, writes it whole (a temporary file renamed over the old one, its mode kept), and
never touches a line the user wrote (:mod:`monitor.config.edit`).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from monitor.cli.base import config_option, load_or_exit, main
from monitor.config import Config, SourceSettings, parse_settings
from monitor.config.rulesection import checked_rules_of
from monitor.config.yamlload import load_yaml
from monitor.errors import ConfigError, ParseError
from monitor.redact import redact_text, redact_url


@main.command("add")
@config_option
@click.argument("url")
@click.option("--name", metavar="NAME", help="The source's name (default: made from the site's host).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Give the source this tag (repeatable).")
@click.option("--dry-run", is_flag=True, help="Find and test the source; change nothing.")
def add(config_path: str | None, url: str, name: str | None, tags: tuple[str, ...], dry_run: bool) -> None:
    """Add a source for URL after one test poll: the URL's feed, else the feed its page
    advertises (<link rel="alternate">), else the page itself (its article links followed).

    Nothing is recorded by the test poll; the new source's first real poll only records what
    it lists. The fetches go through the same address guard as every poll: a private
    address needs an allow_networks entry first. Exit 1 when nothing could be polled.
    """
    import asyncio

    from monitor.daemon.discover import discover

    config = load_or_exit(config_path)
    if name is not None and name in {s.name for s in config.settings.sources}:
        fail(f"--name: a source named {name!r} exists already")
    found = asyncio.run(discover(config, url.strip(), name=name, tags=tags))
    shown = redact_url(url)
    if found.known is not None:
        click.echo(f"{shown} is already configured as source {found.known!r}; nothing added")
        return
    if found.is_page:
        feeds = len(found.advertised)
        click.echo(f"{shown}: a web page advertising {feeds} feed{'s' if feeds != 1 else ''}")
    for attempt in found.attempts:
        what = "article links" if attempt.kind == "page" else "stories"
        outcome = f"FAILED: {redact_text(attempt.error)}" if attempt.error else f"{attempt.listed} {what} listed"
        click.echo(f"  {attempt.kind} {attempt.url}: {outcome}")
    source = found.source
    if source is None:
        fail(f"{shown}: {redact_text(found.error or 'nothing could be polled')}; nothing added", code=1)
    if source.kind == "page" and found.attempts[-1].listed == 0:
        click.echo(
            "  note: the page lists no article link newsmonitor recognises: set links: to a CSS "
            "selector of its article links (`newsmonitor test-source NAME -v` shows the links it rejected)"
        )
    click.echo(f"+ {source.name}: {source.kind} {redact_url(source.url)}")
    if dry_run:
        click.echo(f"dry run: {config.path} unchanged")
        return
    _write_config(config, [source])
    click.echo(f"{config.path} updated (its first poll only records what it lists)")


@main.command("schema")
def schema() -> None:
    """Print the JSON Schema of the configuration file (for editors and other tools).

    Editors with the YAML language server use it through a first line such as
    ``# yaml-language-server: $schema=newsmonitor.schema.json``.
    """
    from monitor.config.schema import schema_text

    click.echo(schema_text(), nl=False)


@main.command("import-opml")
@config_option
@click.argument("opml_file", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Give every imported source this tag too (repeatable).")
@click.option("--dry-run", is_flag=True, help="Say what would be added and skipped; change nothing.")
def import_opml(config_path: str | None, opml_file: str, tags: tuple[str, ...], dry_run: bool) -> None:
    """Add the feeds of an OPML FILE (an export of another reader) as sources.

    Folders and categories become tags. Feeds the configuration already polls (the same
    address, http or https), feeds listed twice, and addresses the private-address guard
    would refuse are skipped and named. Comments and layout of the configuration file are
    kept; each new source's first poll only records what it lists. Exit 2 when FILE is
    refused (not OPML, too large, or unsafe XML) or the configuration is invalid.
    """
    # imported here, not with the CLI: every other command would pay for the OPML parsers
    from monitor.subscriptions import MAX_OPML_BYTES, plan_import, read_opml

    config = load_or_exit(config_path)
    try:
        subscriptions = read_opml(_read_limited(opml_file, MAX_OPML_BYTES))
    except (OSError, ParseError) as exc:
        click.echo(f"newsmonitor: {opml_file}: {exc.strerror if isinstance(exc, OSError) else exc}", err=True)
        sys.exit(2)
    allowed = config.settings.allow_networks
    plan = plan_import(
        subscriptions.feeds,
        config.settings.sources,
        refusal=lambda url: _guard_refusal(url, allowed),
        extra_tags=tags,
    )
    for note in subscriptions.notes:
        click.echo(f"note: {note}", err=True)
    for source in plan.add:
        shown_tags = f"  [{', '.join(source.tags)}]" if source.tags else ""
        click.echo(f"+ {source.name}: {redact_url(source.url)}{shown_tags}")
    for skipped in plan.skipped:
        title = f" ({skipped.title})" if skipped.title else ""
        click.echo(f"  skipped {redact_url(skipped.url)}{title}: {skipped.reason}")
    if subscriptions.sites:
        click.echo(
            f"  {len(subscriptions.sites)} outlines name only a web site, no feed: add one with "
            "`newsmonitor add URL`, which finds its feed"
        )
    if subscriptions.lists:
        click.echo(f"  {len(subscriptions.lists)} outlines link to other subscription lists: not followed")
    verb = "would add" if dry_run else "added"
    summary = f"{verb} {len(plan.add)} sources, skipped {len(plan.skipped)}"
    if dry_run or not plan.add:
        click.echo(summary + ("" if dry_run else f"; {config.path} unchanged"))
        return
    _write_config(config, plan.add)
    click.echo(f"{summary}; {config.path} updated (a new source's first poll only records what it lists)")


@main.command("export-opml")
@config_option
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default="-", help="Write here (default: stdout)."
)
def export_opml(config_path: str | None, output: str) -> None:
    """Write the feed sources as OPML 2.0, for another reader (or ``import-opml``).

    Each feed's first tag is its folder; all its tags go in the ``category`` attribute.
    URLs are written as the file has them: a ``${VAR}`` stays a reference, never its
    value. Page sources have no feed to export and are named on stderr.
    """
    from monitor.subscriptions import ExportedFeed, write_opml  # see import_opml

    config = load_or_exit(config_path)
    written = _raw_sources(config)
    feeds: list[ExportedFeed] = []
    pages: list[str] = []
    for source, raw in zip(config.settings.sources, written, strict=True):
        if source.kind != "feed":
            pages.append(source.name)
            continue
        url = str(raw.get("feed", source.url))
        feeds.append(ExportedFeed(name=source.name, label=source.outlet or "", url=url, tags=tuple(source.tags)))
    document = write_opml(feeds, title=f"newsmonitor sources ({Path(config.path).name})", created=datetime.now(UTC))
    if output == "-":
        click.echo(document, nl=False)
    else:
        Path(output).write_text(document, encoding="utf-8")
        click.echo(f"wrote {len(feeds)} feeds to {output}", err=True)
    if pages:
        click.echo(f"not exported (page sources have no feed): {', '.join(pages)}", err=True)
    references = [f.name for f in feeds if "${" in f.url]
    if references:
        click.echo(f"written with their ${{...}} references, not the values: {', '.join(references)}", err=True)


# ---------------------------------------------------------------------------- shared by the writers


def fail(message: str, code: int = 2) -> NoReturn:
    """Say ``message`` on stderr as ``newsmonitor: message`` and exit with ``code``."""
    click.echo(f"newsmonitor: {message}", err=True)
    sys.exit(code)


def _read_limited(path: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``path`` (``-``: stdin): enough to tell a file is too large."""
    if path == "-":
        return sys.stdin.buffer.read(limit + 1)
    with open(path, "rb") as handle:
        return handle.read(limit + 1)


def _guard_refusal(url: str, allow_networks: Sequence[str]) -> str | None:
    from monitor.fetch import address_refusal, allow_entries_for  # aiohttp: not for every command

    refusal = address_refusal(url, allow_networks)
    if refusal is None:
        return None
    entries = ", ".join(f'"{entry}"' for entry in allow_entries_for(url))
    hint = f" (allow_networks: [{entries}], at the top level of the file, then import again)" if entries else ""
    return f"refused by the address guard: {refusal}{hint}"


def _raw_sources(config: Config) -> list[dict[str, object]]:
    """The entries of ``sources:`` as the file writes them (``${VAR}`` not expanded)."""
    text = Path(config.path).read_text(encoding="utf-8")
    data = load_yaml(text, config.path).data
    entries = data.get("sources") if isinstance(data, dict) else None
    return [entry if isinstance(entry, dict) else {} for entry in entries or []]


def _write_config(config: Config, sources: Sequence[SourceSettings]) -> None:
    """Append ``sources`` to the file of ``config``, if the result validates; exit 1 if not."""
    from monitor.config.edit import append_sources  # ruamel, only when a file is edited

    path = Path(config.path)
    text = path.read_text(encoding="utf-8")
    try:
        edited = append_sources(text, sources, config.path)
        # the rules section, untouched, is taken as the file's load validated it
        parse_settings(edited, config.path, known_rules=checked_rules_of(config))
    except ConfigError as exc:
        click.echo(f"newsmonitor: {config.path} left unchanged:", err=True)
        for problem in exc.problems:
            click.echo("  " + redact_text(problem), err=True)
        sys.exit(1)
    replace_file(path, edited)


def replace_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole: a temporary file beside it, renamed over it. The
    mode of the old file is kept (a symlink's target is the file written)."""
    target = path.resolve()
    mode = target.stat().st_mode & 0o7777 if target.exists() else 0o600
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise

