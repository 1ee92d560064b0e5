"""The shared test plugin checks itself: the SSRF oracle counts."""

from __future__ import annotations

import asyncio
import socket

from tests.support.servers import Canary


async def test_canary_counts_connections(canary: Canary) -> None:
    """The SSRF oracle itself works: a real connection is counted."""
    _, writer = await asyncio.open_connection("127.0.0.1", canary.port)
    writer.close()
    await asyncio.sleep(0.05)
    assert canary.accepts == 1


def test_canary_counts_connections_from_synchronous_code(canary: Canary) -> None:
    """No event loop needed: a parser fetching a DTD synchronously is caught too."""
    with socket.create_connection(("127.0.0.1", canary.port), timeout=2):
        pass
    assert canary.accepts == 1
