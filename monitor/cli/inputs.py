"""Reading what ``test-rule`` and ``match`` are given: a file or stdin, compressed or not, text only.

A file is gzip, bzip2 or xz compressed when its first bytes say so (its name may lie); it is
read through the matching decompressor of the standard library. A ``test-rule`` input that
is not text (a NUL byte or many control bytes near its start) or a damaged archive is one
clear error, never garbage matched as text.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import sys
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, cast

from monitor.errors import MonitorError

#: the most a ``test-rule`` input may hold once decompressed (a story is a few KB; this stops a bomb)
MAX_INPUT_BYTES = 64 * 2**20
#: compressed inputs, told apart by their first bytes (a file's name can lie); the casts only
#: tell the type checker that the decompressing files are the binary streams they are at run time
_COMPRESSED: tuple[tuple[bytes, str, Callable[[BinaryIO], BinaryIO]], ...] = (
    (b"\x1f\x8b", "gzip", lambda raw: cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))),
    (b"BZh", "bzip2", lambda raw: cast(BinaryIO, bz2.BZ2File(raw))),
    (b"\xfd7zXZ\x00", "xz", lambda raw: cast(BinaryIO, lzma.LZMAFile(raw))),  # noqa: SIM115 - the caller closes it
)
#: what a damaged archive raises while it is read
ARCHIVE_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)
#: byte order marks of UTF-16/32 text, whose ASCII letters come with NUL bytes
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
#: control bytes that plain text holds (tab, newlines, form feed, escape)
_TEXT_CONTROLS = frozenset(b"\t\n\r\x0b\x0c\x1b")


def _decompressing(stream: BinaryIO, head: bytes) -> tuple[BinaryIO, str | None]:
    """``stream`` read through the decompressor its first bytes ``head`` call for, and its name
    (None: not compressed)."""
    for magic, name, opener in _COMPRESSED:
        if head.startswith(magic):
            return opener(stream), name
    return stream, None


def _looks_binary(data: bytes) -> bool:
    """Whether ``data`` is not text: a NUL byte, or many control bytes, near its start
    (UTF-16/32 text, whose BOM says so, has NULs and is text)."""
    sample = data[:8192]
    if sample.startswith(_WIDE_BOMS):
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for byte in sample if byte < 32 and byte not in _TEXT_CONTROLS)
    return controls > len(sample) // 10


def read_input(arg: str) -> bytes:
    """The bytes of a ``test-rule`` input: file ``arg`` or stdin (``-``), decompressed when
    gzip, bzip2 or xz compressed.

    Raises OSError when the file cannot be read, and MonitorError (one line naming ``arg``)
    for a damaged archive, an input over :data:`MAX_INPUT_BYTES` once decompressed, or
    binary data.
    """
    if arg == "-":
        raw: BinaryIO = io.BytesIO(sys.stdin.buffer.read())
        head = raw.read(6)
        raw.seek(0)
    else:
        raw = file = open(arg, "rb")  # noqa: SIM115 - closed below
        head = file.peek(6)[:6]
    stream, compression = _decompressing(raw, head)
    try:
        with stream:
            data = stream.read(MAX_INPUT_BYTES + 1)
    except ARCHIVE_ERRORS as exc:
        if compression is None:
            raise
        raise MonitorError(f"{arg}: damaged {compression} data: {exc}") from None
    finally:
        raw.close()
    if len(data) > MAX_INPUT_BYTES:
        raise MonitorError(f"{arg}: more than {MAX_INPUT_BYTES // 2**20} MiB of text; pass one story")
    if _looks_binary(data):
        what = f"{compression}-compressed binary data" if compression else "binary data"
        raise MonitorError(
            f"{arg}: not a text file ({what}); pass a JSON object, an HTML page or plain text "
            "(gzip, bzip2 or xz compressed if you like)"
        )
    return data


def input_lines(path: str) -> Iterator[str]:
    """The lines of ``path`` (``-``: stdin), a file decompressed when gzip, bzip2 or xz compressed."""
    if path == "-":
        yield from sys.stdin
        return
    with open(path, "rb") as file:
        stream, _ = _decompressing(file, file.peek(6)[:6])
        with io.TextIOWrapper(stream, encoding="utf-8", errors="replace") as handle:
            yield from handle
