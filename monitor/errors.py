"""The one exception tree of newsmonitor.

Callers catch at the level they can handle::

    MonitorError
    ├── ConfigError          the YAML file is invalid (carries every problem found)
    ├── QueryError           a watch rule does not parse (carries the column)
    ├── FetchError           anything that went wrong getting bytes from the network
    │   ├── BlockedURL       scheme not allowed, or the address is private/loopback (SSRF guard)
    │   ├── ResponseTooLarge body (decompressed) over the cap
    │   ├── FetchTimeout     connect/read timeout or the total deadline
    │   ├── TooManyRedirects
    │   ├── HTTPStatusError  a 4xx/5xx answer (carries status and Retry-After)
    │   ├── RobotsDisallowed robots.txt forbids the URL for our User-Agent
    │   └── ConnectError     DNS failure, refused connection, TLS error
    ├── ParseError           a feed or page could not be parsed into stories
    ├── WorkerPoolError      the parser worker processes cannot be started
    ├── TopicModelError      the embedding model of topic rules cannot be loaded (extra missing)
    ├── StoreError           the database refused (e.g. another daemon holds the lock)
    └── DeliveryError        a notification could not be handed to apprise

Messages never contain secrets: URLs are shown without userinfo or query strings
that carry credentials (see :func:`monitor.redact.redact_url`).
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base class of every error newsmonitor raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class QueryError(MonitorError):
    """A watch-rule query does not parse. ``column`` is 1-based (0 when unknown)."""

    def __init__(self, message: str, column: int = 0) -> None:
        self.message = message
        self.column = column
        super().__init__(f"{message} at column {column}" if column else message)


class FetchError(MonitorError):
    """Getting a URL failed. ``kind`` is a short stable label used in logs and metrics."""

    kind = "fetch_error"
    #: whether retrying later may help (permanent errors still back off, just longer)
    transient = True


class BlockedURL(FetchError):
    """The URL's scheme is not http/https, or it resolves to a blocked address."""

    kind = "blocked_address"
    transient = False


class ResponseTooLarge(FetchError):
    kind = "too_large"


class FetchTimeout(FetchError):
    kind = "timeout"


class TooManyRedirects(FetchError):
    kind = "too_many_redirects"
    transient = False


class ConnectError(FetchError):
    kind = "connect_error"


class RobotsDisallowed(FetchError):
    kind = "robots_disallowed"
    transient = False


class HTTPStatusError(FetchError):
    """The server answered with a 4xx or 5xx status."""

    kind = "http_status"

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.transient = status in (408, 425, 429) or status >= 500


class ParseError(MonitorError):
    """A body could not be turned into stories."""

    kind = "parse_error"


class WorkerPoolError(MonitorError):
    """The parser worker processes cannot be started (the message says why and what to change).

    At start-up it stops the daemon before anything is polled; later (a replacement worker
    that cannot start) it fails the poll that needed the worker.
    """

    kind = "worker_pool"


class TopicModelError(MonitorError):
    """The embedding model of topic rules (``about:``) cannot be loaded: the ``topics`` extra
    is not installed, or the model's name is unknown (the message says which and what to do)."""


class StoreError(MonitorError):
    """The database refused an operation."""


class DeliveryError(MonitorError):
    """A notification could not be delivered."""
