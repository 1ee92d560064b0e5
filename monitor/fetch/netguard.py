"""SSRF address policy: which IP addresses the HTTP client may connect to.

By default every address that is not plainly public unicast is refused: loopback, private
(RFC 1918), link-local, multicast, CGNAT, documentation/benchmark/reserved ranges, the
unspecified address, unique-local and site-local IPv6, and the IPv6 forms that embed a
blocked IPv4 address (IPv4-mapped, NAT64, 6to4). ``allow_networks`` entries punch holes
for exactly the listed addresses or networks, optionally for one port only.

Enforcement lives in three places so no path is left unchecked (see :mod:`monitor.fetch.client`):

* :func:`literal_address` + :meth:`AddressPolicy.check` before a request to an IP-literal
  host (aiohttp never calls the resolver for literals);
* :class:`GuardedResolver` validates every DNS answer and hands aiohttp only the checked
  addresses, so the connection goes to exactly what was checked (no DNS rebinding);
* :class:`GuardedConnector` checks the peer of every connection, new or pooled, before a
  request is written on it (a kept-alive connection opened under a wider per-request
  allow list is never reused for a narrower one).

The policy in force is carried by a context variable set by the client around each hop.
"""

from __future__ import annotations

import contextvars
import ipaddress
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from monitor.errors import BlockedURL, ConnectError

if TYPE_CHECKING:
    from aiohttp.client_reqrep import ClientRequest
    from aiohttp.tracing import Trace

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Checked in order; the first hit names the reason shown to the user.
_BLOCKED_V4: tuple[tuple[IPNetwork, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("100.64.0.0/10"), "shared address space (CGNAT)"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("192.88.99.0/24"), "reserved (6to4 relay)"),
    (_V4("240.0.0.0/4"), "reserved"),
)
_BLOCKED_V6: tuple[tuple[IPNetwork, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("64:ff9b:1::/48"), "NAT64 local-use"),
    (_V6("::/8"), "reserved (IPv4-compatible)"),
    (_V6("100::/64"), "discard-only"),
    (_V6("2001::/32"), "Teredo tunnel"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("2001:10::/28"), "reserved (ORCHID)"),
    (_V6("2001:20::/28"), "reserved (ORCHIDv2)"),
    (_V6("fc00::/7"), "unique-local"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local"),
    (_V6("ff00::/8"), "multicast"),
)
_MAPPED = _V6("::ffff:0:0/96")
_NAT64 = _V6("64:ff9b::/96")
_SIXTOFOUR = _V6("2002::/16")
_GLOBAL_UNICAST = _V6("2000::/3")

_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is refused by default (e.g. ``"loopback"``), or ``None`` when it is public.

    IPv6 forms that embed an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
    ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the embedded address.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(ip.packed)  # drop any %zone
        embedded: ipaddress.IPv4Address | None = None
        form = ""
        if ip in _MAPPED:
            embedded, form = ipaddress.IPv4Address(ip.packed[12:]), "IPv4-mapped"
        elif ip in _NAT64:
            embedded, form = ipaddress.IPv4Address(ip.packed[12:]), "NAT64"
        elif ip in _SIXTOFOUR:
            embedded, form = ipaddress.IPv4Address(ip.packed[2:6]), "6to4"
        if embedded is not None:
            inner = blocked_reason(embedded)
            return f"{form} {inner}" if inner else None
        for net, reason in _BLOCKED_V6:
            if ip in net:
                return reason
        return None if ip in _GLOBAL_UNICAST else "reserved"
    for net, reason in _BLOCKED_V4:
        if ip in net:
            return reason
    return None if ip.is_global else "reserved"


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One ``allow_networks`` entry: a network and, optionally, the only port it allows."""

    network: IPNetwork
    port: int | None = None

    def permits(self, ip: IPAddress, port: int) -> bool:
        """Whether this entry allows connecting to ``ip`` on ``port``."""
        if self.port is not None and self.port != port:
            return False
        if ip.version != self.network.version:
            return False
        if isinstance(ip, ipaddress.IPv6Address):
            ip = ipaddress.IPv6Address(ip.packed)
        return ip in self.network

    def __str__(self) -> str:
        net = str(self.network)
        if self.network.num_addresses == 1:
            net = str(self.network.network_address)
        if self.port is None:
            return net
        return f"[{net}]:{self.port}" if self.network.version == 6 else f"{net}:{self.port}"


def _parse_port(text: str, entry: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"allow_networks entry {entry!r}: port {text!r} is not a number from 1 to 65535")
    return int(text)


def _parse_network(text: str, entry: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            suggestion = ipaddress.ip_network(text, strict=False)
            raise ValueError(
                f"allow_networks entry {entry!r}: {text} has host bits set; did you mean {suggestion}?"
            ) from None
        raise ValueError(
            f"allow_networks entry {entry!r} is not an IP address or CIDR network "
            "(expected e.g. 127.0.0.1, 10.0.0.0/8, 127.0.0.1:8080 or [::1]:8080; host names are not accepted)"
        ) from exc


def parse_allow_networks(entries: Iterable[str]) -> list[AllowEntry]:
    """Parse ``allow_networks`` entries into :class:`AllowEntry` values.

    Accepted forms: ``127.0.0.1``, ``10.0.0.0/8``, ``::1``, ``fd00::/8``, with an optional
    port that limits the entry to that port: ``127.0.0.1:8080``, ``10.0.0.0/8:8080``,
    ``[::1]:8080``, ``[fd00::/8]:8080``. Host names are refused (an allow list is about
    addresses; a name can change what it points to).

    Raises ``ValueError`` naming the bad entry and what is allowed.
    """
    result: list[AllowEntry] = []
    for raw in entries:
        if not isinstance(raw, str):
            raise ValueError(f"allow_networks entry {raw!r} must be a string")
        entry = raw.strip()
        if not entry:
            raise ValueError("allow_networks entry is empty")
        port: int | None = None
        text = entry
        if entry.startswith("["):
            close = entry.find("]")
            if close < 0:
                raise ValueError(f"allow_networks entry {raw!r}: missing ']'")
            text, rest = entry[1:close], entry[close + 1 :]
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"allow_networks entry {raw!r}: expected ':PORT' after ']'")
                port = _parse_port(rest[1:], raw)
        elif entry.count(":") == 1:
            text, port_text = entry.split(":")
            port = _parse_port(port_text, raw)
        result.append(AllowEntry(_parse_network(text, raw), port))
    return result


def literal_address(host: str) -> IPAddress | None:
    """The IP address an IP-literal host denotes, including legacy IPv4 spellings.

    ``"127.0.0.1"``, ``"[::1]"``, ``"2130706433"``, ``"0x7f.1"``, ``"0177.0.0.1"`` and
    ``"127.1"`` all yield an address; a host name yields ``None``.
    """
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    stripped = text[:-1] if text.endswith(".") else text
    if stripped and _NUMERIC_HOST.fullmatch(stripped) and stripped[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(stripped))
        except OSError:
            return None
    return None


def is_canonical_literal(host: str, ip: IPAddress) -> bool:
    """Whether ``host`` spells ``ip`` in its standard form (dotted quad, or bracketed IPv6)."""
    text = host.strip("[]")
    return ip.version == 6 or text == str(ip)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """The addresses one request may connect to: public ones, plus ``allow``."""

    allow: tuple[AllowEntry, ...] = ()

    def extended(self, extra: Sequence[AllowEntry]) -> AddressPolicy:
        """This policy with ``extra`` entries added (client-wide and per-request are additive)."""
        return AddressPolicy(self.allow + tuple(extra)) if extra else self

    def check(self, ip: IPAddress, port: int, host: str) -> None:
        """Return if ``ip:port`` may be contacted for ``host``; raise :class:`BlockedURL` if not."""
        reason = blocked_reason(ip)
        if reason is None or any(entry.permits(ip, port) for entry in self.allow):
            return
        if isinstance(ip, ipaddress.IPv6Address):
            ip = ipaddress.IPv6Address(ip.packed)
        shown = f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"
        partial = [e for e in self.allow if e.port is not None and e.permits(ip, e.port)]
        hint = "add it to allow_networks to permit"
        if partial:
            hint = f"allow_networks permits it only as {', '.join(map(str, partial))}; add {shown} to permit"
        raise BlockedURL(f"blocked address {ip} for host {host} ({reason}); {hint}")


#: The policy of the hop being fetched; the client sets it, the resolver and connector read it.
_STRICTEST = AddressPolicy()  # frozen, so safe to share as a default
current_policy: contextvars.ContextVar[AddressPolicy] = contextvars.ContextVar(
    "newsmonitor_address_policy", default=_STRICTEST
)
# Set while aiohttp connects to an explicitly configured proxy (the proxy resolves the target).
_via_proxy: contextvars.ContextVar[bool] = contextvars.ContextVar("newsmonitor_via_proxy", default=False)


def _result_address(result: ResolveResult) -> IPAddress:
    return ipaddress.ip_address(str(result["host"]).split("%", 1)[0])


class GuardedResolver(AbstractResolver):
    """Resolves once, refuses the name if ANY answer is blocked, returns only checked answers."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve ``host`` with the wrapped resolver and validate every answer.

        Raises :class:`BlockedURL` if any answer is blocked by the current policy,
        :class:`ConnectError` if there is no answer or an answer is not an IP address.
        """
        answers = await self._inner.resolve(host, port, family)
        if _via_proxy.get():
            return answers
        if not answers:
            raise ConnectError(f"DNS lookup for host {host} returned no addresses")
        policy = current_policy.get()
        checked: list[ResolveResult] = []
        for answer in answers:
            try:
                ip = _result_address(answer)
            except ValueError:
                raise ConnectError(f"DNS lookup for host {host} returned a non-address answer") from None
            policy.check(ip, port, host.rstrip("."))
            checked.append(answer)
        return checked

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._inner.close()


def peer_address(conn: aiohttp.connector.Connection) -> IPAddress | None:
    """The IP address a connection is connected to, or ``None`` when unknown."""
    transport = conn.transport
    if transport is None:
        return None
    peer: Any = transport.get_extra_info("peername")
    if not peer:
        return None
    try:
        return ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    except ValueError:
        return None


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector that re-checks the peer of every connection it hands out."""

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> aiohttp.connector.Connection:
        """Get a connection for ``req`` and refuse it if its peer is blocked by the current policy."""
        if req.proxy is not None:
            token = _via_proxy.set(True)
            try:
                return await super().connect(req, traces, timeout)
            finally:
                _via_proxy.reset(token)
        conn = await super().connect(req, traces, timeout)
        ip = peer_address(conn)
        host = (req.url.raw_host or "").rstrip(".")
        try:
            if ip is None:
                raise ConnectError(f"could not determine the address connected to for host {host}")
            current_policy.get().check(ip, req.port or 0, host)
        except BaseException:  # cancellation included: a refused peer's connection must not be reused
            conn.close()
            raise
        return conn


def allow_entries_for(url: str) -> list[str]:
    """The ``allow_networks`` entries that admit exactly the host and port of ``url``: its IP
    literal, or both loopback addresses for ``localhost`` (and ``*.localhost``); none for any
    other host name (it is only resolved when polled) or a URL that does not parse."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        return []
    if host == "localhost" or host.endswith(".localhost"):
        return [f"127.0.0.1:{port}", f"[::1]:{port}"]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return []
    return [f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"]
