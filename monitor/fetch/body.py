"""Reading a response body safely: decoding Content-Encoding layers with a cap on decoded bytes.

Each layer (gzip incl. multi-member, deflate zlib-wrapped or raw, brotli) produces at most
``CHUNK`` bytes per step, and the caller stops as soon as the running total passes the cap,
so a 1 KiB → 1 GiB bomb, or ``Content-Encoding: gzip, gzip``, costs at most cap + 64 KiB.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

import aiohttp
import brotli

from monitor.errors import FetchError, ResponseTooLarge

CHUNK = 64 * 1024
_MAX_ENCODING_LAYERS = 3


def fetch_error(
    message: str, kind: str, *, transient: bool = True, cls: type[FetchError] = FetchError
) -> FetchError:
    """A ``cls`` error whose ``kind`` names the precise reason (logs and metrics use it)."""
    err = cls(message)
    err.kind = kind
    err.transient = transient
    return err


class _Inflate:
    """gzip (multi-member) or deflate (zlib-wrapped or raw) with bounded output per step."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._obj: zlib._Decompress | None = None
        self._head = b""
        self._plain = False

    def _start(self, data: bytes) -> None:
        if self._gzip:
            # servers that label plain bodies gzip exist; browsers show them, so do we
            self._plain = data[:2] != b"\x1f\x8b"
            self._obj = None if self._plain else zlib.decompressobj(31)
        else:
            zlib_header = (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
            self._obj = zlib.decompressobj(15 if zlib_header else -15)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None and not self._plain:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            self._start(data)
        if self._plain:
            yield data
            return
        obj = self._obj
        assert obj is not None
        while True:
            if obj.eof:
                rest = obj.unused_data + data
                if not (self._gzip and rest[:2] == b"\x1f\x8b"):
                    return  # trailing bytes after the stream are ignored, as browsers do
                obj = self._obj = zlib.decompressobj(31)
                data = rest
            out = obj.decompress(data, CHUNK)
            data = obj.unconsumed_tail
            if out:
                yield out
            if obj.eof and obj.unused_data:
                continue
            if not data and len(out) < CHUNK:
                return

    def finish(self) -> Iterator[bytes]:
        if self._head:
            yield self._head
            return
        if self._obj is not None and not self._obj.eof:
            raise zlib.error("compressed body ends before the end of its stream (truncated)")


class _Brotli:
    def __init__(self) -> None:
        self._dec = brotli.Decompressor()
        self._fed = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._fed = True
        yield self._dec.process(data, output_buffer_limit=CHUNK)
        while not self._dec.can_accept_more_data():
            yield self._dec.process(b"", output_buffer_limit=CHUNK)

    def finish(self) -> Iterator[bytes]:
        if self._fed and not self._dec.is_finished():
            raise brotli.error("brotli body ends before the end of its stream (truncated)")
        yield from ()


class _Decoder:
    """Undoes a Content-Encoding list, one bounded piece at a time."""

    def __init__(self, header: str, shown_url: str) -> None:
        names = [n.strip().lower() for n in header.split(",") if n.strip()]
        names = [n for n in names if n != "identity"]
        if len(names) > _MAX_ENCODING_LAYERS:
            raise fetch_error(
                f"{shown_url}: {len(names)} stacked content encodings refused",
                "bad_encoding",
                transient=False,
            )
        self._layers: list[_Inflate | _Brotli] = []
        for name in reversed(names):  # the last encoding applied is undone first
            if name in ("gzip", "x-gzip"):
                self._layers.append(_Inflate(gzip=True))
            elif name == "deflate":
                self._layers.append(_Inflate(gzip=False))
            elif name == "br":
                self._layers.append(_Brotli())
            else:
                message = f"{shown_url}: unsupported Content-Encoding {name!r}"
                raise fetch_error(message, "bad_encoding", transient=False)

    def _pipe(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._layers):
            if data:
                yield data
            return
        for piece in self._layers[index].feed(data):
            yield from self._pipe(index + 1, piece)

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._pipe(0, data)

    def finish(self) -> Iterator[bytes]:
        for index, layer in enumerate(self._layers):
            for piece in layer.finish():
                yield from self._pipe(index + 1, piece)


async def read_body(resp: aiohttp.ClientResponse, max_bytes: int, shown: str, truncate: bool) -> bytes:
    """The decoded body of ``resp``, at most ``max_bytes``.

    Over the cap (declared Content-Length, raw bytes or decoded bytes): ResponseTooLarge, or
    with ``truncate`` the first ``max_bytes`` bytes. Corrupt or truncated compressed data:
    FetchError with kind ``bad_encoding``. ``shown`` is the redacted URL for messages.
    """
    declared = resp.content_length
    if declared is not None and declared > max_bytes and not truncate:
        raise ResponseTooLarge(f"{shown} declares {declared} bytes, over the {max_bytes}-byte cap")
    decoder = _Decoder(resp.headers.get("Content-Encoding", ""), shown)
    body = bytearray()
    raw = 0
    too_large = ResponseTooLarge(f"{shown}: body over the {max_bytes}-byte cap (decoded); aborted")
    try:
        async for chunk in resp.content.iter_chunked(CHUNK):
            raw += len(chunk)
            if raw > max_bytes and not truncate:
                raise too_large
            if _take(body, decoder.feed(chunk), max_bytes, truncate, too_large) or raw > max_bytes:
                return bytes(body[:max_bytes])
        _take(body, decoder.finish(), max_bytes, truncate, too_large)
    except (zlib.error, brotli.error) as exc:
        raise fetch_error(f"{shown}: corrupt compressed body ({exc})", "bad_encoding") from None
    return bytes(body)


def _take(
    body: bytearray, pieces: Iterable[bytes], max_bytes: int, truncate: bool, too_large: ResponseTooLarge
) -> bool:
    """Append decoded ``pieces`` to ``body`` until it passes ``max_bytes``: then raise
    ``too_large``, or with ``truncate`` cut ``body`` to the cap and return True."""
    for piece in pieces:
        body += piece
        if len(body) > max_bytes:
            if not truncate:
                raise too_large
            del body[max_bytes:]
            return True
    return False
