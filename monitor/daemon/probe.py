"""Running stages on real input: ``test-source``, ``check --online`` and loading a story from a URL for ``test-rule``."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from monitor.config import Config, Settings, SourceSettings, default_config_path, load_config
from monitor.errors import ConfigError, MonitorError
from monitor.extract.article import extract_article
from monitor.fetch.client import HttpClient
from monitor.models import Story
from monitor.redact import redact_text, redact_url

if TYPE_CHECKING:
    from monitor.daemon.runtime import Runtime


def command_line_allow(url: str) -> list[str]:
    """The address of a URL typed on the command line, exempt from the private-address guard.

    Whoever runs ``test-rule URL`` or ``test-source URL`` chose that host and port, as the
    demo chose its own site: that exact IP and port are allowed (an IP literal, or
    ``localhost``), nothing else; redirects and links elsewhere are still checked.
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return []
    if host == "localhost":
        return [f"127.0.0.1:{port}", f"[::1]:{port}"]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return []
    return [f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"]


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
        lang=article.lang,
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
            page = config.settings.defaults.resolve(page)
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
            ):
                await fetch_full_text(rt, src, story)
            date = story.published.isoformat() if story.published else "no date"
            echo("")
            echo(f"* {story.title}")
            echo(f"  {date}  {story.url}")
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
    from monitor.extract.feeds import advertised_feeds

    try:
        response = await rt.http.get(
            src.url, headers=src.headers or None, allow_networks=src.allow_networks, check_robots=src.robots
        )
        feeds = await rt.pool.run(advertised_feeds, response.body, response.url)
    except MonitorError:
        return []
    return [redact_url(feed) for feed in feeds]
