"""Which sources an import adds, under which names, and which it skips and why (pure).

A feed is *known* when the configuration already polls the same address: URLs are
compared normalised (:func:`monitor.extract.urls.normalize_url`), without their scheme
and trailing slash, so ``http://site/feed/`` and ``https://site/feed`` are one feed. A
name is the outline's title when it is already a plain name (no spaces, as export writes
it), else a slug of the title, else of the site's host; a name in use gets ``-2``, ``-3``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from monitor.config.models import SourceSettings
from monitor.extract.urls import normalize_url
from monitor.subscriptions.opml import OpmlFeed

#: the longest name made from a title
MAX_NAME = 48
_PLAIN_NAME = re.compile(r"[\w.-]{1,48}")
_NOT_WORD = re.compile(r"[^\w]+")
_SITE_PREFIXES = ("www.", "feeds.", "feed.", "rss.")


@dataclass(frozen=True, slots=True)
class Skipped:
    """A feed left out: its URL as written, its title and why."""

    url: str
    title: str
    reason: str


@dataclass(slots=True)
class ImportPlan:
    """The sources to add (validated settings entries, in the file's order) and the skipped feeds."""

    add: list[SourceSettings] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def url_key(url: str) -> str | None:
    """What makes two feed URLs the same feed; None for a URL that is not http(s)."""
    normal = normalize_url(url)
    if normal is None:
        return None
    return normal.split("://", 1)[1].rstrip("/")


def known_urls(sources: Iterable[SourceSettings]) -> dict[str, str]:
    """The :func:`url_key` of every configured source's URL, mapped to the source's name."""
    known: dict[str, str] = {}
    for source in sources:
        key = url_key(source.url)
        if key is not None:
            known.setdefault(key, source.name)
    return known


def plan_import(
    feeds: Sequence[OpmlFeed],
    existing: Sequence[SourceSettings],
    *,
    refusal: Callable[[str], str | None] = lambda url: None,
    extra_tags: Sequence[str] = (),
) -> ImportPlan:
    """The sources to add for ``feeds`` next to the ``existing`` ones.

    Skipped: a URL that is not http(s), one the configuration already has (the message
    names that source), one listed twice, and one ``refusal`` objects to (it returns why,
    e.g. a private address the guard would block). Every added source gets the feed's
    categories as tags, then ``extra_tags``; its ``outlet`` is the outline's label (its
    ``title``, when that differs from its ``text``), else its title when the name had to be
    made from it.
    """
    plan = ImportPlan()
    known = known_urls(existing)
    taken = {source.name for source in existing}
    for feed in feeds:
        key = url_key(feed.url)
        if key is None:
            plan.skipped.append(Skipped(feed.url, feed.title, "not an http or https URL"))
            continue
        if key in known:
            plan.skipped.append(Skipped(feed.url, feed.title, f"already configured as source {known[key]!r}"))
            continue
        why = refusal(feed.url)
        if why:
            plan.skipped.append(Skipped(feed.url, feed.title, why))
            continue
        name = unique_name(name_for(feed.title, feed.url), taken)
        taken.add(name)
        known[key] = name
        tags = list(dict.fromkeys([*feed.categories, *extra_tags]))
        entry: dict[str, object] = {"name": name, "feed": feed.url.strip()}
        outlet = feed.label or feed.title
        if outlet and outlet != name:
            entry["outlet"] = outlet
        if tags:
            entry["tags"] = tags
        plan.add.append(SourceSettings.model_validate(entry))
    return plan


def name_for(title: str, url: str) -> str:
    """A source name for a feed called ``title`` at ``url`` (not yet made unique)."""
    title = " ".join(title.split())
    if _PLAIN_NAME.fullmatch(title):
        return title
    slug = slugify(title)
    return slug or site_name(url)


def site_name(url: str) -> str:
    """A name from the host of ``url``: ``https://www.example.co.uk/x`` → ``example-co-uk``."""
    try:
        host = (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        host = ""
    for prefix in _SITE_PREFIXES:
        if host.startswith(prefix):
            host = host[len(prefix) :]
            break
    return slugify(host) or "source"


def slugify(text: str) -> str:
    """Lower-case words of ``text`` joined by ``-`` (letters of any script kept; accents
    dropped from Latin letters), at most :data:`MAX_NAME` characters, cut between words."""
    folded = "".join(
        ch for ch in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(ch)
    )
    slug = _NOT_WORD.sub("-", folded).replace("_", "-").strip("-")
    if len(slug) > MAX_NAME:
        cut = slug[: MAX_NAME + 1]
        slug = cut[: cut.rindex("-")] if "-" in cut else slug[:MAX_NAME]
    return slug


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3`` ... whichever is not in ``taken``."""
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"
