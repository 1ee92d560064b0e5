"""The status server under slow and hostile clients (issue 12, items 4 and 9).

Raw sockets against a real server on 127.0.0.1, with its timeouts scaled down: trickling
heads, silent and idle connections and unfinished bodies are closed; connections over the
cap are refused at once and their slot comes back; a wrong ``Host`` gets 421 and no data on
every route; every answer (404, 405, 400, 500 included) carries the CSP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from monitor.web.server import ServerLimits, StatusServer, connection_cap
from monitor.web.view import StatusView
from tests.support.waiting import wait_for

FAST = ServerLimits(max_connections=100, header_timeout=0.5, request_timeout=0.5, idle_timeout=0.5)
#: how long a test waits for the server to act before it fails (never a measured time)
PATIENCE = 15.0
SECRET_LOOKING = "sources-of-the-status"


class Provider:
    """A status provider with one fixed view (or one that fails, for the error page);
    ``metrics_size`` pads /metrics to that many bytes."""

    def __init__(self, fail: bool = False, metrics_size: int = 0) -> None:
        self.fail = fail
        self.metrics_size = metrics_size

    async def status_view(self) -> StatusView:
        if self.fail:
            raise RuntimeError("the store is gone")
        return StatusView(
            sources=[],
            outbox={"pending": 1},
            dead_by_target={},
            rules=[SECRET_LOOKING],
            targets=[],
            config_path="/etc/newsmonitor.yaml",
            config_loaded_at=0.0,
            reload_failed_at=None,
        )

    def metrics_text(self) -> bytes:
        text = f"newsmonitor_rules{{name=\"{SECRET_LOOKING}\"}} 1\n".encode()
        return text + b"#" * max(0, self.metrics_size - len(text))


@contextlib.asynccontextmanager
async def serving(
    limits: ServerLimits = FAST,
    *,
    hosts: tuple[str, ...] = (),
    provider: Provider | None = None,
    listen: str = "127.0.0.1:0",
) -> AsyncIterator[StatusServer]:
    server = await StatusServer(provider or Provider(), listen, hosts=hosts, limits=limits).start()
    try:
        yield server
    finally:
        await server.stop()


async def until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection; fails the test if it does not."""
    chunks = []
    try:
        async with asyncio.timeout(PATIENCE):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
    except TimeoutError:
        pytest.fail(f"the server kept the connection open; it sent {b''.join(chunks)[:200]!r}")
    except ConnectionResetError:
        pass
    return b"".join(chunks)


async def test_a_trickling_request_head_is_closed_after_the_header_timeout() -> None:
    async with serving() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n")

        async def trickle() -> None:
            with contextlib.suppress(OSError):
                while True:  # one header line every 0.1 s: bytes keep coming, the head never ends
                    await asyncio.sleep(0.1)
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()

        trickling = asyncio.create_task(trickle())
        answer = await until_closed(reader)
        trickling.cancel()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert b"Content-Security-Policy: default-src 'none'" in answer
        assert await wait_for(lambda: server.open_connections == 0)


async def test_a_silent_connection_is_closed() -> None:
    async with serving() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert (await until_closed(reader)).startswith(b"HTTP/1.1 408 ")
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed_after_an_answer() -> None:
    async with serving() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = await until_closed(reader)  # one answer, then nothing: the idle timeout closes it
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.count(b"HTTP/1.1") == 1
        assert b"408" not in answer  # an idle close is silent


@pytest.mark.parametrize("connection", ["keep-alive", "close"])
async def test_a_client_that_does_not_read_its_answer_is_cut_off(connection: str) -> None:
    # far more than the socket buffers hold: the rest waits in the server's write buffer
    async with serving(provider=Provider(metrics_size=64 * 2**20)) as server:
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: {connection}\r\n\r\n".encode())
        assert await wait_for(lambda: server.open_connections == 1)
        # nothing is read, ever: the idle deadline (the answer is written in that phase) frees the slot
        assert await wait_for(lambda: server.open_connections == 0, PATIENCE)
        writer.close()


async def test_a_keep_alive_connection_serves_several_requests() -> None:
    limits = ServerLimits(header_timeout=PATIENCE, idle_timeout=PATIENCE)
    async with serving(limits) as server, aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.get(f"http://127.0.0.1:{server.port}/api/status") as resp:
                assert resp.status == 200
        assert server.open_connections == 1  # the same connection each time


async def test_an_unfinished_body_is_not_waited_for() -> None:
    async with serving(ServerLimits(header_timeout=PATIENCE, request_timeout=PATIENCE, idle_timeout=PATIENCE)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nabc")
        answer = await until_closed(reader)  # long before any of the (long) timeouts
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")


async def test_connections_over_the_cap_are_refused_at_once_and_slots_come_back() -> None:
    limits = ServerLimits(max_connections=3, header_timeout=PATIENCE, idle_timeout=PATIENCE)
    async with serving(limits) as server:
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        assert await wait_for(lambda: server.open_connections == 3)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        refused = await until_closed(reader)  # the held ones are not closed: their timeouts are long
        writer.close()
        assert refused.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert server.refused == 1
        for _, w in held:
            w.close()
        assert await wait_for(lambda: server.open_connections == 0)
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{server.port}/") as resp:
            assert resp.status == 200


def test_the_cap_leaves_three_quarters_of_the_descriptors_to_the_daemon() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert connection_cap(5) == 5
    assert connection_cap(10**9) == soft // 4


@pytest.mark.parametrize("path", ["/", "/api/status", "/metrics", "/no-such-page"])
@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "localhost.evil.example:{port}"]
)
async def test_a_foreign_host_name_gets_421_and_no_data(path: str, host: str) -> None:
    async with serving() as server, aiohttp.ClientSession() as http:
        headers = {"Host": host.format(port=server.port)}
        async with http.get(f"http://127.0.0.1:{server.port}{path}", headers=headers) as resp:
            body = await resp.text()
            assert resp.status == 421
            assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert SECRET_LOOKING not in body and "pending" not in body


async def test_a_request_without_host_gets_421() -> None:
    async with serving() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /api/status HTTP/1.0\r\n\r\n")
        answer = await until_closed(reader)
        writer.close()
    assert answer.split(b"\r\n")[0].endswith(b" 421 Misdirected Request") and SECRET_LOOKING.encode() not in answer


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "127.0.0.1", "localhost:{port}", "LOCALHOST.", "status.test", "status.test:443"]
)
async def test_known_host_names_are_answered(host: str) -> None:
    async with serving(hosts=("status.test",)) as server, aiohttp.ClientSession() as http:
        headers = {"Host": host.format(port=server.port)}
        async with http.get(f"http://127.0.0.1:{server.port}/api/status", headers=headers) as resp:
            assert resp.status == 200
            assert (await resp.json())["rules"] == [SECRET_LOOKING]


async def test_on_every_address_the_connections_own_address_is_a_known_host() -> None:
    async with serving(listen="0.0.0.0:0") as server, aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{server.port}/api/status") as resp:
            assert resp.status == 200
        async with http.get(f"http://127.0.0.1:{server.port}/", headers={"Host": "evil.example"}) as resp:
            assert resp.status == 421


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no-such-page", 404), ("POST", "/", 405), ("DELETE", "/api/status", 405)],
)
async def test_http_errors_carry_the_security_headers(method: str, path: str, status: int) -> None:
    async with (
        serving() as server,
        aiohttp.ClientSession() as http,
        http.request(method, f"http://127.0.0.1:{server.port}{path}") as resp,
    ):
        assert resp.status == status
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_an_error_in_a_page_is_a_500_with_the_security_headers_and_no_traceback() -> None:
    async with (
        serving(provider=Provider(fail=True)) as server,
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{server.port}/", headers={"Accept": "text/html"}) as resp,
    ):
        body = await resp.text()
        assert resp.status == 500
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert "store is gone" not in body and "Traceback" not in body


async def test_a_request_aiohttp_cannot_parse_gets_400_with_the_security_headers() -> None:
    async with serving() as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"<script>alert(1)</script> / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = await until_closed(reader)
        writer.close()
    assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request")
    assert b"Content-Security-Policy: default-src 'none'" in answer
