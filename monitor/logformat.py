"""How a log line is written: plain text for a terminal, or one JSON object per line for a
log collector (``--log-format json``).

A JSON line holds ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, an
``exception`` or ``stack`` when the record has one, and the ``key=value`` words of our
structured messages (``poll source=x status=ok listed=3 ...``) as fields of their own
(numbers as numbers), so a collector can filter on ``source`` or ``status`` without
parsing the message. The reserved names above always win over a field of the same name.

Secrets: the record reaching the formatter has been through
:class:`monitor.redact.RedactingFilter`; every string the JSON formatter writes is
masked again here, because it also writes parts (a stack) that the filter leaves alone.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from enum import StrEnum

from monitor.redact import redact_text

TEXT_LINE = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: ``key=value`` words of a structured message: a value is a quoted repr or runs to the next space
_FIELD = re.compile(r"(?<!\S)([a-z][a-z0-9_]*)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")
_INTEGER = re.compile(r"-?\d{1,18}")
_RESERVED = frozenset({"time", "level", "logger", "message", "exception", "stack"})


class LogFormat(StrEnum):
    """What ``--log-format`` accepts."""

    TEXT = "text"
    JSON = "json"


_current = LogFormat.TEXT


def set_log_format(value: LogFormat | str) -> None:
    """Make every handler installed from now on (``install_logging``) write ``value``.

    Raises ValueError for a name that is not a :class:`LogFormat`.
    """
    global _current
    _current = LogFormat(value)


def log_format() -> LogFormat:
    """The format handlers are installed with (text unless :func:`set_log_format` said otherwise)."""
    return _current


def formatter_for(value: LogFormat | None = None) -> logging.Formatter:
    """A formatter writing ``value`` (default: the current :func:`log_format`)."""
    chosen = log_format() if value is None else value
    return JsonFormatter() if chosen is LogFormat.JSON else logging.Formatter(TEXT_LINE)


def message_fields(message: str) -> dict[str, object]:
    """The ``key=value`` words of ``message``: quoted values unquoted, whole numbers as int."""
    fields: dict[str, object] = {}
    for key, raw in _FIELD.findall(message):
        value: object = raw
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            value = raw[1:-1]
        elif _INTEGER.fullmatch(raw):
            value = int(raw)
        fields.setdefault(key, value)
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module docstring for its keys)."""

    def format(self, record: logging.LogRecord) -> str:
        message = redact_text(record.getMessage())
        line: dict[str, object] = {
            key: value for key, value in message_fields(message).items() if key not in _RESERVED
        }
        line.update(
            time=datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            level=record.levelname,
            logger=record.name,
            message=message,
        )
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = redact_text(record.exc_text)
        if record.stack_info:
            line["stack"] = redact_text(self.formatStack(record.stack_info))
        # ensure_ascii: a line is plain ASCII whatever the story titles hold, and never
        # split by a stray line separator
        return json.dumps(line, ensure_ascii=True, default=str)
