"""Decoding HTML bytes to text: BOM, valid UTF-8, ``<meta charset>``, then detection.

Pure function, no I/O. The order is chosen for real news pages: a byte-order mark is
authoritative; bytes that are valid UTF-8 and contain non-ASCII are UTF-8 whatever the
page declares (a mislabelled UTF-8 page is common, while Latin-1 text that happens to be
valid multi-byte UTF-8 is vanishingly rare); a page that declares UTF-8, or nothing, and is
valid UTF-8 but for a few stray bytes is UTF-8 with those bytes replaced; otherwise the
page's own declaration, then statistical detection, then Windows-1252 (what browsers
assume for legacy Western pages).
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

__all__ = ["declared_charset", "decode_html"]

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Browsers sniff 1024 bytes, but real pages put long comments or scripts before the
# <meta>; looking further costs nothing measurable and avoids mojibake.
_SNIFF_BYTES = 8192
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""",
    re.IGNORECASE,
)
_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._\-]+)""", re.IGNORECASE)
# WHATWG Encoding Standard: these labels mean windows-1252 in HTML.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "l1": "cp1252",
    "x-user-defined": "cp1252",
}


def declared_charset(head: bytes) -> str | None:
    """The Python codec name the document declares in ``<meta charset>`` /
    ``http-equiv`` / an XML declaration within its first bytes; ``None`` if none or unknown."""
    window = head[:_SNIFF_BYTES]
    found = _XML_DECL.search(window) or _META_CHARSET.search(window)
    if not found:
        return None
    label = found.group(1).decode("ascii", "ignore").strip().lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
#: a page with at most one bad byte sequence per this many good non-ASCII characters is UTF-8
_GOOD_PER_BAD = 20


def _as_utf8(body: bytes, *, lenient: bool) -> str | None:
    """``body`` as UTF-8 when it is valid UTF-8, or (``lenient``) UTF-8 but for a few stray bytes."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # A UTF-8 page with a few stray bytes (a Latin-1 snippet pasted into a template, a
    # truncated character) is still UTF-8: decoding it as anything else turns every
    # accented letter into mojibake, where replacing the few bad bytes loses one
    # character each. Latin-1 text read as UTF-8 has almost no valid sequences.
    if not lenient:
        return None
    text = body.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(_NON_ASCII.findall(text)) - bad
    return text if good >= _GOOD_PER_BAD * bad else None


def decode_html(body: bytes | str) -> str:
    """Decode an HTML body to ``str``; never raises (undecodable bytes become U+FFFD).

    ``str`` input is returned unchanged. See the module docstring for the order of evidence.
    """
    if isinstance(body, str):
        return body
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace")
    declared = declared_charset(body)
    as_utf8 = _as_utf8(body, lenient=declared in (None, "utf-8"))
    if as_utf8 is not None:
        return as_utf8
    if declared and declared not in {"utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32"}:
        try:
            return body.decode(declared)
        except UnicodeDecodeError:
            pass
    best = charset_normalizer.from_bytes(body[:65536]).best()
    if best is not None and best.encoding:
        try:
            return body.decode(best.encoding)
        except (UnicodeDecodeError, LookupError):
            pass
    return body.decode("cp1252", errors="replace")
