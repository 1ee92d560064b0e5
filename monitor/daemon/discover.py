"""What to subscribe to for a URL someone gives ``newsmonitor add``: a feed, the feed a page
advertises, or the page itself, each tried with one poll before it is chosen.

One fetch of the URL tells a page from a feed. A page's ``<link rel="alternate">`` feeds
(:func:`monitor.extract.links.advertised_feeds`) are tried first, in the page's order; the
page itself (its article links followed) comes last. Every candidate is polled once as the
daemon would poll it, recording nothing (a store in memory), and the first that answers is
chosen. Every request goes through the runtime's guarded client: a URL on a private address
is refused unless the configuration's ``allow_networks`` admits it, and a feed a page
advertises on another host is checked like any other URL (it came from the page, not from
the user).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from monitor.config import Config, SourceSettings
from monitor.errors import BlockedURL, FetchError, MonitorError
from monitor.extract.links import advertised_feeds
from monitor.fetch import allow_entries_for
from monitor.redact import redact_url
from monitor.subscriptions.plan import known_urls, site_name, slugify, unique_name, url_key

if TYPE_CHECKING:
    from monitor.daemon.pipeline import PollResult
    from monitor.daemon.runtime import Runtime

#: the first bytes looked at to tell an HTML page from a feed
_SNIFF = 1024
_HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One candidate polled: its kind and URL, and what the poll listed or why it failed."""

    kind: str
    url: str
    listed: int = 0
    error: str | None = None


@dataclass(slots=True)
class Discovery:
    """What :func:`discover` found for a URL.

    ``source`` is the entry to add (None when no candidate answered, or the address is
    already configured: ``known`` names that source); ``attempts`` every candidate polled,
    in order; ``advertised`` the feeds the page names; ``error`` why nothing was found.
    """

    url: str
    source: SourceSettings | None = None
    known: str | None = None
    is_page: bool = False
    advertised: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    error: str | None = None


async def discover(
    config: Config, url: str, *, name: str | None = None, tags: tuple[str, ...] = ()
) -> Discovery:
    """Find the source to add for ``url`` next to the sources of ``config`` (see the module
    docstring). ``name`` overrides the name made from the site's host; ``tags`` go on the
    entry. Never raises for the site's problems: ``error`` says what went wrong.
    """
    # probe's scratch copy of the config: a store in memory, no rules, no notifiers
    from monitor.daemon.probe import _in_memory
    from monitor.daemon.runtime import Runtime

    found = Discovery(url=url)
    known = known_urls(config.settings.sources)
    if (key := url_key(url)) is None:
        found.error = "not an http or https URL"
        return found
    if key in known:
        found.known = known[key]
        return found
    rt = Runtime(_in_memory(config), workers=0)
    try:
        await rt.store.migrate()
        candidates = await _candidates(rt, found)
        for kind, candidate in candidates:
            if (key := url_key(candidate)) is not None and key in known:
                found.known = known[key]
                return found
            entry = _entry(config, kind, candidate, url, name, tags)
            attempt = await _try(rt, entry)
            found.attempts.append(attempt)
            if attempt.error is None:
                found.source = entry
                return found
        if found.error is None:
            found.error = "nothing there could be polled"
        return found
    finally:
        await rt.close()


async def _candidates(rt: Runtime, found: Discovery) -> list[tuple[str, str]]:
    """(kind, URL) to try, in order: one fetch of the URL tells a page from a feed."""
    try:
        response = await rt.http.get(found.url)
    except BlockedURL as exc:
        entries = ", ".join(f'"{e}"' for e in allow_entries_for(found.url))
        hint = f" (allow_networks: [{entries}], at the top level of the file)" if entries else ""
        found.error = f"{exc}{hint}"
        return []
    except FetchError as exc:
        found.error = str(exc)
        return []
    if not _looks_like_html(response.content_type, response.body):
        return [("feed", found.url)]
    found.is_page = True
    try:
        found.advertised = await rt.pool.run(advertised_feeds, response.body, response.url)
    except MonitorError:  # a page the parser gives up on advertises nothing; its poll says more
        found.advertised = []
    return [*(("feed", feed) for feed in found.advertised), ("page", found.url)]


def _looks_like_html(content_type: str | None, body: bytes) -> bool:
    if content_type and content_type.split(";")[0].strip().lower() in _HTML_TYPES:
        return True
    head = body[:_SNIFF].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html"))


async def _try(rt: Runtime, entry: SourceSettings) -> Attempt:
    from monitor.daemon.pipeline import PollStatus, poll_source

    resolved = rt.config.settings.defaults.resolve(entry)
    result: PollResult = await poll_source(rt, resolved, record=False)
    shown = redact_url(entry.url)
    if result.status is PollStatus.ERROR or result.error:
        return Attempt(entry.kind, shown, error=result.error or "the poll failed")
    return Attempt(entry.kind, shown, listed=result.listed)


def _entry(
    config: Config, kind: str, url: str, given: str, name: str | None, tags: tuple[str, ...]
) -> SourceSettings:
    taken = {source.name for source in config.settings.sources}
    chosen = name or unique_name(_name_from(given, taken), taken)
    data: dict[str, object] = {"name": chosen, kind: url}
    if tags:
        data["tags"] = list(dict.fromkeys(tags))
    return SourceSettings.model_validate(data)


def _name_from(url: str, taken: set[str]) -> str:
    """The site's host (``example-org``); when another source has that name, with the
    URL's first path word (``example-org-world``)."""
    base = site_name(url)
    if base not in taken:
        return base
    first = next((part for part in urlsplit(url).path.split("/") if part), "")
    word = slugify(first.rsplit(".", 1)[0])
    return f"{base}-{word}" if word else base
