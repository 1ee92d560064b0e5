"""Keeping secrets out of logs, errors and the web UI.

Two layers:

* :func:`redact_url` shows a URL without userinfo and with credential-like query
  values masked; use it whenever a URL goes into a message.
* :class:`RedactingFilter` is installed on the root logger's handlers before anything
  else logs. It replaces every known secret value (registered by the config loader for
  each ``${VAR}`` / ``${file:...}`` expansion) and credential-shaped substrings with
  ``***``. A failure inside the filter never drops the record and never emits it
  unredacted.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_SECRET_QUERY_KEYS = re.compile(
    r"(token|key|secret|pass(word)?|pwd|sig(nature)?|auth|api[-_]?key|access[-_]?token|session|code)",
    re.IGNORECASE,
)
#: a secret this long is masked wherever it appears; a shorter one (masking "ab" everywhere
#: would shred every message) only where it is a whole part of a URL
_ANYWHERE = 4

_lock = threading.Lock()
_secrets: set[str] = set()
#: what :func:`redact_text` masks anywhere (each secret and its percent-encoded form), longest first
_anywhere: list[str] = []
#: the short secrets (and their percent-encoded forms), masked as whole parts of URLs only
_in_urls: frozenset[str] = frozenset()

#: a URL inside a text, and one part of it: userinfo, host, path segment, query key or value
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s<>\"'`]+", re.IGNORECASE)
_URL_PART = re.compile(r"[^/:@?&=#;]+")

# credential shapes worth masking even when we never saw the value
_PATTERNS = [
    re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.IGNORECASE),  # scheme://user:pass@
    re.compile(r"(?P<keep>\bBearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE),
    re.compile(r"(?P<keep>\b\d{6,12}:)AA[A-Za-z0-9_-]{30,}"),  # telegram bot token
    re.compile(
        r"(?P<keep>[?&](?:token|key|secret|password|passwd|pwd|sig|signature|api_key|apikey|access_token)=)[^&\s#]+",
        re.IGNORECASE,
    ),
]


def register_secret(value: str) -> None:
    """Remember ``value`` so that it is masked wherever it would be logged or shown.

    Any length: a value of 4 characters or more is masked wherever it appears, a shorter
    one where it is a whole part of a URL (``user:ab@``, ``/ab/``, ``?k=ab``), so that
    masking ``ab`` does not shred the rest of the text. Its percent-encoded form (how it
    sits in a URL) is masked alike.
    """
    global _anywhere, _in_urls
    if not value:
        return
    with _lock:
        _secrets.add(value)
        forms = {form for secret in _secrets for form in (secret, quote(secret, safe=""))}
        _anywhere = sorted((f for f in forms if len(f) >= _ANYWHERE), key=len, reverse=True)
        _in_urls = frozenset(f for f in forms if len(f) < _ANYWHERE)


def known_secrets() -> frozenset[str]:
    """Every registered secret (for tests and the canary sweep)."""
    with _lock:
        return frozenset(_secrets)


def redact_text(text: str) -> str:
    """Mask every registered secret (see :func:`register_secret`) and credential-shaped substring in ``text``."""
    with _lock:
        anywhere, in_urls = _anywhere, _in_urls
    for value in anywhere:
        if value in text:
            text = text.replace(value, "***")
    if in_urls and "://" in text:
        text = _URL.sub(lambda m: _mask_url_parts(m.group(0), in_urls), text)
    for pattern in _PATTERNS:
        text = pattern.sub(
            lambda m: m.group("keep") + "***" + ("@" if m.group(0).endswith("@") else ""), text
        )
    return text


def _mask_url_parts(url: str, secrets: frozenset[str]) -> str:
    scheme, sep, rest = url.partition("://")

    def part(m: re.Match[str]) -> str:
        found = m.group(0)
        return "***" if found in secrets or unquote(found) in secrets else found

    return scheme + sep + _URL_PART.sub(part, rest)


#: a part of a webhook's path that looks like a token: 6 characters or more with a digit, or 16 or more
_TOKENISH = re.compile(r"(?=.*\d).{6,}|.{16,}")
#: query parameters of apprise's generic webhooks that it sends on: +Header=value, -param=value
_PASSED_ON = ("+", "-", "%2B", "%2b")


def mask_webhook_url(url: str) -> str:
    """``url`` (a generic webhook's: ``json://host/hooks/<token>``) with every path segment
    that looks like a token and the values of the ``+Header=`` and ``-param=`` parameters
    apprise sends on masked, as ``***``. Never raises: an unparsable URL is masked as a
    whole except its scheme."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split(":", 1)[0] + "://***"
    path = "/".join("***" if _TOKENISH.fullmatch(segment) else segment for segment in parts.path.split("/"))
    params = []
    for param in parts.query.split("&") if parts.query else []:
        name, eq, _ = param.partition("=")
        params.append(f"{name}=***" if eq and name.startswith(_PASSED_ON) else param)
    return urlunsplit((parts.scheme, parts.netloc, path, "&".join(params), parts.fragment))


def redact_url(url: str) -> str:
    """``url`` without userinfo, with credential-like query values replaced by ``***``.

    Never raises: an unparsable URL is masked as a whole except its scheme.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        query = urlencode(
            [
                (k, "***" if _SECRET_QUERY_KEYS.search(k) else v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
            ],
            safe="*",
        )
        return redact_text(urlunsplit((parts.scheme, host, parts.path, query, "")))
    except ValueError:
        return url.split(":", 1)[0] + "://***"


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the fully formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                formatter = logging.Formatter()
                record.exc_text = redact_text(formatter.formatException(record.exc_info))
                record.exc_info = None
            record.msg = redact_text(message)
            record.args = None
        except Exception:  # the filter must never let a record through unredacted
            record.msg = "[redaction-error]"
            record.args = None
            record.exc_info = None
        return True


def install_logging(level: int = logging.INFO, stream: object = None) -> None:
    """Configure the root logger with one stderr handler that redacts secrets, writing
    the format chosen with :func:`monitor.logformat.set_log_format` (text by default)."""
    import sys

    from monitor.logformat import formatter_for  # it imports this module

    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_newsmonitor", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler._newsmonitor = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    handler.setFormatter(formatter_for())
    root.addHandler(handler)
    root.setLevel(level)
    # apprise logs full URLs at DEBUG; keep it at WARNING unless asked
    logging.getLogger("apprise").setLevel(max(level, logging.WARNING))
    # one line per job run is noise next to our own one line per poll
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
