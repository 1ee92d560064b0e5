"""HttpClient against real local servers: conditional GET, encodings, bombs, timeouts, redirects, status.

Covers RELIABILITY.md §8 H-2, H-3, N-1/N-2/N-3/N-4 at the client level. Loopback is blocked
by default, so every test allow-lists exactly the site's ``127.0.0.1:PORT``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import time
import zlib
from datetime import UTC, datetime

import brotli
import pytest
from aiohttp import web

from monitor import USER_AGENT
from monitor.clock import FakeClock
from monitor.errors import (
    BlockedURL,
    ConnectError,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    TooManyRedirects,
)
from monitor.fetch.client import HttpClient, parse_retry_after
from tests.support.paths import need_corpus
from tests.support.servers import Site, raw_server

MiB = 2**20


async def test_plain_get_reports_body_type_and_validators(site: Site) -> None:
    site.static(
        "/feed",
        b"<rss/>",
        headers={
            "Content-Type": "application/rss+xml; charset=ISO-8859-1",
            "ETag": '"v1"',
            "Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT",
        },
    )
    async with HttpClient(allow_networks=site.allow) as http:
        r = await http.get(site.base + "/feed")
    assert (r.status, r.body, r.not_modified) == (200, b"<rss/>", False)
    assert r.url == site.base + "/feed"
    assert (r.content_type, r.charset) == ("application/rss+xml", "iso-8859-1")
    assert (r.etag, r.last_modified) == ('"v1"', "Tue, 01 Dec 2026 10:00:00 GMT")
    assert r.headers["content-type"].startswith("application/rss+xml")
    sent = site.seen[0].headers
    assert sent["User-Agent"] == USER_AGENT
    assert sent["Accept-Encoding"] == "gzip, deflate, br"
    assert "Referer" not in sent


async def test_missing_content_type_is_none() -> None:
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
        await writer.drain()
        writer.close()

    async with raw_server(on_connect) as port, HttpClient(allow_networks=[f"127.0.0.1:{port}"]) as http:
        r = await http.get(f"http://127.0.0.1:{port}/bare")
    assert r.body == b"x" and r.content_type is None and r.charset is None


async def test_conditional_get_304_keeps_validators(site: Site) -> None:
    async def feed(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304)  # deliberately without ETag
        return web.Response(
            body=b"<rss/>", headers={"ETag": '"v1"', "Last-Modified": "Tue, 01 Dec 2026 10:00:00 GMT"}
        )

    site.route("/feed", feed)
    async with HttpClient(allow_networks=site.allow) as http:
        first = await http.get(site.base + "/feed")
        second = await http.get(site.base + "/feed", etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.status == 304 and second.body == b""
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)
    assert site.seen[1].headers["If-None-Match"] == '"v1"'
    assert site.seen[1].headers["If-Modified-Since"] == "Tue, 01 Dec 2026 10:00:00 GMT"


PAYLOAD = b"<rss><channel><title>Caf\xc3\xa9</title></channel></rss>" * 50


def _gzip(data: bytes) -> bytes:
    """gzip without the time stamp in its header: the same bytes in every run."""
    return gzip.compress(data, mtime=0)


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", _gzip(PAYLOAD)),
        ("x-gzip", _gzip(PAYLOAD)),
        ("deflate", zlib.compress(PAYLOAD)),
        ("deflate", zlib.compress(PAYLOAD)[2:-4]),  # raw deflate, as some servers send
        ("br", brotli.compress(PAYLOAD)),
        ("gzip, gzip", _gzip(_gzip(PAYLOAD))),
        ("gzip, br", brotli.compress(_gzip(PAYLOAD))),
        ("identity", PAYLOAD),
        ("gzip", _gzip(PAYLOAD[:700]) + _gzip(PAYLOAD[700:])),  # multi-member
        ("gzip", PAYLOAD),  # labelled gzip but plain: shown as-is, like browsers do
    ],
    # the bodies are bytes: named by their position, so every run (and every xdist worker)
    # collects the same test ids
    ids=lambda value: value if isinstance(value, str) else "body",
)
async def test_content_encodings_are_decoded(site: Site, encoding: str, body: bytes) -> None:
    site.static("/f", body, headers={"Content-Encoding": encoding})
    async with HttpClient(allow_networks=site.allow) as http:
        r = await http.get(site.base + "/f")
    assert r.body == PAYLOAD


async def test_unsupported_encoding_is_a_clear_error(site: Site) -> None:
    site.static("/f", b"\x28\xb5\x2f\xfd", headers={"Content-Encoding": "zstd"})
    async with HttpClient(allow_networks=site.allow) as http:
        with pytest.raises(FetchError, match="unsupported Content-Encoding 'zstd'") as info:
            await http.get(site.base + "/f")
    assert info.value.kind == "bad_encoding"


def _zeros_gzip(n: int) -> bytes:
    return gzip.compress(b"\0" * n, compresslevel=9)


@pytest.mark.parametrize(
    ("encoding", "make"),
    [
        ("gzip", lambda: _zeros_gzip(10 * MiB)),
        ("deflate", lambda: zlib.compress(b"\0" * (10 * MiB), 9)),
        ("br", lambda: brotli.compress(b"\0" * (10 * MiB), quality=5)),
        ("gzip, gzip", lambda: gzip.compress(_zeros_gzip(100 * MiB))),
    ],
    ids=["gzip-10MiB", "deflate-10MiB", "br-10MiB", "double-gzip-100MiB"],
)
async def test_decompression_bombs_are_cut_at_the_cap(site: Site, encoding: str, make: object) -> None:
    body = make()  # type: ignore[operator]
    assert len(body) < 1 * MiB  # the wire size is small; only the decoded size is over the cap
    site.static("/bomb", body, headers={"Content-Encoding": encoding})
    async with HttpClient(allow_networks=site.allow, max_bytes=1 * MiB) as http:
        with pytest.raises(ResponseTooLarge, match="over the 1048576-byte cap"):
            await http.get(site.base + "/bomb")
        site.static("/ok", b"fine")
        assert (await http.get(site.base + "/ok")).body == b"fine"  # the client is still usable


@pytest.mark.parametrize(
    ("name", "encoding", "expect"),
    [
        ("gzip_bomb_10mib.gz", "gzip", ResponseTooLarge),
        ("feed_gzip_bomb_10mib.xml.gz", "gzip", ResponseTooLarge),
        ("deflate_zlib_10mib.bin", "deflate", ResponseTooLarge),
        ("deflate_raw_10mib.bin", "deflate", ResponseTooLarge),
        ("gzip_double_100mib.gz", "gzip, gzip", ResponseTooLarge),
        ("gzip_truncated.xml.gz", "gzip", FetchError),
        ("gzip_bad_crc.xml.gz", "gzip", FetchError),
    ],
)
async def test_corpus_compression_cases(
    site: Site, name: str, encoding: str, expect: type[Exception]
) -> None:
    path = need_corpus("hostile", "generated", "compression", name)
    site.static("/x", path.read_bytes(), headers={"Content-Encoding": encoding})
    async with HttpClient(allow_networks=site.allow, max_bytes=5 * MiB) as http:
        with pytest.raises(expect) as info:
            await http.get(site.base + "/x")
    if expect is FetchError:
        assert info.value.kind == "bad_encoding"
        assert "corrupt compressed body" in str(info.value)


async def test_corpus_not_gzip_is_passed_through(site: Site) -> None:
    path = need_corpus("hostile", "generated", "compression", "not_gzip.xml.gz")
    site.static("/x", path.read_bytes(), headers={"Content-Encoding": "gzip"})
    async with HttpClient(allow_networks=site.allow) as http:
        r = await http.get(site.base + "/x")
    assert r.body == path.read_bytes()


async def test_plain_body_over_cap(site: Site) -> None:
    async def streamed(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()  # chunked: no Content-Length to refuse early
        await resp.prepare(request)
        for _ in range(40):
            await resp.write(b"a" * 65536)
        return resp

    site.route("/big", streamed)
    site.static("/small", b"b" * 1000)
    async with HttpClient(allow_networks=site.allow, max_bytes=1 * MiB) as http:
        with pytest.raises(ResponseTooLarge):
            await http.get(site.base + "/big")
        assert len((await http.get(site.base + "/small", max_bytes=1000)).body) == 1000
        with pytest.raises(ResponseTooLarge):
            await http.get(site.base + "/small", max_bytes=999)


async def test_huge_declared_length_is_refused_at_once_and_socket_closed() -> None:
    """H-3: Content-Length 10 GiB → refused on the headers; the server sees the disconnect."""
    closed = asyncio.Event()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\n\r\n")
        try:
            while True:
                writer.write(b"z" * 65536)
                await writer.drain()
        except (ConnectionError, OSError):
            closed.set()

    async with raw_server(on_connect) as port, HttpClient(allow_networks=[f"127.0.0.1:{port}"]) as http:
        t0 = time.monotonic()
        with pytest.raises(ResponseTooLarge, match="declares 10737418240 bytes"):
            await http.get(f"http://127.0.0.1:{port}/huge")
        assert time.monotonic() - t0 < 2
        await asyncio.wait_for(closed.wait(), 5)


async def test_endless_chunked_stream_is_aborted_at_cap() -> None:
    """H-3: random bytes at full speed with chunked encoding; aborted at the cap within 2 s."""
    closed = asyncio.Event()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = os.urandom(32768)
        try:
            while True:
                writer.write(b"8000\r\n" + chunk + b"\r\n")
                await writer.drain()
        except (ConnectionError, OSError):
            closed.set()

    async with (
        raw_server(on_connect) as port,
        HttpClient(allow_networks=[f"127.0.0.1:{port}"], max_bytes=2 * MiB) as http,
    ):
        t0 = time.monotonic()
        with pytest.raises(ResponseTooLarge):
            await http.get(f"http://127.0.0.1:{port}/endless")
        assert time.monotonic() - t0 < 2
        await asyncio.wait_for(closed.wait(), 5)


async def test_slow_drip_body_hits_total_deadline() -> None:
    """N-1: headers, then one byte every 0.1 s (never trips the read timeout): total deadline wins."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        try:
            for _ in range(100000):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.1)
        except (ConnectionError, OSError):
            pass

    async with (
        raw_server(on_connect) as port,
        HttpClient(allow_networks=[f"127.0.0.1:{port}"], read_timeout=1, total_timeout=0.8) as http,
    ):
        t0 = time.monotonic()
        with pytest.raises(FetchTimeout, match="deadline") as info:
            await http.get(f"http://127.0.0.1:{port}/drip")
        assert 0.7 < time.monotonic() - t0 < 1.5
        assert info.value.kind == "timeout"


async def test_headers_trickle_hits_total_deadline() -> None:
    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        try:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.05)
        except (ConnectionError, OSError):
            pass

    async with (
        raw_server(on_connect) as port,
        HttpClient(allow_networks=[f"127.0.0.1:{port}"], total_timeout=0.5) as http,
    ):
        with pytest.raises(FetchTimeout):
            await http.get(f"http://127.0.0.1:{port}/")


async def test_blackhole_server_times_out() -> None:
    """N-2: accepts and never answers."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    async with (
        raw_server(on_connect) as port,
        HttpClient(allow_networks=[f"127.0.0.1:{port}"], read_timeout=0.3, total_timeout=5) as http,
    ):
        t0 = time.monotonic()
        with pytest.raises(FetchTimeout, match="read timeout"):
            await http.get(f"http://127.0.0.1:{port}/")
        assert time.monotonic() - t0 < 2


async def test_truncated_body_and_reset_are_classified() -> None:
    """N-2: Content-Length longer than the body, then close."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
        await writer.drain()
        writer.close()

    async with raw_server(on_connect) as port, HttpClient(allow_networks=[f"127.0.0.1:{port}"]) as http:
        with pytest.raises(FetchError) as info:
            await http.get(f"http://127.0.0.1:{port}/")
    assert info.value.kind == "truncated_body"


async def test_connection_refused_is_connect_error() -> None:
    async with raw_server(lambda r, w: asyncio.sleep(0)) as port:
        pass  # the port is now closed
    async with HttpClient(allow_networks=[f"127.0.0.1:{port}"]) as http:
        with pytest.raises(ConnectError) as info:
            await http.get(f"http://127.0.0.1:{port}/")
    assert info.value.kind == "connect_error"


async def test_http_status_errors_carry_retry_after(site: Site) -> None:
    site.static("/429", b"", status=429, headers={"Retry-After": "120"})
    site.static("/503", b"", status=503, headers={"Retry-After": "Wed, 01 Jan 2026 00:10:00 GMT"})
    site.static("/404", b"", status=404)
    async with HttpClient(allow_networks=site.allow, clock=FakeClock()) as http:
        with pytest.raises(HTTPStatusError) as e429:
            await http.get(site.base + "/429")
        with pytest.raises(HTTPStatusError) as e503:
            await http.get(site.base + "/503")
        with pytest.raises(HTTPStatusError) as e404:
            await http.get(site.base + "/404")
    assert (e429.value.status, e429.value.retry_after, e429.value.transient) == (429, 120.0, True)
    assert (e503.value.status, e503.value.retry_after) == (503, 600.0)  # FakeClock starts 2026-01-01 00:00
    assert (e404.value.status, e404.value.retry_after, e404.value.transient) == (404, None, False)
    assert "HTTP 404 from" in str(e404.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("Thu, 01 Jan 2026 00:02:00 GMT", 120.0),
        ("Wed, 31 Dec 2025 00:00:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, datetime(2026, 1, 1, tzinfo=UTC)) == expected


def _redirect(to: str, status: int = 302):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": to})

    return handler


async def test_redirects_followed_with_relative_location(site: Site) -> None:
    site.route("/a", _redirect("b", 301))
    site.route("/b", _redirect("/c?x=1", 308))
    site.static("/c", b"end")
    async with HttpClient(allow_networks=site.allow) as http:
        r = await http.get(site.base + "/a")
    assert (r.body, r.url) == (b"end", site.base + "/c?x=1")


async def test_redirect_loop_and_limit(site: Site) -> None:
    site.route("/a", _redirect("/b"))
    site.route("/b", _redirect("/a"))
    for i in range(30):
        site.route(f"/c{i}", _redirect(f"/c{i + 1}", 307))
    site.static("/c5", b"five")
    async with HttpClient(allow_networks=site.allow, max_redirects=5) as http:
        with pytest.raises(TooManyRedirects, match="redirect loop"):
            await http.get(site.base + "/a")
        assert len(site.seen) == 6  # first request + 5 hops, then stop
        assert (await http.get(site.base + "/c0")).body == b"five"  # exactly 5 hops is fine
        site.seen.clear()
        with pytest.raises(TooManyRedirects, match="more than 5 redirects"):
            await http.get(site.base + "/c6")
        assert len(site.seen) == 6


@pytest.mark.parametrize(
    "location",
    [
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "javascript:alert(1)",
        "data:text/html,hi",
    ],
)
async def test_redirect_to_other_scheme_refused(site: Site, location: str) -> None:
    site.route("/a", _redirect(location))
    async with HttpClient(allow_networks=site.allow) as http:
        with pytest.raises(BlockedURL, match=r"redirect to a .* URL refused"):
            await http.get(site.base + "/a")
    assert len(site.seen) == 1


async def test_head_and_redirect_without_location(site: Site) -> None:
    site.static("/h", b"body")
    site.static("/r", b"", status=302)
    async with HttpClient(allow_networks=site.allow) as http:
        r = await http.get(site.base + "/h", method="HEAD")
        assert (r.status, r.body) == (200, b"")
        with pytest.raises(FetchError, match="redirect without Location"):
            await http.get(site.base + "/r")
    assert site.seen[0].method == "HEAD"


async def test_client_closes_and_reopens(site: Site) -> None:
    site.static("/x", b"1")
    http = HttpClient(allow_networks=site.allow)
    assert (await http.get(site.base + "/x")).body == b"1"
    await http.close()
    assert (await http.get(site.base + "/x")).body == b"1"
    await http.close()


async def test_json_and_elapsed(site: Site) -> None:
    site.static("/j", json.dumps({"a": 1}).encode(), headers={"Content-Type": "application/feed+json"})
    async with HttpClient(allow_networks=site.allow) as http:
        r = await http.get(site.base + "/j")
    assert json.loads(r.body) == {"a": 1} and r.content_type == "application/feed+json"
    assert r.elapsed >= 0
