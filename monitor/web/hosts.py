"""Which ``Host`` names the status server answers to (a guard against DNS rebinding).

A page on ``http://evil.example:8321/`` whose name the attacker re-points at 127.0.0.1 is,
to the browser, the same origin as its own script: it could read ``/api/status``. The
browser still says ``Host: evil.example:8321``, so the server answers only to names it
knows: the listen address, the localhost names when it listens on loopback (or on every
address), the address the connection came in on, and the names in ``web.hosts``. None of
these can be an attacker's: an IP literal cannot be re-pointed, and browsers resolve
``localhost`` to loopback themselves.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

#: the names a browser on this machine uses for a loopback listener
LOCALHOST_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def host_name(value: str) -> str:
    """The name part of a ``Host`` header or listen host: no port, no brackets, no final dot,
    lower case (``"[::1]:8321"`` → ``"::1"``, ``"Status.Example.:80"`` → ``"status.example"``)."""
    value = value.strip()
    if value.startswith("["):
        name = value[1:].partition("]")[0]
    else:
        name, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or ":" in name:
            name = value  # no port (or an unbracketed IPv6 literal)
    return name.rstrip(".").lower()


def _is_loopback_or_any(name: str) -> bool:
    if name in ("", "localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@dataclass(frozen=True, slots=True)
class AllowedHosts:
    """The ``Host`` names the server answers to; see the module docstring."""

    names: frozenset[str]

    @classmethod
    def for_listener(cls, listen_host: str, extra: Iterable[str] = ()) -> AllowedHosts:
        """The names allowed for a server listening on ``listen_host``, plus ``extra``
        (``web.hosts``: names or IP addresses, with or without a port)."""
        listen = host_name(listen_host)
        names = {listen, *(host_name(name) for name in extra)}
        if _is_loopback_or_any(listen):
            names |= LOCALHOST_NAMES
        names.discard("")
        return cls(frozenset(names))

    def allows(self, host_header: str | None, local_address: str | None) -> bool:
        """Whether a request with ``Host: host_header`` that came in on ``local_address``
        (the server's own address of the connection) may be answered. No Host: no."""
        if not host_header:
            return False
        name = host_name(host_header)
        return name in self.names or (local_address is not None and name == host_name(local_address))
