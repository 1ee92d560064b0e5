"""Story identity: the keys under which a story counts as seen, and outbox idempotency keys.

A story's keys, in order of preference:

* ``url:<normalised link>`` (tracking parameters and fragment removed), and later the
  canonical URL found in the article, under the same prefix;
* ``guid:<source>:<guid>`` (GUIDs are only unique within one feed);
* ``title:<hash of source and normalised title>`` when there is neither link nor GUID;
* ``pathtitle:<hash of source, link without its query, and normalised title>`` when there is
  no GUID and the link's query carries a token (``?sid=9f3k2m7q1x8c``): such a link may be
  written afresh for every visitor, and until the parameter is learned
  (:mod:`monitor.identity.volatile`) the title on the same page names the story. This key
  names it only for :data:`PATH_TITLE_WINDOW` after it was last listed (:func:`windowed`).

A story is seen when ANY of its keys was seen. So an updated story whose GUID, title or
date changes but whose link does not is not alerted again (by design: newsmonitor alerts
on new stories, not on edits).

Keys found after a story was recorded (another source's GUID, a canonical URL, a new
GUID each poll) are its aliases, at most :data:`MAX_ALIASES` of them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection, Sequence
from urllib.parse import urlsplit

from monitor.extract.urls import normalize_url

#: keys found after a story was recorded that a story keeps (the least recently listed go)
MAX_ALIASES = 16
#: how long after a story was last listed its ``pathtitle:`` key still names it (seconds)
PATH_TITLE_WINDOW = 48 * 3600.0
_WINDOWED = ("pathtitle:",)
# a query value that looks made up per visitor: 12 or more letters, digits, "-" or "_", both letters and digits
_TOKEN = re.compile(r"(?=[^=&]*[A-Za-z])(?=[^=&]*[0-9])[A-Za-z0-9_-]{12,}")


def _digest(*parts: str, length: int = 24) -> str:
    h = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return h[:length]


def normalise_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return re.sub(r"\W+", " ", text).strip()


def looks_made_up(value: str) -> bool:
    """Whether a query parameter's ``value`` looks made up for one visitor or one visit (a
    session id, a token): 12 or more letters, digits, "-" or "_", with letters and digits."""
    return _TOKEN.fullmatch(value) is not None


def query_without(query: str, names: Collection[str]) -> str:
    """``query`` (``a=1&b=2``) without the parameters ``names``, the others as written."""
    if not names:
        return query
    return "&".join(p for p in query.split("&") if p and p.partition("=")[0] not in names)


def url_key(url: str | None, volatile: Collection[str] = ()) -> str | None:
    """``url://host/path?query`` (scheme and trailing slash dropped) or None when unusable.

    The same article reached over http and https, or with and without a trailing slash,
    is one story; so is a link whose ``volatile`` query parameters changed.
    """
    if not url:
        return None
    normalised = normalize_url(url)
    if not normalised:
        return None
    rest = normalised.split(":", 1)[1]
    head, _, query = rest.partition("?")
    if head.count("/") > 3:
        head = head.rstrip("/")
    query = query_without(query, volatile)
    return f"url:{head}?{query}" if query else f"url:{head}"


def _path_title_key(source: str, link: str | None, title: str) -> str | None:
    if not link:
        return None
    parts = urlsplit(link)
    name = normalise_title(title)
    if not name or not any(looks_made_up(p.partition("=")[2]) for p in parts.query.split("&")):
        return None
    return f"pathtitle:{_digest(source, parts.netloc.lower() + parts.path.rstrip('/'), name)}"


def story_keys(
    source: str, link: str | None, guid: str | None, title: str, volatile: Collection[str] = ()
) -> list[str]:
    """Every identity key of a story listed by ``source`` (see module docstring); the query
    parameters ``volatile`` (learned for the source) are left out of its link's key."""
    keys: list[str] = []
    key = url_key(link, volatile)
    if key:
        keys.append(key)
    if guid and guid.strip():
        keys.append(f"guid:{_digest(source, guid.strip())}")
    elif key:
        extra = _path_title_key(source, link, title)
        if extra:
            keys.append(extra)
    if not keys:
        keys.append(f"title:{_digest(source, normalise_title(title))}")
    return keys


def windowed(keys: Sequence[str]) -> list[str]:
    """The keys among ``keys`` that name a story only for :data:`PATH_TITLE_WINDOW` after it
    was last listed (the store's ``find_seen`` takes them as ``windowed``)."""
    return [k for k in keys if k.startswith(_WINDOWED)]


def idempotency_key(rule: str, subject: str, destination: str) -> str:
    """A stable key for (rule, story-or-cluster, destination), and nothing else."""
    return "nm-" + _digest(rule, subject, destination, length=20)


def destination_id(url: str) -> str:
    """A stable id of one apprise URL that reveals nothing of its secrets."""
    return _digest("dest", url, length=16)


def source_url_hash(url: str) -> str:
    return _digest("source", url, length=16)
