"""Handing one message to one destination through apprise (the only module that imports apprise).

A destination is one apprise URL. Each send builds an apprise object for exactly that URL,
so success or failure belongs to exactly one outbox row. apprise's answer is mapped to an
:class:`Outcome`:

===================  ==========  ===============================================
apprise says         Outcome     what the outbox does
===================  ==========  ===============================================
SUCCESS              SENT        mark the row sent
TIMEOUT              UNKNOWN     maybe delivered: retry with the same key
FAILURE / PARTIAL    RETRY       back off and retry; poison after N attempts
NOMATCH / bad URL    DEAD        configuration problem: dead at once, health notice
exception            RETRY       logged once, retried
===================  ==========  ===============================================

The idempotency key travels with every message: in the body footer (the renderer adds
it), and as an ``X-Newsmonitor-Key`` header for webhook and email services that accept
custom headers (apprise's ``+Header=value`` URL parameters). apprise's email plugin
always generates its own ``Message-ID``, so email receivers deduplicate on the header.
"""

from __future__ import annotations

import contextvars
import enum
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import apprise

log = logging.getLogger(__name__)

# apprise services whose URL accepts +Header=value for custom HTTP/SMTP headers
_HEADER_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos"}


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"
    UNKNOWN = "unknown"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class SendResult:
    """How one send went: its :class:`Outcome`, a detail for logs and the outbox, and
    ``status`` (the HTTP status the service answered, when apprise's log names it).
    ``attempted`` is False when the message never went to apprise (it could not be rendered),
    so the outbox does not count a try."""

    outcome: Outcome
    detail: str = ""
    status: int | None = None
    attempted: bool = True

    @property
    def message_rejected(self) -> bool:
        """The service refused this message (not the destination as a whole): poison candidate."""
        return self.status in _MESSAGE_REJECTED


#: the URL or its credentials are wrong: retrying cannot help until the user fixes the config
_PERMANENT = {401: "authentication failed", 403: "forbidden", 404: "not found", 410: "gone"}
#: the service rejected this particular message
_MESSAGE_REJECTED = {400, 413, 422}
_STATUS = re.compile(r"error=(\d{3})\b")


#: set while a URL is only read (checked, or masked for display), in this thread of work
_reading_url: contextvars.ContextVar[bool] = contextvars.ContextVar("newsmonitor_reading_url", default=False)


class _QuietWhileReading(logging.Filter):
    # apprise logs its own error for a URL it cannot parse, raw (secrets included); where we
    # only read a URL, the caller reports the problem once, in its own words
    def filter(self, record: logging.LogRecord) -> bool:
        return not _reading_url.get()


logging.getLogger("apprise").addFilter(_QuietWhileReading())


@contextmanager
def _quiet_apprise() -> Iterator[None]:
    token = _reading_url.set(True)
    try:
        yield
    finally:
        _reading_url.reset(token)


def _instantiate(url: str) -> apprise.NotifyBase | None:
    """apprise's plugin for ``url``, or None when apprise cannot use it; apprise logs nothing."""
    with _quiet_apprise():
        try:
            return apprise.Apprise.instantiate(url, asset=_asset(), suppress_exceptions=True)
        except Exception:  # a plugin's URL parser can raise anything on odd input: the URL is unusable
            return None


def _asset() -> apprise.AppriseAsset:
    # our own retry loop owns retries; no persistent storage in the user's home
    return apprise.AppriseAsset(async_mode=False, storage_mode="memory")


def check_apprise_url(url: str) -> str | None:
    """Why ``url`` is not a usable apprise URL, or None. Never echoes secrets."""
    if not isinstance(url, str) or "://" not in url:
        return "not an apprise URL (expected scheme://..., e.g. json://host/path or mailto://user:pass@host)"
    scheme = url.split("://", 1)[0].lower()
    if _instantiate(url) is None:
        return (
            f"apprise cannot use this URL (scheme '{scheme}'): unknown service or missing/invalid parts; "
            "see https://github.com/caronc/apprise/wiki for the URL format of each service"
        )
    return None


#: apprise's generic webhooks: their path is the endpoint's own, shown whole in apprise's
#: privacy form even when it carries the token (json://host/hooks/<token>)
_WEBHOOK_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls"}


def privacy_url(url: str) -> str:
    """The URL with its secrets masked, for logs, the CLI and the UI: apprise's privacy form
    (each service masks its own credentials: a Discord or Slack webhook token, a password),
    a generic webhook's token-like path segments and passed-on headers masked too
    (:func:`~monitor.redact.mask_webhook_url`), then every registered secret
    (:func:`~monitor.redact.redact_text`)."""
    from monitor.redact import mask_webhook_url, redact_text

    plugin = _instantiate(url)
    if plugin is None:  # masking falls back to hiding everything after the scheme
        try:
            return urlsplit(url).scheme + "://***"
        except ValueError:
            return "***"
    shown = str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]
    if shown.split("://", 1)[0].lower() in _WEBHOOK_SCHEMES:
        shown = mask_webhook_url(shown)
    return redact_text(shown)


def _with_key(url: str, key: str) -> str:
    scheme = url.split("://", 1)[0].lower()
    if scheme not in _HEADER_SCHEMES or not key:
        return url
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}+X-Newsmonitor-Key={key}"


def send(url: str, *, title: str, body: str, body_format: str, key: str, timeout: float) -> SendResult:
    """Send one message to one apprise URL and map the answer to an :class:`Outcome`.

    Blocking: the caller runs it in a thread. Never raises.
    """
    fmt = {
        "text": apprise.NotifyFormat.TEXT,
        "markdown": apprise.NotifyFormat.MARKDOWN,
        "html": apprise.NotifyFormat.HTML,
    }.get(body_format, apprise.NotifyFormat.TEXT)
    obj = apprise.Apprise(asset=_asset())
    try:
        if not obj.add(_with_key(url, key)):
            return SendResult(Outcome.DEAD, "apprise refused the URL")
        result = obj.notify(body=body, title=title, body_format=fmt, timeout=timeout)
    except Exception as exc:  # apprise plugins can raise on odd input; never let it escape
        return SendResult(Outcome.RETRY, f"{type(exc).__name__}: {exc}")
    status = getattr(result, "status", None)
    if status is None:  # apprise 1.x: plain bool
        return SendResult(
            Outcome.SENT if result else Outcome.RETRY, "" if result else "apprise reported failure"
        )
    name = getattr(status, "name", str(status))
    if name == "SUCCESS":
        return SendResult(Outcome.SENT)
    if name == "TIMEOUT":
        return SendResult(Outcome.UNKNOWN, "no answer before the deadline; outcome unknown")
    if name == "NOMATCH":
        return SendResult(Outcome.DEAD, "apprise matched no service for this URL")
    detail = _failure_detail(result)
    found = _STATUS.search(detail)
    status = int(found.group(1)) if found else None
    if status in _PERMANENT:
        return SendResult(
            Outcome.DEAD,
            f"HTTP {status} ({_PERMANENT[status]}): fix the notifier's URL, then `newsmonitor outbox retry --all-dead`",
            status,
        )
    return SendResult(Outcome.RETRY, detail, status)


def _failure_detail(result: object) -> str:
    try:
        logs = result.logs()  # type: ignore[attr-defined]
        messages = [str(getattr(entry, "message", entry)) for entry in logs]
        errors = [m for m in messages if m][-2:]
        from monitor.redact import redact_text

        return redact_text("; ".join(errors))[:300] or "apprise reported failure"
    except Exception:  # apprise's log capture is not a stable API: the reason is a courtesy
        return "apprise reported failure"
