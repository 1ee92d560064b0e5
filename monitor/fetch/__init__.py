"""The fetch stage: the one HTTP client every outbound request goes through.

Public face: :class:`HttpClient` and its :class:`Response` (``client``). Its parts stay
private to this package: ``body`` (streamed, decoded, size-capped bodies), ``netguard``
(the private-address guard), ``politeness`` (per-host limits and spacing) and ``robots``
(robots.txt). Errors are the :class:`monitor.errors.FetchError` subtree.
"""

from monitor.fetch.client import (
    HttpClient,
    Response,
    address_refusal,
    parse_allow_networks,
    parse_retry_after,
)
from monitor.fetch.netguard import allow_entries_for

__all__ = [
    "HttpClient",
    "Response",
    "address_refusal",
    "allow_entries_for",
    "parse_allow_networks",
    "parse_retry_after",
]
