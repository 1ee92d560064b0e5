"""robots.txt: fetched once per origin, cached, and consulted before polite fetches.

Interpretation follows RFC 9309 (the convention major crawlers share):

* 2xx: the file is parsed (protego); at most the first ``max_bytes`` are used.
* 4xx other than 429 ("unavailable"), or a redirect chain longer than the client allows:
  everything is allowed.
* 5xx, 429, timeouts and connection errors ("unreachable"): the site is treated as fully
  disallowed *for now*; the verdict is cached for only ``error_ttl`` (10 minutes by
  default) and a previously fetched copy, if any, keeps being used instead.
* A robots.txt URL refused by the SSRF guard propagates :class:`BlockedURL`: the page
  itself would be refused for the same reason.

Good answers are cached for ``ttl`` (24 h). Rules are matched on our product token
(``newsmonitor``), as RFC 9309 asks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from monitor import USER_AGENT
from monitor.clock import SYSTEM_CLOCK, Clock
from monitor.errors import BlockedURL, FetchError, HTTPStatusError, RobotsDisallowed, TooManyRedirects
from monitor.redact import redact_url

log = logging.getLogger(__name__)

#: fetch(robots_url, allow_networks) -> body; raises FetchError subclasses
RobotsFetcher = Callable[[str, Sequence[str]], Awaitable[bytes]]


@dataclass(slots=True)
class _Verdict:
    rules: Protego | None  # None: no usable file, see ``allow_all``
    allow_all: bool
    expires: float
    note: str = ""


def product_token(user_agent: str) -> str:
    """The product token of a User-Agent string (``"newsmonitor/0.1 (+...)"`` → ``"newsmonitor"``)."""
    return user_agent.split("/", 1)[0].split(" ", 1)[0].strip() or user_agent


def robots_url(url: str) -> str:
    """The robots.txt URL of ``url``'s origin (scheme, host and port; no userinfo)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, "/robots.txt", "", ""))


class RobotsCache:
    """Per-origin robots.txt verdicts with a TTL; one fetch per origin at a time."""

    def __init__(
        self,
        fetch: RobotsFetcher,
        *,
        user_agent: str = USER_AGENT,
        clock: Clock = SYSTEM_CLOCK,
        ttl: float = 24 * 3600.0,
        error_ttl: float = 600.0,
        max_entries: int = 10_000,
    ) -> None:
        self._fetch = fetch
        self._agent = product_token(user_agent)
        self._clock = clock
        self._ttl = ttl
        self._error_ttl = error_ttl
        self._max_entries = max_entries
        self._verdicts: dict[str, _Verdict] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def check(self, url: str, allow_networks: Sequence[str] = ()) -> None:
        """Return if robots.txt of ``url``'s origin lets us fetch ``url``.

        Raises :class:`RobotsDisallowed` when it does not (``transient`` is true when the
        verdict comes from an unreachable robots.txt), :class:`BlockedURL` when the origin
        is refused by the address policy.
        """
        verdict = await self._verdict(url, allow_networks)
        if verdict.allow_all:
            return
        if verdict.rules is None:
            err = RobotsDisallowed(
                f"robots.txt of {robots_url(url)} is unreachable ({verdict.note}); "
                f"not fetching {redact_url(url)} for now"
            )
            err.transient = True
            raise err
        if not verdict.rules.can_fetch(url, self._agent):
            raise RobotsDisallowed(f"robots.txt disallows {redact_url(url)} for {self._agent}")

    async def crawl_delay(self, url: str, allow_networks: Sequence[str] = ()) -> float | None:
        """The Crawl-delay robots.txt asks of us for ``url``'s origin, if any."""
        verdict = await self._verdict(url, allow_networks)
        if verdict.rules is None:
            return None
        delay = verdict.rules.crawl_delay(self._agent)
        return float(delay) if delay is not None else None

    def forget(self, url: str | None = None) -> None:
        """Drop the cached verdict of ``url``'s origin (all origins when ``None``)."""
        if url is None:
            self._verdicts.clear()
        else:
            self._verdicts.pop(robots_url(url), None)

    async def _verdict(self, url: str, allow_networks: Sequence[str]) -> _Verdict:
        key = robots_url(url)
        cached = self._verdicts.get(key)
        if cached is not None and cached.expires > self._clock.monotonic():
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._verdicts.get(key)
            if cached is not None and cached.expires > self._clock.monotonic():
                return cached
            verdict = await self._load(key, allow_networks, cached)
            if len(self._verdicts) >= self._max_entries:
                self._prune()
            self._verdicts[key] = verdict
        return verdict

    async def _load(self, key: str, allow_networks: Sequence[str], previous: _Verdict | None) -> _Verdict:
        now = self._clock.monotonic()
        try:
            body = await self._fetch(key, allow_networks)
        except BlockedURL:
            raise
        except TooManyRedirects:
            return _Verdict(None, True, now + self._ttl, "redirect limit")
        except HTTPStatusError as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                return _Verdict(None, True, now + self._ttl, f"HTTP {exc.status}")
            return self._unreachable(key, f"HTTP {exc.status}", previous, now)
        except FetchError as exc:
            return self._unreachable(key, exc.kind, previous, now)
        text = body.decode("utf-8", errors="replace")
        return _Verdict(Protego.parse(text), False, now + self._ttl)

    def _unreachable(self, key: str, note: str, previous: _Verdict | None, now: float) -> _Verdict:
        log.info("robots.txt %s unreachable (%s)", key, note)
        if previous is not None and (previous.rules is not None or previous.allow_all):
            return _Verdict(previous.rules, previous.allow_all, now + self._error_ttl, previous.note)
        return _Verdict(None, False, now + self._error_ttl, note)

    def _prune(self) -> None:
        now = self._clock.monotonic()
        for key in [k for k, v in self._verdicts.items() if v.expires <= now]:
            del self._verdicts[key]
        while len(self._verdicts) >= self._max_entries:
            self._verdicts.pop(next(iter(self._verdicts)))
        for key in [k for k, lock in self._locks.items() if not lock.locked() and k not in self._verdicts]:
            del self._locks[key]
