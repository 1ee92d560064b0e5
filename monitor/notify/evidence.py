"""What one send left behind besides apprise's yes or no: the errors its plugin caught, the HTTP answers.

apprise reports a failed send as a plain FAILURE, whether the service refused the message
(it answered 4xx/5xx: nothing arrived) or the request went out and no answer came (a read
timeout, a connection closed after the request was written: it may have arrived). Retrying
the first is right; retrying the second blindly sends copies. Two real traces tell them apart:

* **The exception the plugin caught.** Plugins catch their transport's errors and log a
  warning *inside* the ``except`` block (``requests.RequestException`` for HTTP, ``OSError``
  and ``smtplib.SMTPException`` for e-mail). apprise hands every log record of a send to the
  ``log_callback`` of :meth:`apprise.Apprise.notify`, synchronously, in the thread that logs
  it, so :meth:`Evidence.on_log` sees that exception in :func:`sys.exc_info`. This needs the
  ``apprise`` logger enabled for WARNING, which :func:`monitor.redact.install_logging` keeps.
* **The HTTP answers.** apprise gives no access to a response's headers, and a 429's
  ``Retry-After`` lives there. Every requests-based plugin's answer passes through
  ``requests.adapters.HTTPAdapter.send``; :func:`install_answer_hook` wraps it once so that
  an answer is recorded in the :class:`Evidence` of the send in progress (a ContextVar set
  for one send only; apprise copies the caller's context into its worker threads). Outside
  a send the wrapper only passes the answer on.

:func:`may_have_arrived` reads an exception: a read timeout or a connection dropped after
the request was written means the outcome is unknown; a refused or timed-out connect, a
failed name lookup or TLS handshake means nothing was sent.
"""

from __future__ import annotations

import contextvars
import smtplib
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests
import requests.adapters
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer a plugin got: its status and its ``Retry-After`` header (raw), if any."""

    status: int
    retry_after: str | None = None


@dataclass(slots=True)
class Evidence:
    """What one send left behind: the errors its plugin caught (in order) and its HTTP answers."""

    errors: list[BaseException] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    def on_log(self, _entry: object, _service: object) -> None:
        """apprise's ``log_callback``: keep the exception being handled while the plugin logs, if any."""
        error = sys.exc_info()[1]
        if error is not None and not any(e is error for e in self.errors):
            self.errors.append(error)

    def refusal(self) -> Answer | None:
        """The last error answer (status 400 or more) the service gave, or None."""
        return next((a for a in reversed(self.answers) if a.status >= 400), None)

    def unknown_cause(self) -> BaseException | None:
        """The first caught error after which the message may have arrived, or None."""
        return next((e for e in self.errors if may_have_arrived(e)), None)


_current: contextvars.ContextVar[Evidence | None] = contextvars.ContextVar("newsmonitor_evidence", default=None)
_installing = threading.Lock()


@contextmanager
def recording() -> Iterator[Evidence]:
    """Record the HTTP answers of the send made inside the ``with`` block (this context only)."""
    install_answer_hook()
    evidence = Evidence()
    token = _current.set(evidence)
    try:
        yield evidence
    finally:
        _current.reset(token)


def install_answer_hook() -> None:
    """Wrap ``HTTPAdapter.send`` (once per process) so that answers reach the send's :class:`Evidence`."""
    with _installing:  # sends run in several threads at once; wrap once
        _install_answer_hook()


def _install_answer_hook() -> None:
    adapter: Any = requests.adapters.HTTPAdapter
    original = adapter.send
    if getattr(original, "_newsmonitor_answers", False):
        return

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = original(self, request, *args, **kwargs)
        evidence = _current.get()
        if evidence is not None:
            status = getattr(response, "status_code", None)
            if isinstance(status, int):
                evidence.answers.append(Answer(status, response.headers.get("Retry-After")))
        return response

    send._newsmonitor_answers = True  # type: ignore[attr-defined]
    adapter.send = send


def _causes(error: BaseException) -> Iterator[object]:
    """``error``, what its first argument wraps (requests and urllib3 wrap the real error
    there), and its ``__cause__``/``__context__`` chain, each once."""
    seen: list[object] = []
    todo: list[object] = [error]
    while todo:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        yield item
        if isinstance(item, MaxRetryError):
            todo.append(item.reason)
        if isinstance(item, BaseException):
            if item.args and isinstance(item.args[0], BaseException):
                todo.append(item.args[0])
            todo.extend((item.__cause__, item.__context__))


#: nothing was sent: the connection was never made
_NOT_SENT = (NewConnectionError, ConnectTimeoutError, NameResolutionError, requests.exceptions.ConnectTimeout)
#: the request was written, then no answer came: it may have arrived
_MAYBE_SENT = (ReadTimeoutError, ProtocolError, requests.exceptions.ReadTimeout)
#: an SMTP session that failed here had handed over the message and was waiting for the verdict
_SMTP_AFTER_MESSAGE = "data"


def may_have_arrived(error: BaseException) -> bool:
    """Whether the send that failed with ``error`` may have reached the service (outcome unknown).

    HTTP: a read timeout, or the connection closed or reset after the request was written.
    Not: a refused or timed-out connect, a failed name lookup, a TLS error (all before the
    request). E-mail: a timeout or dropped connection inside ``DATA`` (the message was handed
    over, the server's verdict did not come). Anything else: nothing arrived.
    """
    causes = list(_causes(error))
    if any(isinstance(c, _NOT_SENT) for c in causes):
        return False
    if any(isinstance(c, _MAYBE_SENT) for c in causes):
        return True
    if isinstance(error, OSError):  # smtplib's errors are OSErrors too
        return _failed_in_smtp(error, _SMTP_AFTER_MESSAGE)
    return False


def _failed_in_smtp(error: BaseException, function: str) -> bool:
    """Whether ``error`` was raised inside smtplib's ``function`` (read from its traceback)."""
    tb = error.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == function and code.co_filename == smtplib.__file__:
            return True
        tb = tb.tb_next
    return False
