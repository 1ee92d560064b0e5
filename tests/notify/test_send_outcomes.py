"""What one send through apprise says happened, against real local servers: sent, refused
(retry or dead), or unknown (the request went out and no answer came: it may have arrived)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from monitor.demo.receiver import Receiver
from monitor.notify.deliver import Outcome, SendResult, send
from tests.support.servers import free_port, raw_server

Talk = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def send_to(url: str, timeout: float = 1.0) -> SendResult:
    return await asyncio.to_thread(
        send, url, title="t", body="b", body_format="text", key="nm-key", timeout=timeout
    )


async def read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    await reader.readexactly(length)


async def close_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.close()  # took the whole request, never answered


async def reset_after_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.transport.abort()  # RST


@pytest.mark.parametrize(
    ("case", "talk"),
    [("closed after the request", close_after_request), ("reset after the request", reset_after_request)],
)
async def test_a_connection_dropped_after_the_request_is_an_unknown_outcome(case: str, talk: Talk) -> None:
    async with raw_server(talk) as port:
        result = await send_to(f"json://127.0.0.1:{port}/hook")
    assert result.outcome is Outcome.UNKNOWN, (case, result)
    assert "ProtocolError" in result.detail or "ConnectionError" in result.detail


async def test_no_answer_within_the_timeout_is_an_unknown_outcome(receiver: Receiver) -> None:
    receiver.respond_after = 5
    result = await send_to(receiver.url, timeout=0.5)
    assert result.outcome is Outcome.UNKNOWN
    assert "ReadTimeout" in result.detail  # our timeout fired in the plugin's socket, not apprise's deadline
    assert len(receiver.messages) == 1


async def test_a_refused_connection_sent_nothing_and_is_retried() -> None:
    result = await send_to(f"json://127.0.0.1:{free_port()}/hook")
    assert result.outcome is Outcome.RETRY


async def test_an_answer_after_apprises_own_read_timeout_but_within_ours_is_sent(receiver: Receiver) -> None:
    receiver.respond_after = 4.5  # apprise's default socket read timeout is 4 s
    result = await send_to(receiver.url, timeout=8)
    assert result.outcome is Outcome.SENT
    assert len(receiver.messages) == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_a_throttled_answer_carries_its_retry_after(receiver: Receiver, status: int) -> None:
    receiver.fail_with, receiver.retry_after = status, "300"
    result = await send_to(receiver.url)
    assert (result.outcome, result.status, result.retry_after) == (Outcome.RETRY, status, "300")


async def test_a_refusal_is_no_unknown_outcome_and_keeps_no_retry_after(receiver: Receiver) -> None:
    receiver.fail_with, receiver.retry_after = 500, "300"
    result = await send_to(receiver.url)
    assert (result.outcome, result.status, result.retry_after) == (Outcome.RETRY, 500, None)
    receiver.fail_with = 401
    result = await send_to(receiver.url)
    assert (result.outcome, result.status) == (Outcome.DEAD, 401)
