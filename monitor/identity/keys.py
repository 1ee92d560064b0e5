"""Story identity: the keys under which a story counts as seen, and outbox idempotency keys.

A story's keys, in order of preference:

* ``url:<normalised link>`` (tracking parameters and fragment removed), and later the
  canonical URL found in the article, under the same prefix;
* ``guid:<source>:<guid>`` (GUIDs are only unique within one feed);
* ``title:<hash of source and normalised title>`` when there is neither link nor GUID.

A story is seen when ANY of its keys was seen. So an updated story whose GUID, title or
date changes but whose link does not is not alerted again (by design: newsmonitor alerts
on new stories, not on edits).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from monitor.extract.urls import normalize_url


def _digest(*parts: str, length: int = 24) -> str:
    h = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return h[:length]


def normalise_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return re.sub(r"\W+", " ", text).strip()


def url_key(url: str | None) -> str | None:
    """``url://host/path?query`` (scheme and trailing slash dropped) or None when unusable.

    The same article reached over http and https, or with and without a trailing slash,
    is one story.
    """
    if not url:
        return None
    normalised = normalize_url(url)
    if not normalised:
        return None
    rest = normalised.split(":", 1)[1]
    head, sep, query = rest.partition("?")
    if head.count("/") > 3:
        head = head.rstrip("/")
    return f"url:{head}{sep}{query}"


def story_keys(source: str, link: str | None, guid: str | None, title: str) -> list[str]:
    """Every identity key of a story listed by ``source`` (see module docstring)."""
    keys: list[str] = []
    key = url_key(link)
    if key:
        keys.append(key)
    if guid and guid.strip():
        keys.append(f"guid:{_digest(source, guid.strip())}")
    if not keys:
        keys.append(f"title:{_digest(source, normalise_title(title))}")
    return keys


def idempotency_key(rule: str, subject: str, destination: str) -> str:
    """A stable key for (rule, story-or-cluster, destination), and nothing else."""
    return "nm-" + _digest(rule, subject, destination, length=20)


def destination_id(url: str) -> str:
    """A stable id of one apprise URL that reveals nothing of its secrets."""
    return _digest("dest", url, length=16)


def source_url_hash(url: str) -> str:
    return _digest("source", url, length=16)
