"""The prolog guard: make an untrusted XML feed body safe to hand to any XML parser.

Runs before every parser, in the worker processes. feedparser re-expands plain-text entities
in its loose fallback parser after expat refused them, so a 100 KiB feed can cost
gigabytes; lxml and expat have their own limits, but we do not want to depend on which
parser or which expat version a distro ships. The policy here is deliberately simple:

* The body is transcoded to UTF-8 first when it is UTF-16/32 (BOM or ``<?xml`` byte
  pattern), so byte-level checks cannot be dodged by a wider encoding.
* Text before a late ``<?xml`` declaration (PHP warnings in front of a feed) is cut.
* The DOCTYPE is always removed, including any external DTD reference: no parser ever
  sees an entity declaration.
* The internal subset is refused (:class:`HostileXML`) when it declares a parameter
  entity, an external entity, an entity whose value references another entity, more
  than :data:`MAX_ENTITIES` entities or more than :data:`MAX_ENTITY_BYTES` of values.
* Small plain-text entities that pass are substituted by us, with a cap on the total
  growth of the document (:data:`MAX_EXPANSION_BYTES`).
* HTML named entities (``&nbsp;``), which feeds use without declaring them, become
  numeric character references so a strict parser does not give up on them.

Pure functions, no I/O.
"""

from __future__ import annotations

import codecs
import html
import re
from dataclasses import dataclass
from html.entities import name2codepoint

from monitor.errors import ParseError

#: total bytes of entity values an internal DTD subset may declare
MAX_ENTITY_BYTES = 1024
#: number of entities an internal DTD subset may declare
MAX_ENTITIES = 64
#: how much entity substitution may grow the document
MAX_EXPANSION_BYTES = 1024 * 1024
#: how far into the body a late ``<?xml`` declaration is looked for
GARBAGE_PREFIX_LIMIT = 64 * 1024

_XML_PREDEFINED = frozenset({"amp", "lt", "gt", "quot", "apos"})
_WS = b" \t\r\n"


class HostileXML(ParseError):
    """The document declares entities that could expand (entity bomb, XXE); it is refused unparsed."""

    kind = "hostile_xml"


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


_ENTITY_DECL = re.compile(
    rb"""<!ENTITY\s+(%\s*)?([^\s%;"']+)\s*(?:(["'])(.*?)\3|(SYSTEM|PUBLIC)\b)""",
    re.DOTALL | re.IGNORECASE,
)
_GENERAL_REF = re.compile(rb"&([^#\s;][^\s;]*);")
_PE_REF = re.compile(rb"%[^\s;%]+;")


def _declared_entities(subset: bytes) -> dict[bytes, str]:
    """Plain-text entities of an internal subset, or raise HostileXML for anything that could expand."""
    entities: dict[bytes, str] = {}
    total = 0
    for m in _ENTITY_DECL.finditer(subset):
        parameter, name, value, external = m.group(1), m.group(2), m.group(4), m.group(5)
        label = name.decode("utf-8", "replace")[:40]
        if parameter:
            raise HostileXML(f"XML entity declarations refused: parameter entity %{label}")
        if external or value is None:
            raise HostileXML(f"XML entity declarations refused: external entity {label!r}")
        if _GENERAL_REF.search(value) or _PE_REF.search(value):
            raise HostileXML(f"XML entity declarations refused: entity {label!r} references other entities")
        total += len(value)
        if total > MAX_ENTITY_BYTES:
            raise HostileXML(
                f"XML entity declarations refused: entities declare over {MAX_ENTITY_BYTES} bytes of text"
            )
        if len(entities) >= MAX_ENTITIES:
            raise HostileXML(f"XML entity declarations refused: more than {MAX_ENTITIES} entities")
        entities[name] = html.unescape(value.decode("utf-8", "replace"))
    if _PE_REF.search(_ENTITY_DECL.sub(b"", subset)):
        raise HostileXML("XML entity declarations refused: parameter entity reference in the DTD")
    return entities


_REF_OR_CDATA = re.compile(
    rb"<!\[CDATA\[.*?\]\]>|&([A-Za-z_][-\w.:]*);|&#(?:([0-9]{1,12})|[xX]([0-9a-fA-F]{1,12}));", re.DOTALL
)


def _xml_char(codepoint: int) -> bool:
    """Whether XML 1.0 allows this character (surrogates and most C0 controls it does not)."""
    return (
        codepoint in (0x9, 0xA, 0xD)
        or 0x20 <= codepoint <= 0xD7FF
        or 0xE000 <= codepoint <= 0xFFFD
        or 0x10000 <= codepoint <= 0x10FFFF
    )


def _substitute(body: bytes, entities: dict[bytes, str]) -> bytes:
    """Replace declared and HTML named entity references (outside CDATA) by safe text.

    Character references to characters XML forbids (``&#55296;``, ``&#1114112;``) are
    dropped: either makes one parser reject the feed and makes feedparser raise.
    """
    if b"&" not in body:
        return body
    replacements: dict[bytes, bytes] = {
        name: value.replace("&", "&amp;").replace("<", "&lt;").encode("utf-8")
        for name, value in entities.items()
    }
    grown = 0

    def replace(m: re.Match[bytes]) -> bytes:
        nonlocal grown
        name = m.group(1)
        if name is None:
            decimal, hexadecimal = m.group(2), m.group(3)
            if decimal is None and hexadecimal is None:
                return m.group(0)  # a CDATA section
            codepoint = int(decimal) if decimal is not None else int(hexadecimal, 16)
            return m.group(0) if _xml_char(codepoint) else b""
        if name in _XML_PREDEFINED:
            return m.group(0)
        value = replacements.get(name)
        if value is not None:
            grown += len(value) - len(m.group(0))
            if grown > MAX_EXPANSION_BYTES:
                raise HostileXML(
                    f"XML entity declarations refused: references would grow the document by over "
                    f"{MAX_EXPANSION_BYTES} bytes"
                )
            return value
        html_codepoint = name2codepoint.get(name.decode("ascii"))
        return b"&#%d;" % html_codepoint if html_codepoint is not None else m.group(0)

    return _REF_OR_CDATA.sub(replace, body)


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
    entities = _declared_entities(prolog.dtd)
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
