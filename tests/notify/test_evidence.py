"""Whether a send that failed with an exception may have reached the service: one line per case.

The exceptions are the real ones, raised by requests against a local port and by smtplib on
a connection that drops at a given step."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest
import requests

from monitor.notify.evidence import may_have_arrived
from tests.support.servers import free_port


class DroppedSocket:
    """An SMTP connection that drops at the first write."""

    def sendall(self, data: bytes) -> None:
        raise ConnectionResetError(104, "Connection reset by peer")

    def close(self) -> None:
        pass


def smtp_dropping_in(step: Callable[[smtplib.SMTP], object]) -> BaseException:
    client = smtplib.SMTP()
    client.sock = DroppedSocket()  # type: ignore[assignment]
    try:
        step(client)
    except Exception as exc:
        return exc
    raise AssertionError("the step did not fail")


def refused() -> BaseException:
    try:
        requests.post(f"http://127.0.0.1:{free_port()}/", data="x", timeout=1)
    except requests.RequestException as exc:
        return exc
    raise AssertionError("nothing listens there")


@pytest.mark.parametrize(
    ("case", "error", "arrived"),
    [
        ("connection refused", refused, False),
        ("e-mail: dropped while handing over the message (DATA)", lambda: smtp_dropping_in(lambda c: c.data(b"x")), True),
        ("e-mail: dropped at MAIL FROM", lambda: smtp_dropping_in(lambda c: c.mail("a@example.com")), False),
        ("a bare socket timeout outside any send step", lambda: TimeoutError("timed out"), False),
        ("a ValueError", lambda: ValueError("odd input"), False),
    ],
)
def test_may_have_arrived(case: str, error: Callable[[], BaseException], arrived: bool) -> None:
    assert may_have_arrived(error()) is arrived, case
