"""Running the stages on real input without recording: ``test-source``, ``check --online``
(:func:`probe_sources`), a story from a URL for ``test-rule``, and ``once --dry-run`` (:func:`dry_run`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.config import Config, Settings, SourceSettings, default_config_path, load_config
from monitor.errors import ConfigError, MonitorError, StoreError
from monitor.extract.article import extract_article
from monitor.extract.language import story_language
from monitor.fetch import HttpClient, allow_entries_for
from monitor.models import Match, Story
from monitor.redact import redact_text, redact_url
from monitor.store.db import Database
from monitor.store.facade import Store

if TYPE_CHECKING:
    from monitor.daemon.pipeline import PollResult
    from monitor.daemon.runtime import Runtime

log = logging.getLogger("monitor.daemon")

def command_line_allow(url: str) -> list[str]:
    """The address of a URL typed on the command line, exempt from the private-address guard.

    Whoever runs ``test-rule URL`` or ``test-source URL`` chose that host and port, as the
    demo chose its own site: that exact IP and port are allowed (an IP literal, or
    ``localhost``), nothing else; redirects and links elsewhere are still checked.
    """
    return allow_entries_for(url)


async def story_from_url(url: str, *, allow_networks: tuple[str, ...] = ()) -> Story:
    """Fetch ``url`` through the guarded client and extract its article as a :class:`Story`.

    Raises :class:`~monitor.errors.FetchError` or ParseError (no main text found).
    """
    from monitor.errors import ParseError

    allowed = [*allow_networks, *command_line_allow(url)]
    async with HttpClient(allow_networks=allowed) as http:
        response = await http.get(url)
    article = extract_article(response.body, url=response.url)
    if article is None:
        raise ParseError(f"no article text found at {redact_url(url)}")
    return Story(
        source="(url)",
        url=response.url,
        title=article.title or "",
        text=article.text,
        published=article.published,
        author=article.author,
        lang=story_language(article.lang, article.title or "", article.text),
        canonical_url=article.canonical_url,
        outlet="(url)",
        text_origin="extracted",
    )


def _config_for(config_path: str | None, name_or_url: str) -> tuple[Config, SourceSettings]:
    path = config_path or default_config_path()
    config: Config | None = None
    if config_path or Path(path).exists():
        config = load_config(path)
        for src in config.settings.sources:
            if src.name == name_or_url:
                return _in_memory(config, src), src
    if "://" not in name_or_url:
        known = ", ".join(s.name for s in config.settings.sources) if config else "none (no config file)"
        raise ConfigError([f"no source named '{name_or_url}'; sources: {known}; or pass a URL"])
    base = config.settings.model_copy() if config else Settings()
    guess = "page" if name_or_url.rstrip("/").endswith((".html", ".htm")) else "feed"
    src = SourceSettings.model_validate(
        {"name": "(test)", guess: name_or_url, "allow_networks": command_line_allow(name_or_url)}
    )
    src = base.defaults.resolve(src)
    return _in_memory(Config(base, path, []), src), src


def _in_memory(config: Config, *sources: SourceSettings) -> Config:
    # nothing recorded (a database in memory), nothing matched, nothing sent
    settings = config.settings.model_copy(
        update={"database": "sqlite://", "sources": list(sources), "rules": [], "notifiers": {}}
    )
    settings.defaults = settings.defaults.model_copy(update={"notify": []})
    return Config(settings, config.path, [])


async def run_test_source(
    config_path: str | None, name_or_url: str, *, verbose: bool, echo: Callable[[str], object]
) -> int:
    """Poll one source without recording; print what it found. Returns the exit status."""
    from monitor.daemon.articles import fetch_full_text
    from monitor.daemon.pipeline import PollStatus, poll_source
    from monitor.daemon.runtime import Runtime
    from monitor.sources import kind_for

    try:
        config, src = _config_for(config_path, name_or_url)
    except ConfigError as exc:
        for problem in exc.problems:
            echo(redact_text(problem))
        return 2
    rt = Runtime(config, workers=0)
    try:
        await rt.store.migrate()
        src = src.model_copy(update={"alert_on_first_poll": True})
        result = await poll_source(rt, src, record=False)
        if result.status is PollStatus.ERROR and src.feed and "://" in name_or_url and src.name == "(test)":
            # a guessed feed that is really a page
            page = SourceSettings.model_validate(
                {"name": "(test)", "page": src.feed, "allow_networks": src.allow_networks}
            )
            # not a first poll either: a first poll only primes, and fetches no article text
            page = config.settings.defaults.resolve(page).model_copy(update={"alert_on_first_poll": True})
            result = await poll_source(rt, page, record=False)
            src = page
        if result.error:
            echo(f"{src.name}: {redact_text(result.error)}")
            return 1
        echo(f"{src.name}: {result.listed} stories listed ({src.kind} {redact_url(src.url)})")
        for story in result.stories:
            if (
                story.text_origin == "feed"
                and kind_for(src.kind).always_full_text is False
                and not story.text
                and story.url  # a story without a fetchable link has only its feed text
            ):
                await fetch_full_text(rt, src, story)
            date = story.published.isoformat() if story.published else "no date"
            echo("")
            echo(f"* {story.title}")
            echo(f"  {date}  {story.lang or 'language unknown'}  {story.url or '(no http link: only the feed text)'}")
            text = " ".join(story.text.split())
            echo(f"  [{story.text_origin}] {text[:200]}")
        if verbose and result.rejected:
            echo("")
            echo(f"rejected links ({len(result.rejected)}):")
            for url, reason in result.rejected:
                echo(f"  {reason:<22} {url}")
        return 0
    except MonitorError as exc:
        echo(f"error: {redact_text(str(exc))}")
        return 1
    finally:
        await rt.close()


# ---------------------------------------------------------------------------- once --dry-run


class DryRunMark(StrEnum):
    """What would become of a story that matches, were the daemon to poll now."""

    #: it alerts if the daemon has not seen it yet (the first poll of a new source only primes)
    NEW = "would alert if new"
    #: the database has seen it: it never alerts again
    SEEN = "seen already"
    #: published longer ago than ``max_age``: it never alerts
    TOO_OLD = "older than max_age"


@dataclass(frozen=True, slots=True)
class DryRunMatch:
    """A story of a source's current listing that some rules match."""

    story: Story
    matches: list[Match]
    mark: DryRunMark
    #: the notifiers its alerts would go to, in the order the rules name them
    targets: list[str]


@dataclass(frozen=True, slots=True)
class DryRunSource:
    """One source in a dry run: its poll (``poll.error`` when it failed) and what matched."""

    poll: PollResult
    matched: list[DryRunMatch]


@dataclass(frozen=True, slots=True)
class DryRun:
    """What ``once --dry-run`` found: one entry per enabled source, in configuration order."""

    sources: list[DryRunSource]
    #: why no story could be marked as seen (no database yet, or one this version cannot
    #: read); None when the database was read
    seen_note: str | None = None


def _seen_store(config: Config) -> tuple[Store | None, str | None]:
    """The configured database opened as it is, only to read which stories are seen, or why not."""
    try:
        database = Database.open_existing(config.database_url)
    except StoreError as exc:
        return None, f"cannot tell which stories were seen: {exc}"
    except Exception as exc:  # the driver's own errors (a database server that cannot be reached)
        return None, f"cannot tell which stories were seen: {type(exc).__name__}: {exc}"
    if database is None:
        return None, "no database yet: no story has been seen"
    return Store(database), None


async def dry_run(config: Config, *, workers: int = 1, concurrency: int = 16) -> DryRun:
    """Poll every enabled source of ``config`` once and report what its rules match in each
    source's current listing, recording and sending nothing.

    Read-only: the configured database is never created, locked, migrated or written, so a
    dry run works beside a running daemon; it is only read (when it exists) to mark the
    stories it has seen. The polls run as the daemon's do (the same HTTP client, politeness
    limits, robots.txt and article fetches) against an empty in-memory store, with no
    validators (a full GET, never a 304) and without the priming of a first poll, so every
    story listed now counts. Never raises for a source's problems (its ``poll.error`` says
    what failed); raises WorkerPoolError when the parser workers cannot start.
    """
    seen, note = _seen_store(config)
    try:
        sources = await _poll_all(config, seen, workers=workers, concurrency=concurrency)
    finally:
        if seen is not None:
            seen.close()
    return DryRun(sources, note)


async def _poll_all(config: Config, seen: Store | None, *, workers: int, concurrency: int) -> list[DryRunSource]:
    """Every enabled source of ``config`` polled once on a scratch runtime (its database in memory)."""
    from monitor.daemon.runtime import Runtime

    scratch = Config(config.settings.model_copy(update={"database": "sqlite://"}), config.path, config.warnings)
    rt = Runtime(scratch, workers=workers)
    try:
        await rt.pool.start()  # workers that cannot start are one error, not one per source
        await rt.store.migrate()  # the scratch store, in memory
        sem = asyncio.Semaphore(concurrency)

        async def one(src: SourceSettings) -> DryRunSource:
            async with sem:
                return await _dry_run_source(rt, seen, src)

        enabled = [src for src in scratch.settings.sources if src.enabled]
        return list(await asyncio.gather(*(one(src) for src in enabled)))
    finally:
        await rt.close()


async def _dry_run_source(rt: Runtime, seen: Store | None, src: SourceSettings) -> DryRunSource:
    from monitor.daemon.pipeline import PollResult, PollStatus, poll_source

    try:
        poll = await poll_source(rt, src.model_copy(update={"alert_on_first_poll": True}), record=False)
        return DryRunSource(poll, await _marked(rt, seen, poll))
    except Exception as exc:  # a bug in one source's dry run must not abort the others
        log.exception("source=%s unexpected error in dry run", src.name)
        error = f"{type(exc).__name__}: {exc}"
        return DryRunSource(PollResult(source=src.name, status=PollStatus.ERROR, error=error), [])


async def _marked(rt: Runtime, seen: Store | None, poll: PollResult) -> list[DryRunMatch]:
    """The matching stories of ``poll`` in listing order, each marked NEW, SEEN or TOO_OLD."""
    alerting = {id(story): matches for story, matches in poll.alerts}
    # the poll never matched stories too old to alert: match them here, to say so
    cutoff = rt.clock.timestamp() - rt.policy.max_age
    old = [s for s in poll.stories if s.published is not None and s.published.timestamp() < cutoff]
    too_old = {id(story): matches for story, matches in await rt.cpu(_match_all, rt, old) if matches}
    from monitor.daemon.recognise import find_seen

    keys = [key for story in poll.stories for key in story.keys]
    seen_keys = await find_seen(seen, keys, rt.clock.timestamp()) if seen is not None else {}
    matched = []
    for story in poll.stories:
        matches = alerting.get(id(story)) or too_old.get(id(story))
        if not matches:
            continue
        if any(key in seen_keys for key in story.keys):
            mark = DryRunMark.SEEN
        else:
            mark = DryRunMark.NEW if id(story) in alerting else DryRunMark.TOO_OLD
        matched.append(DryRunMatch(story, matches, mark, rt.policy.targets_for(matches)))
    return matched


def _match_all(rt: Runtime, stories: Sequence[Story]) -> list[tuple[Story, list[Match]]]:
    return [(story, rt.matcher.match(story)) for story in stories]


async def probe_sources(config: Config, *, echo: Callable[[str], object]) -> int:
    """Poll every enabled source of ``config`` once, as the daemon polls it, and echo one
    line per source in the order of the file: its kind, how many stories (feeds) or article
    links (pages) it lists or why the poll failed, and the feeds a page advertises.

    Nothing is recorded (a database in memory), no rule runs and nothing is sent; no
    article is fetched. Returns 0 when every source answered, 1 when any failed.
    """
    from monitor.daemon.runtime import Runtime

    sources = [
        src.model_copy(update={"alert_on_first_poll": False}) for src in config.settings.sources if src.enabled
    ]
    rt = Runtime(_in_memory(config, *sources), workers=0)
    try:
        await rt.store.migrate()
        lines = await asyncio.gather(*(_probe_line(rt, src) for src in sources))
    finally:
        await rt.close()
    for _answered, line in lines:
        echo(line)
    return 0 if all(ok for ok, _ in lines) else 1


async def _probe_line(rt: Runtime, src: SourceSettings) -> tuple[bool, str]:
    """One poll of ``src`` without recording, as (answered, the line that says what it found)."""
    from monitor.daemon.pipeline import poll_source

    result = await poll_source(rt, src, record=False)
    shown = f"{src.name}: {src.kind} {redact_url(src.url)}"
    if result.error:
        return False, f"{shown}: FAILED: {redact_text(result.error)}"
    if src.kind != "page":
        return True, f"{shown}: {result.listed} stories listed"
    line = f"{shown}: {result.listed} article links listed"
    feeds = await _advertised(rt, src)
    if feeds:
        line += f"; the page advertises {'a feed' if len(feeds) == 1 else 'feeds'}: {', '.join(feeds)}"
    return True, line


async def _advertised(rt: Runtime, src: SourceSettings) -> list[str]:
    """The feeds the page of ``src`` advertises, fetched as its poll fetches it; [] when it
    cannot be fetched again (the poll's line has said what the page lists)."""
    from monitor.extract.links import advertised_feeds

    try:
        response = await rt.http.get(
            src.url, headers=src.headers or None, allow_networks=src.allow_networks, check_robots=src.robots
        )
        feeds = await rt.pool.run(advertised_feeds, response.body, response.url)
    except MonitorError:
        return []
    return [redact_url(feed) for feed in feeds]
