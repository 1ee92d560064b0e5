"""The one HTTP client: every outbound fetch of newsmonitor goes through :class:`HttpClient`.

What it guarantees, per :meth:`HttpClient.get`:

* only http/https; every redirect hop re-validated; at most ``max_redirects`` hops;
* the SSRF address policy of :mod:`monitor.fetch.netguard` on IP literals, on every DNS answer
  and on every connection's peer (so pooled connections and DNS rebinding cannot bypass it);
* connect and read timeouts plus one total deadline covering DNS, connect, headers and the
  whole body over all hops (a server dripping one byte a second still ends in FetchTimeout);
  waiting for a politeness slot does not count against it;
* the body capped on *decoded* bytes while streaming (gzip, deflate, brotli, stacked
  encodings), aborting as soon as it is over the cap;
* credentials (URL userinfo → Basic auth, per-request headers, cookies) only ever sent to
  the origin they belong to; no Referer; URLs in errors and logs are redacted;
* per-host in-flight limit and minimum spacing between request starts, a global limit,
  and robots.txt (``check_robots=True``, see :mod:`monitor.fetch.robots`).

Errors are :class:`monitor.errors.FetchError` subclasses; ``kind`` on the instance names
the precise reason (e.g. ``dns_error``, ``truncated_body``, ``bad_encoding``).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from types import TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from monitor import USER_AGENT
from monitor.clock import SYSTEM_CLOCK, Clock
from monitor.errors import (
    BlockedURL,
    ConnectError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    TooManyRedirects,
)
from monitor.fetch.body import fetch_error, read_body
from monitor.fetch.netguard import (
    AddressPolicy,
    AllowEntry,
    GuardedConnector,
    GuardedResolver,
    current_policy,
    is_canonical_literal,
    literal_address,
    parse_allow_networks,
)
from monitor.fetch.politeness import HostGates, SharedHosts
from monitor.fetch.robots import RobotsCache
from monitor.redact import redact_text, redact_url

__all__ = ["HttpClient", "Response", "address_refusal", "parse_allow_networks", "parse_retry_after"]

log = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 512 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Response:
    """A completed fetch. ``body`` is decoded (decompressed), at most ``max_bytes``, b"" on 304."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    etag: str | None
    last_modified: str | None
    not_modified: bool
    elapsed: float
    content_type: str | None
    charset: str | None
    #: the final URL when every redirect on the way was permanent (301/308): the resource's
    #: new address, to use from now on
    moved_to: str | None = None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), or None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


# --------------------------------------------------------------------------- the client


def _origin(url: URL) -> tuple[str, str, int | None]:
    return (url.scheme, (url.host or "").rstrip(".").lower(), url.port)


def _host_key(url: URL) -> str:
    return (url.host or "").rstrip(".").lower()


def _parse_target(url: str) -> URL:
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise fetch_error(
            f"invalid URL {redact_url(url)!r}: contains whitespace or control characters",
            "invalid_url",
            transient=False,
        )
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https"):
        raise BlockedURL(f"only http and https URLs are fetched, not {scheme or 'scheme-less'} URLs")
    try:
        target = URL(url)
    except (ValueError, TypeError):
        raise fetch_error(f"invalid URL {redact_url(url)!r}", "invalid_url", transient=False) from None
    if not target.host or "\\" in url.split("?", 1)[0]:
        raise fetch_error(f"invalid URL {redact_url(url)!r}: no host", "invalid_url", transient=False)
    return target


def _check_literal(target: URL, policy: AddressPolicy) -> None:
    host = target.raw_host or ""
    if _is_localhost(host):
        # RFC 6761: these always mean loopback, whatever DNS (or its absence) says
        policy.check(ipaddress.IPv4Address("127.0.0.1"), target.port or 0, host)
        return
    ip = literal_address(host)
    if ip is None:
        return
    policy.check(ip, target.port or 0, host)
    if not is_canonical_literal(host, ip):
        raise BlockedURL(f"non-canonical IP address literal {host!r} (means {ip}) refused; write {ip}")


def _is_localhost(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


def _check_local_answers(target: URL, policy: AddressPolicy) -> None:
    """What :class:`GuardedResolver` would find for a ``localhost`` name: the system
    resolver's answers, asked as aiohttp's default resolver asks, each checked."""
    host = target.raw_host or ""
    try:
        answers = socket.getaddrinfo(host, target.port, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG)
    except (OSError, UnicodeError):
        return  # no answer: the literal check has said what can be said offline
    for *_, sockaddr in answers:
        policy.check(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]), target.port or 0, host)


def address_refusal(url: str, allow_networks: Sequence[str] = ()) -> str | None:
    """Why :meth:`HttpClient.get` would refuse ``url`` for its address, without going online; or None.

    ``allow_networks`` are all the entries that apply to the request (the client's and the
    request's). The checks are the client's own: the address guard on a host that is an IP
    literal (in any spelling; non-canonical spellings are refused outright) or a
    ``localhost`` name, whose answers from the system resolver (local, no network) are
    checked as the client's resolver checks them. Other host names are not resolved, so
    they give None; so do URLs the client would reject for another reason and malformed
    ``allow_networks`` entries (their own checks report those). Never raises.
    """
    try:
        target = _parse_target(url)
        policy = AddressPolicy(tuple(parse_allow_networks(allow_networks)))
    except (FetchError, ValueError):
        return None
    try:
        _check_literal(target, policy)
        if _is_localhost(target.raw_host or ""):
            _check_local_answers(target, policy)
    except BlockedURL as exc:
        return str(exc)
    return None


class HttpClient:
    """The one guarded, polite HTTP client. Use as ``async with HttpClient(...) as http``.

    ``allow_networks`` (IPs/CIDRs, optionally ``:port``) opens the SSRF guard client-wide;
    ``get(allow_networks=...)`` adds more for one request. ``resolver`` replaces the DNS
    resolver *inside* the guard (tests use a stub). ``trust_env=True`` or ``proxy`` hands
    address checks for the target to the proxy, and says so in a warning.
    """

    def __init__(
        self,
        *,
        user_agent: str = USER_AGENT,
        max_bytes: int = 10 * 2**20,
        connect_timeout: float = 10,
        read_timeout: float = 30,
        total_timeout: float = 60,
        max_redirects: int = 5,
        allow_networks: Sequence[str] = (),
        per_host_limit: int = 2,
        host_min_delay: float = 0.0,
        global_limit: int = 64,
        trust_env: bool = False,
        resolver: AbstractResolver | None = None,
        clock: Clock = SYSTEM_CLOCK,
        proxy: str | None = None,
        ca_file: str | None = None,
        shared_hosts: SharedHosts | None = None,
    ) -> None:
        self._user_agent = user_agent
        #: certificates are verified against the system's CAs, plus ``ca_file``'s if given
        #: (a company's own CA for intranet feeds or a TLS-inspecting proxy)
        self._ssl: ssl.SSLContext | bool = True
        if ca_file:
            context = ssl.create_default_context()
            context.load_verify_locations(cafile=ca_file)
            self._ssl = context
        self._max_bytes = max_bytes
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._total = total_timeout
        self._max_redirects = max_redirects
        self._policy = AddressPolicy(tuple(parse_allow_networks(allow_networks)))
        self._global = asyncio.Semaphore(max(1, global_limit))
        self._global_limit = max(1, global_limit)
        self._trust_env = trust_env
        self._proxy = proxy
        self._inner_resolver = resolver
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        # shared_hosts: the per-host limits hold for every instance sharing it (the daemon's database)
        self._gates = HostGates(per_host=per_host_limit, min_delay=host_min_delay, clock=clock, shared=shared_hosts)
        self._extra: dict[tuple[str, ...], tuple[AllowEntry, ...]] = {}
        self.robots = RobotsCache(self._fetch_robots, user_agent=user_agent, clock=clock)
        if trust_env or proxy:
            log.warning(
                "HTTP proxy %s: the proxy connects to targets, so blocking private and loopback "
                "addresses (SSRF protection) is then the proxy's job",
                "from the environment allowed" if trust_env else "configured",
            )

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session and its connections; the client can be used again afterwards."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def set_host_policy(
        self, host: str, *, in_flight: int | None = None, min_delay: float | None = None
    ) -> None:
        """Override for one host name the in-flight limit and/or the minimum delay between request starts."""
        self._gates.set_policy(host, in_flight=in_flight, min_delay=min_delay)

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
        allow_networks: Sequence[str] = (),
        max_bytes: int | None = None,
        total_timeout: float | None = None,
        check_robots: bool = False,
        method: str = "GET",
    ) -> Response:
        """Fetch ``url`` following redirects; return the final :class:`Response`.

        ``etag``/``last_modified`` make it a conditional GET (304 → ``not_modified=True``,
        empty body, validators kept). ``headers`` and URL userinfo go to the first origin
        only. Raises :class:`BlockedURL`, :class:`ResponseTooLarge`, :class:`FetchTimeout`,
        :class:`TooManyRedirects`, :class:`HTTPStatusError` (4xx/5xx),
        :class:`RobotsDisallowed`, :class:`ConnectError` or :class:`FetchError`; raises
        ``ValueError`` if an ``allow_networks`` entry is malformed.
        """
        return await self._fetch(
            url,
            etag=etag,
            last_modified=last_modified,
            headers=headers,
            allow_networks=allow_networks,
            max_bytes=self._max_bytes if max_bytes is None else max_bytes,
            budget=self._total if total_timeout is None else total_timeout,
            check_robots=check_robots,
            method=method.upper(),
            truncate=False,
        )

    # ------------------------------------------------------------------ internals

    def _session_for_loop(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = GuardedConnector(
                resolver=GuardedResolver(self._inner_resolver),
                use_dns_cache=False,  # every request is resolved and checked under its own policy
                limit=self._global_limit,
                limit_per_host=0,
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=False,  # we decode ourselves, counting decoded bytes
                trust_env=self._trust_env,
                cookie_jar=aiohttp.DummyCookieJar(),  # no cookies shared between fetches
                proxy=self._proxy,
            )
        return self._session

    def _policy_for(self, allow_networks: Sequence[str]) -> AddressPolicy:
        if not allow_networks:
            return self._policy
        key = tuple(allow_networks)
        extra = self._extra.get(key)
        if extra is None:
            extra = tuple(parse_allow_networks(key))
            if len(self._extra) > 1000:
                self._extra.clear()
            self._extra[key] = extra
        return self._policy.extended(extra)

    async def _fetch_robots(self, url: str, allow_networks: Sequence[str]) -> bytes:
        response = await self._fetch(
            url,
            etag=None,
            last_modified=None,
            headers=None,
            allow_networks=allow_networks,
            max_bytes=ROBOTS_MAX_BYTES,
            budget=min(self._total, 30.0),
            check_robots=False,
            method="GET",
            truncate=True,
        )
        return response.body

    def _headers(
        self,
        extra: Mapping[str, str] | None,
        etag: str | None,
        last_modified: str | None,
        cookies: dict[str, str],
    ) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict(
            {"User-Agent": self._user_agent, "Accept": "*/*", "Accept-Encoding": "gzip, deflate, br"}
        )
        if extra:
            for key, value in extra.items():
                headers[key] = value
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if cookies:
            carried = "; ".join(f"{k}={v}" for k, v in cookies.items())
            headers["Cookie"] = f"{headers['Cookie']}; {carried}" if "Cookie" in headers else carried
        return headers

    async def _fetch(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        headers: Mapping[str, str] | None,
        allow_networks: Sequence[str],
        max_bytes: int,
        budget: float,
        check_robots: bool,
        method: str,
        truncate: bool,
    ) -> Response:
        started = self._clock.monotonic()
        policy = self._policy_for(allow_networks)
        target = _parse_target(url)
        first_origin = _origin(target)
        basic = None
        if target.user is not None or target.password is not None:
            pair = f"{target.user or ''}:{target.password or ''}".encode()
            basic = "Basic " + base64.b64encode(pair).decode("ascii")
            target = target.with_user(None)
        cookies: dict[tuple[str, str, int | None], dict[str, str]] = {}
        seen = {str(target)}
        looped = False
        redirected, permanent = False, True
        spent = 0.0
        for _hop in range(self._max_redirects + 1):
            _check_literal(target, policy)
            crawl_delay = None
            if check_robots:
                await self.robots.check(str(target), allow_networks)
                crawl_delay = await self.robots.crawl_delay(str(target), allow_networks)
            origin = _origin(target)
            same = origin == first_origin
            hop_headers = self._headers(
                headers if same else None, etag, last_modified, cookies.get(origin, {})
            )
            if basic and same and "Authorization" not in hop_headers:
                hop_headers["Authorization"] = basic
            async with self._gates.slot(_host_key(target), crawl_delay), self._global:
                hop_start = asyncio.get_running_loop().time()
                try:
                    result = await self._hop(
                        target,
                        method=method,
                        headers=hop_headers,
                        policy=policy,
                        max_bytes=max_bytes,
                        remaining=budget - spent,
                        truncate=truncate,
                    )
                finally:
                    spent += asyncio.get_running_loop().time() - hop_start
            if isinstance(result, Response):
                elapsed = self._clock.monotonic() - started
                moved_to = str(target) if redirected and permanent else None
                if result.not_modified:
                    # a 304 may omit the validators; the caller must not lose the ones it sent
                    return replace(
                        result,
                        etag=result.etag or etag,
                        elapsed=elapsed,
                        last_modified=result.last_modified or last_modified,
                        moved_to=moved_to,
                    )
                return replace(result, elapsed=elapsed, moved_to=moved_to)
            location, set_cookies, code = result
            redirected = True
            permanent = permanent and code in (301, 308)
            if set_cookies:
                cookies.setdefault(origin, {}).update(set_cookies)
            target = self._next_hop(target, location)
            looped = looped or str(target) in seen
            seen.add(str(target))
        loop_note = " (redirect loop)" if looped else ""
        raise TooManyRedirects(f"{redact_url(url)}: more than {self._max_redirects} redirects{loop_note}")

    def _next_hop(self, current: URL, location: str) -> URL:
        shown = redact_url(str(current))
        try:
            nxt = current.join(URL(location.strip()))
        except (ValueError, TypeError):
            raise fetch_error(
                f"{shown}: redirect to an invalid URL", "invalid_url", transient=False
            ) from None
        if nxt.scheme not in ("http", "https"):
            raise BlockedURL(f"{shown}: redirect to a {nxt.scheme or 'scheme-less'} URL refused")
        if current.scheme == "https" and nxt.scheme == "http":
            raise BlockedURL(f"{shown}: redirect from https to http refused ({redact_url(str(nxt))})")
        if not nxt.host:
            raise fetch_error(f"{shown}: redirect to a URL without host", "invalid_url", transient=False)
        # credentials in a Location header are the redirecting server's, never ours to send
        return nxt.with_user(None).with_fragment(None)

    async def _hop(
        self,
        target: URL,
        *,
        method: str,
        headers: CIMultiDict[str],
        policy: AddressPolicy,
        max_bytes: int,
        remaining: float,
        truncate: bool,
    ) -> Response | tuple[str, dict[str, str], int]:
        shown = redact_url(str(target))
        if remaining <= 0:
            raise FetchTimeout(f"{shown}: fetch deadline used up by earlier redirects")
        session = self._session_for_loop()
        token = current_policy.set(policy)
        deadline = asyncio.timeout(remaining)
        try:
            async with (
                deadline,
                session.request(method, target, headers=headers, allow_redirects=False) as resp,
            ):
                try:
                    return await self._answer(
                        resp, target, method=method, max_bytes=max_bytes, truncate=truncate, shown=shown
                    )
                except BaseException:  # cancellation included: never leave a half-read connection pooled
                    resp.close()
                    raise
        except FetchError:
            raise
        except TimeoutError as exc:
            if deadline.expired():
                message = f"{shown}: no complete answer within the {remaining:g} s deadline"
                raise FetchTimeout(message) from None
            what = "connect" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "read"
            raise FetchTimeout(f"{shown}: {what} timeout") from None
        except aiohttp.ClientError as exc:
            raise _translate(exc, target, shown) from None
        except OSError as exc:
            raise fetch_error(
                f"{shown}: {redact_text(exc.strerror or type(exc).__name__)}",
                "connect_error",
                cls=ConnectError,
            ) from None
        finally:
            current_policy.reset(token)

    async def _answer(
        self,
        resp: aiohttp.ClientResponse,
        target: URL,
        *,
        method: str,
        max_bytes: int,
        truncate: bool,
        shown: str,
    ) -> Response | tuple[str, dict[str, str], int]:
        status = resp.status
        log.debug("%s %s -> %d", method, shown, status)
        if status in _REDIRECTS:
            location = resp.headers.get("Location")
            if not location:
                message = f"{shown}: HTTP {status} redirect without Location"
                raise fetch_error(message, "bad_response", transient=False)
            return location, {name: morsel.value for name, morsel in resp.cookies.items()}, status
        if status == 304:
            body = b""
        elif status >= 400:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"), self._clock.now())
            raise HTTPStatusError(f"HTTP {status} from {shown}", status, retry_after)
        elif 300 <= status < 400:
            raise fetch_error(f"{shown}: unexpected HTTP {status}", "bad_response", transient=False)
        elif method == "HEAD":
            body = b""
        else:
            body = await read_body(resp, max_bytes, shown, truncate)
        has_type = "Content-Type" in resp.headers
        return Response(
            url=str(target),
            status=status,
            headers=CIMultiDictProxy(CIMultiDict(resp.headers)),
            body=body,
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
            not_modified=status == 304,
            elapsed=0.0,
            content_type=resp.content_type if has_type else None,
            charset=resp.charset.lower() if has_type and resp.charset else None,
        )


def _translate(exc: aiohttp.ClientError, target: URL, shown: str) -> FetchError:
    host = f"{target.host}:{target.port}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        message = f"{shown}: DNS lookup failed for host {target.host}"
        return fetch_error(message, "dns_error", cls=ConnectError)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return fetch_error(f"{shown}: TLS certificate of {host} not valid", "tls_error", cls=ConnectError)
    if isinstance(exc, aiohttp.ClientSSLError):
        return fetch_error(f"{shown}: TLS handshake with {host} failed", "tls_error", cls=ConnectError)
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = redact_text(exc.strerror or "connection failed")
        return fetch_error(f"{shown}: cannot connect to {host}: {reason}", "connect_error", cls=ConnectError)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return fetch_error(
            f"{shown}: server closed the connection without a complete answer",
            "disconnected",
            cls=ConnectError,
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return fetch_error(f"{shown}: body cut short or malformed (truncated)", "truncated_body")
    if isinstance(exc, aiohttp.ClientOSError):
        reason = redact_text(exc.strerror or "connection error")
        message = f"{shown}: connection to {host} failed: {reason}"
        return fetch_error(message, "connection_reset", cls=ConnectError)
    if isinstance(exc, aiohttp.InvalidURL):
        return fetch_error(f"{shown}: invalid URL", "invalid_url", transient=False)
    if isinstance(exc, aiohttp.ClientResponseError):
        return fetch_error(f"{shown}: malformed HTTP response", "bad_response")
    return fetch_error(f"{shown}: {type(exc).__name__}", "fetch_error")
