"""The prolog guard: make an untrusted XML feed body safe to hand to any XML parser.

Runs before every parser, in the worker processes. feedparser re-expands plain-text entities
in its loose fallback parser after expat refused them, so a 100 KiB feed can cost
gigabytes; lxml and expat have their own limits, but we do not want to depend on which
parser or which expat version a distro ships. The policy here is deliberately simple:

* The body is transcoded to UTF-8 first when it is UTF-16/32 (BOM or ``<?xml`` byte
  pattern), so byte-level checks cannot be dodged by a wider encoding.
* Text before a late ``<?xml`` declaration (PHP warnings in front of a feed) is cut.
* The DOCTYPE is always removed, including any external DTD reference: no parser ever
  sees an entity declaration, and nothing is ever fetched.
* The entities the prolog declares are substituted by us, within bounds on what the
  document's references would cost (:mod:`monitor.sources.dtd`): a document whose
  references would expand too far, recurse or reach an external entity is refused
  (:class:`HostileXML`); declarations alone, however many, cost nothing.
* HTML named entities (``&nbsp;``), which feeds use without declaring them (or declare in
  the external XHTML entity sets, which are never fetched), become numeric character
  references so a strict parser does not give up on them.

Pure functions, no I/O.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from html.entities import name2codepoint

from monitor.errors import ParseError
from monitor.sources.dtd import (
    MAX_EXPANSION_BYTES,
    MAX_EXPANSION_STEPS,
    PREDEFINED,
    Entities,
    HostileXML,
    char_text,
    read_subset,
)

__all__ = [
    "GARBAGE_PREFIX_LIMIT",
    "HTMLPage",
    "HostileXML",
    "Prepared",
    "declaration_end",
    "prepare_xml",
    "sniff_wide_encoding",
]

#: how far into the body a late ``<?xml`` declaration is looked for
GARBAGE_PREFIX_LIMIT = 64 * 1024

_WS = b" \t\r\n"


class HTMLPage(ParseError):
    """The body is an HTML page, not a feed (the parser says which feeds the page advertises)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A body made safe for the XML parsers.

    ``body`` is ASCII-compatible; ``root`` is the lower-cased local name of the first
    element (``None`` when there is none); ``notes`` says what was changed, for the feed's
    warning; ``utf8`` is true when the body was re-encoded or found to be UTF-8 whatever the
    HTTP charset said (the parsers must then not be told that charset).
    """

    body: bytes
    root: str | None
    notes: tuple[str, ...] = ()
    utf8: bool = False


_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_NO_BOM: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)


def sniff_wide_encoding(body: bytes) -> tuple[str | None, int]:
    """The UTF-16/32 or UTF-8 encoding announced by a BOM or ``<?xml`` byte pattern, and the BOM length.

    Returns ``(None, 0)`` for ASCII-compatible bodies without a BOM.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, len(bom)
    for pattern, name in _NO_BOM:
        if body.startswith(pattern):
            return name, 0
    # UTF-16 without BOM that starts with whitespace before "<"
    if len(body) >= 4 and body[1] == 0 and body[3] == 0 and body[0] in _WS and body[2] in _WS + b"<":
        return "utf-16-le", 0
    if len(body) >= 4 and body[0] == 0 and body[2] == 0 and body[1] in _WS and body[3] in _WS + b"<":
        return "utf-16-be", 0
    return None, 0


_DECL_ENCODING = re.compile(rb"""^(<\?xml[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")


def _to_utf8(body: bytes) -> tuple[bytes, str | None]:
    encoding, bom_len = sniff_wide_encoding(body)
    if encoding is None:
        return body, None
    body = body[bom_len:] if encoding == "utf-8" else body[bom_len:].decode(encoding, errors="replace").encode("utf-8")
    # whatever the declaration says, the bytes are now UTF-8 (a BOM beats the declaration)
    body = _DECL_ENCODING.sub(rb"\1\2utf-8\2", body, count=1)
    return body, encoding


_DECLARED = re.compile(rb"""^<\?xml[^>]*?\bencoding\s*=\s*["']([^"']+)""")
_DECL_START = re.compile(rb"^<\?xml[^>]*?\?>")
#: encodings servers and CMSs claim for bytes that are really UTF-8
_LATIN = frozenset({"latin-1", "iso8859-1", "cp1252", "ascii", "iso8859-15"})


def _codec(name: str | bytes | None) -> str | None:
    if name is None:
        return None
    try:
        return codecs.lookup(name.decode("ascii", "replace") if isinstance(name, bytes) else name).name
    except LookupError:
        return None


def _utf8_or_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Decode error handler: each byte UTF-8 rejects is read as Windows-1252 (Latin-1 in its holes)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), error.end


codecs.register_error("newsmonitor-cp1252", _utf8_or_cp1252)


def _repair_encoding(body: bytes, charset: str | None) -> tuple[bytes, str | None]:
    """Fix the two commonest encoding lies, so every parser sees correct UTF-8.

    "UTF-8" (declared, or by default) with bytes that are not: each invalid byte is read as
    Windows-1252, which is what such bytes nearly always are (mixed documents included).
    "ISO-8859-1"/"Windows-1252" with bytes that are valid multi-byte UTF-8: they are UTF-8.
    An HTTP ``charset`` that names another encoding is left to the parsers.
    """
    m = _DECLARED.match(body)
    declared = _codec(m.group(1)) if m else "utf-8"
    effective = _codec(charset) or declared
    if effective == "utf-8":
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            text = body.decode("utf-8", errors="newsmonitor-cp1252")
            return text.encode("utf-8"), "bytes that are not UTF-8 were read as Windows-1252"
        return body, None
    if effective in _LATIN and not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return body, None
        if m:
            body = _DECL_ENCODING.sub(rb"\1\2utf-8\2", body, count=1)
        return body, f"declared {effective} but the bytes are UTF-8"
    return body, None


_XML_DECL = re.compile(rb"<\?xml[\s?]")


def _cut_garbage_prefix(body: bytes) -> tuple[bytes, bool]:
    start = len(body) - len(body.lstrip(_WS))
    if body.startswith(b"<?xml", start) or start == len(body):
        return body[start:], False
    found = _XML_DECL.search(body, start, GARBAGE_PREFIX_LIMIT)
    if found is None:
        return body[start:], False
    return body[found.start() :], True


_NAME_START = re.compile(rb"<([A-Za-z_:][-\w.:]*)")


def _skip_quoted(body: bytes, i: int) -> int:
    """Index after the quoted string starting at ``i`` (or the end of the body)."""
    end = body.find(body[i : i + 1], i + 1)
    return len(body) if end < 0 else end + 1


def declaration_end(body: bytes, i: int) -> int:
    """Index after the markup declaration (``<!DOCTYPE ...>`` with its internal subset) at ``i``."""
    return _scan_declaration(body, i + 2)[0]


def _scan_subset(body: bytes, i: int) -> int:
    """Index of the ``]`` closing the internal subset that starts at ``i``."""
    n = len(body)
    while i < n:
        c = body[i : i + 1]
        if c in (b'"', b"'"):
            i = _skip_quoted(body, i)
        elif body.startswith(b"<!--", i):
            end = body.find(b"-->", i + 4)
            i = n if end < 0 else end + 3
        elif c == b"]":
            return i
        else:
            i += 1
    return n


def _scan_declaration(body: bytes, j: int) -> tuple[int, bytes]:
    """Scan a ``<!...>`` declaration from ``j`` (after ``<!``): its end and its internal subset."""
    n, subset = len(body), b""
    while j < n and body[j : j + 1] != b">":
        c = body[j : j + 1]
        if c in (b'"', b"'"):
            j = _skip_quoted(body, j)
        elif c == b"[":
            close = _scan_subset(body, j + 1)
            subset += body[j + 1 : close]
            j = close + 1
        else:
            j += 1
    return min(j + 1, n), subset


@dataclass(frozen=True, slots=True)
class _Prolog:
    #: (start, end) of every DOCTYPE or other markup declaration before the root element
    declarations: list[tuple[int, int]]
    #: the text of those declarations (internal subsets and stray ``<!ENTITY`` alike)
    dtd: bytes
    root: str | None


def _scan_prolog(body: bytes) -> _Prolog:
    """Find the declarations before the root element and the root's name.

    Stray text in the prolog is skipped rather than ending the scan, because feedparser
    reads entity declarations from everything before the first element.
    """
    i, n = 0, len(body)
    spans: list[tuple[int, int]] = []
    dtd: list[bytes] = []
    while i < n:
        if body[i] in _WS:
            i += 1
        elif body.startswith(b"<?", i):
            end = body.find(b"?>", i + 2)
            i = n if end < 0 else end + 2
        elif body.startswith(b"<!--", i):
            end = body.find(b"-->", i + 4)
            i = n if end < 0 else end + 3
        elif body.startswith(b"<!", i):
            end, subset = _scan_declaration(body, i + 2)
            spans.append((i, end))
            # a declaration outside a DOCTYPE (e.g. a bare <!ENTITY>) is checked as DTD text too
            dtd.append(subset if body[i : i + 9].upper() == b"<!DOCTYPE" else body[i:end])
            i = end
        else:
            m = _NAME_START.match(body, i)
            if m:
                name = m.group(1).decode("ascii").rsplit(":", 1)[-1].lower()
                return _Prolog(spans, b"\n".join(dtd), name)
            nxt = body.find(b"<", i + 1)
            i = n if nxt < 0 else nxt
    return _Prolog(spans, b"\n".join(dtd), None)


_REF_OR_CDATA = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|&([A-Za-z_][-\w.:]*);|&#(?:([0-9]{1,12})|[xX]([0-9a-fA-F]{1,12}));", re.DOTALL
)
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"})


def _escaped(text: str) -> bytes:
    """``text`` as character data that reads the same in element content and in attribute
    values, in ASCII (non-ASCII as character references, whatever the document's encoding)."""
    return text.translate(_ESCAPES).encode("ascii", "xmlcharrefreplace")


@dataclass(slots=True)
class _Substitution:
    """Replaces one reference at a time and keeps the count of what the references cost."""

    entities: Entities
    grown: int = 0
    steps: int = 0
    values: dict[str, bytes] = field(default_factory=dict)

    def __call__(self, m: re.Match[bytes]) -> bytes:
        name = m.group(1)
        if name is None:
            decimal, hexadecimal = m.group(2), m.group(3)
            if decimal is None and hexadecimal is None:
                return m.group(0)  # a CDATA section
            text = char_text(
                None if decimal is None else decimal.decode("ascii"),
                None if hexadecimal is None else hexadecimal.decode("ascii"),
            )
            return m.group(0) if text else b""
        entity = name.decode("ascii")
        if entity in PREDEFINED:
            return m.group(0)
        if self.entities.declares(entity):
            return self._expand(entity, len(m.group(0)))
        html_codepoint = name2codepoint.get(entity)
        return b"&#%d;" % html_codepoint if html_codepoint is not None else m.group(0)

    def _expand(self, entity: str, reference_bytes: int) -> bytes:
        cost = self.entities.cost(entity)
        if cost.external is not None:
            through = f" (through {entity[:40]!r})" if cost.external != entity else ""
            raise HostileXML(
                f"XML entity declarations refused: external entity {cost.external[:40]!r}{through} "
                "would have to be read from a file or the network"
            )
        # cost.size saturates just past the bound: compare it alone too
        if cost.size > MAX_EXPANSION_BYTES or self.grown + cost.size - reference_bytes > MAX_EXPANSION_BYTES:
            raise HostileXML(
                f"XML entity declarations refused: references would grow the document by over "
                f"{MAX_EXPANSION_BYTES} bytes"
            )
        value = self.values.get(entity)
        if value is None:
            # the references followed are work only the first time: the text is kept for the others
            self.steps += cost.steps
            if self.steps > MAX_EXPANSION_STEPS:
                raise HostileXML(
                    f"XML entity declarations refused: references would expand over {MAX_EXPANSION_STEPS} entities"
                )
            value = self.values[entity] = _escaped(self.entities.text(entity))
        self.grown += len(value) - reference_bytes
        return value


def _substitute(body: bytes, entities: Entities) -> bytes:
    """Replace declared and HTML named entity references (outside CDATA) by safe text.

    Character references to characters XML forbids (``&#55296;``, ``&#1114112;``) are
    dropped: either makes one parser reject the feed and makes feedparser raise.
    Raises :class:`HostileXML` when the references would cost too much (see :mod:`monitor.sources.dtd`).
    """
    if b"&" not in body:
        return body
    return _REF_OR_CDATA.sub(_Substitution(entities), body)


def _dtd_text(dtd: bytes, body: bytes, charset: str | None, utf8: bool) -> str:
    """The DTD's bytes as text, in the document's encoding (UTF-8 unless it says otherwise)."""
    m = _DECLARED.match(body)
    encoding = "utf-8" if utf8 else (_codec(charset) or (_codec(m.group(1)) if m else None) or "utf-8")
    return dtd.decode(encoding, errors="replace")

def prepare_xml(body: bytes, charset: str | None = None) -> Prepared:
    """Return ``body`` made safe for the XML parsers (see the module docstring).

    ``charset`` is the HTTP header's; when the body comes out as UTF-8 (``Prepared.utf8``)
    the parsers must ignore it.

    Raises :class:`HostileXML` for expanding entity declarations, :class:`HTMLPage` for an
    HTML page and :class:`~monitor.errors.ParseError` for an empty body.
    """
    notes: list[str] = []
    body, wide = _to_utf8(body)
    if wide and wide != "utf-8":
        notes.append(f"transcoded from {wide}")
    body, cut = _cut_garbage_prefix(body)
    if cut:
        notes.append("ignored text before the XML declaration")
    if not body.strip():
        raise ParseError("empty document")
    utf8 = bool(wide)
    if not wide:
        body, repaired = _repair_encoding(body, charset)
        if repaired:
            notes.append(repaired)
            utf8 = True
    prolog = _scan_prolog(body)
    entities = read_subset(_dtd_text(prolog.dtd, body, charset, utf8)) if prolog.dtd.strip() else Entities()
    if prolog.declarations:
        kept, pos = [], 0
        for start, end in prolog.declarations:
            kept.append(body[pos:start])
            pos = end
        kept.append(body[pos:])
        body = b"".join(kept)
        if prolog.dtd.strip():
            notes.append("removed the DTD internal subset")
    root = prolog.root
    if root == "html":
        raise HTMLPage("not a feed: looks like an HTML page")
    body = _substitute(body, entities)
    return Prepared(body=body, root=root, notes=tuple(notes), utf8=utf8)
