"""The internal DTD subset of an untrusted feed: the entities it declares and what expanding them costs.

No XML parser ever sees these declarations: the prolog guard (:mod:`monitor.sources.prolog`)
removes the DOCTYPE and substitutes the entity references itself, so the only expansion
that happens is ours, and this module bounds it. What is refused is decided by what the
document's references would cost, never by what the declarations look like:

* every internal general entity's expanded size and the number of references followed to
  expand it are computed with a bound (saturating just past it), so a billion-laughs tree
  costs a few hundred additions, not a gigabyte;
* the document is refused (:class:`HostileXML`) when its references would grow it by more
  than :data:`MAX_EXPANSION_BYTES` (quadratic blow-up), follow more than
  :data:`MAX_EXPANSION_STEPS` references (billion laughs, also of empty strings), reach a
  recursive entity, or reach an external entity (``SYSTEM``/``PUBLIC``: its text would have
  to be read from a file or the network);
* internal parameter entities referenced between declarations (``%common;``) are expanded
  into more declarations, within :data:`MAX_EXPANSION_BYTES` of text in all; external ones
  (the standard XHTML entity sets, ``%HTMLlat1;``) are never fetched, and the HTML named
  entities they would define are supplied from Python's table by the guard instead;
* anything declared but never referenced costs nothing and is accepted: a pasted HTML
  entity table, an unparsed ``NDATA`` entity, an unused parameter entity.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.entities import name2codepoint

from monitor.errors import ParseError

__all__ = [
    "MAX_EXPANSION_BYTES",
    "MAX_EXPANSION_STEPS",
    "Entities",
    "HostileXML",
    "char_text",
    "read_subset",
]

#: how much the document's entity references (and parameter entities, the DTD's) may add
MAX_EXPANSION_BYTES = 256 * 1024
#: how many entity references expanding the whole document may follow
MAX_EXPANSION_STEPS = 100_000

PREDEFINED: dict[str, str] = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class HostileXML(ParseError):
    """The document's entity references would expand past the bounds, recurse or reach an
    external entity (entity bomb, XXE); it is refused unparsed."""

    kind = "hostile_xml"


def _refused(why: str) -> HostileXML:
    return HostileXML(f"XML entity declarations refused: {why}")


def _label(name: str) -> str:
    return name[:40]


def _xml_char(codepoint: int) -> bool:
    """Whether XML 1.0 allows this character (surrogates and most C0 controls it does not)."""
    return (
        codepoint in (0x9, 0xA, 0xD)
        or 0x20 <= codepoint <= 0xD7FF
        or 0xE000 <= codepoint <= 0xFFFD
        or 0x10000 <= codepoint <= 0x10FFFF
    )


def char_text(decimal: str | None, hexadecimal: str | None) -> str:
    """The character of a numeric character reference, or "" when XML forbids it."""
    try:
        codepoint = int(decimal) if decimal is not None else int(hexadecimal or "", 16)
    except ValueError:
        return ""
    return chr(codepoint) if _xml_char(codepoint) else ""


_CHAR_REF = re.compile(r"&#(?:([0-9]{1,12})|[xX]([0-9a-fA-F]{1,12}));")
_REF = re.compile(r"&(?:([A-Za-z_:][-\w.:]*)|#([0-9]{1,12})|#[xX]([0-9a-fA-F]{1,12}));")


def _declared_text(literal: str) -> str:
    """An entity value as declared: character references are replaced when it is declared."""
    return _CHAR_REF.sub(lambda m: char_text(m.group(1), m.group(2)), literal)


#: a piece of replacement text, then the general entity referenced after it (or None)
Part = tuple[str, str | None]


def _parts(replacement: str) -> tuple[Part, ...]:
    """Replacement text split at its general entity references; predefined and character
    references become their characters here, as they would when the entity is expanded."""
    parts: list[Part] = []
    pos = 0
    pending = ""
    for m in _REF.finditer(replacement):
        pending += replacement[pos : m.start()]
        pos = m.end()
        name = m.group(1)
        if name is None:
            pending += char_text(m.group(2), m.group(3))
        elif name in PREDEFINED:
            pending += PREDEFINED[name]
        else:
            parts.append((pending, name))
            pending = ""
    parts.append((pending + replacement[pos:], None))
    return tuple(parts)


def fallback_text(name: str) -> str:
    """The text of a reference to an entity nobody declared: an HTML named character, or the reference itself."""
    codepoint = name2codepoint.get(name)
    return chr(codepoint) if codepoint is not None else f"&{name};"


@dataclass(frozen=True, slots=True)
class Cost:
    """What expanding one entity takes: its size in characters and the references followed.

    Both saturate just past the bounds, so they stay small numbers whatever the document.
    ``external`` names an external entity the expansion reaches (None when it reaches none).
    """

    size: int
    steps: int
    external: str | None = None


@dataclass(slots=True)
class Entities:
    """The general entities a DTD subset declares (first declaration wins, as in XML)."""

    internal: dict[str, tuple[Part, ...]] = field(default_factory=dict)
    #: external general entities: name → system identifier (never read)
    external: dict[str, str] = field(default_factory=dict)
    _costs: dict[str, Cost] = field(default_factory=dict)

    def declares(self, name: str) -> bool:
        return name in self.internal or name in self.external

    def declare(self, name: str, *, value: str | None, system: str | None) -> None:
        if self.declares(name):
            return
        if value is not None:
            self.internal[name] = _parts(_declared_text(value))
        else:
            self.external[name] = system or ""

    def cost(self, name: str) -> Cost:
        """The bounded cost of expanding the declared entity ``name``.

        Raises :class:`HostileXML` when the entity refers back to itself.
        """
        if name in self.external:
            return Cost(0, 1, name)
        if name not in self._costs:
            self._compute(name)
        return self._costs[name]

    def _compute(self, root: str) -> None:
        # depth-first without recursion: a chain of 10 000 entities must not hit Python's stack limit
        stack: list[tuple[str, Iterator[Part]]] = [(root, iter(self.internal[root]))]
        on_path = {root}
        while stack:
            name, parts = stack[-1]
            for _text, ref in parts:
                if ref is None or ref not in self.internal or ref in self._costs:
                    continue
                if ref in on_path:
                    raise _refused(f"entity {_label(ref)!r} refers to itself")
                stack.append((ref, iter(self.internal[ref])))
                on_path.add(ref)
                break
            else:
                stack.pop()
                on_path.discard(name)
                self._costs[name] = self._combine(name)

    def _combine(self, name: str) -> Cost:
        size, steps, external = 0, 1, None
        for text, ref in self.internal[name]:
            size += len(text)
            if ref is None:
                continue
            if ref in self.internal:
                cost = self._costs[ref]
                size, steps = size + cost.size, steps + cost.steps
                external = external or cost.external
            elif ref in self.external:
                external = external or ref
            else:
                size += len(fallback_text(ref))
        return Cost(min(size, MAX_EXPANSION_BYTES + 1), min(steps, MAX_EXPANSION_STEPS + 1), external)

    def text(self, name: str) -> str:
        """The full replacement text of the internal entity ``name``; call only after
        :meth:`cost` said it is within the bounds (it is not checked again)."""
        out: list[str] = []
        stack: list[Iterator[Part]] = [iter(self.internal[name])]
        while stack:
            for text, ref in stack[-1]:
                out.append(text)
                if ref is None:
                    continue
                if ref in self.internal:
                    stack.append(iter(self.internal[ref]))
                    break
                out.append(fallback_text(ref))
            else:
                stack.pop()
        return "".join(out)


# --- reading the subset ----------------------------------------------------------------------

_NAME = r"[^\s%;\"'<>]+"
_ENTITY = re.compile(
    rf"""<!ENTITY\s+(?P<pe>%\s+)?(?P<name>{_NAME})\s*
    (?:(?P<q>["'])(?P<value>.*?)(?P=q)
      |SYSTEM\s*(?P<sq>["'])(?P<system>.*?)(?P=sq)
      |PUBLIC\s*(?P<pq>["']).*?(?P=pq)\s*(?P<pubq>["'])(?P<public_system>.*?)(?P=pubq)
      |(?P<external>SYSTEM|PUBLIC)\b)""",
    re.DOTALL | re.VERBOSE,
)
#: what can start something in a DTD subset that matters here
_TOKEN = re.compile(rf"<!--|<\?|<!ENTITY\s|<!|%(?P<pe_ref>{_NAME});")


def _declaration_end(text: str, i: int) -> int:
    """Index after the ``>`` closing the markup declaration at ``i`` (quoted ``>`` skipped)."""
    n = len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            end = text.find(c, i + 1)
            i = n if end < 0 else end + 1
        elif c == ">":
            return i + 1
        else:
            i += 1
    return n


@dataclass(slots=True)
class _Reader:
    entities: Entities = field(default_factory=Entities)
    #: internal parameter entities: name → replacement text; external ones: name → None
    parameters: dict[str, str | None] = field(default_factory=dict)
    expanded: int = 0
    steps: int = 0

    def read(self, text: str) -> None:
        # parameter entities expand in place: a stack of (text, position, the entity being read)
        stack: list[tuple[str, int, str | None]] = [(text, 0, None)]
        while stack:
            current, pos, entity = stack.pop()
            m = _TOKEN.search(current, pos)
            if m is None:
                continue
            nested = self._token(current, m)
            stack.append((current, nested[0], entity))
            if nested[1] is not None:
                name, replacement = nested[1]
                if any(name == e for _t, _p, e in stack):
                    raise _refused(f"parameter entity %{_label(name)}; refers to itself")
                stack.append((replacement, 0, name))

    def _token(self, text: str, m: re.Match[str]) -> tuple[int, tuple[str, str] | None]:
        """Handle the token ``m``: where reading goes on, and a parameter entity to read first."""
        opener = m.group(0)
        if opener == "<!--":
            end = text.find("-->", m.end())
            return (len(text) if end < 0 else end + 3), None
        if opener == "<?":
            end = text.find("?>", m.end())
            return (len(text) if end < 0 else end + 2), None
        if m.group("pe_ref") is not None:
            return m.end(), self._parameter_reference(m.group("pe_ref"))
        if opener.startswith("<!ENTITY"):
            self._entity(text, m.start())
        return _declaration_end(text, m.end()), None

    def _parameter_reference(self, name: str) -> tuple[str, str] | None:
        replacement = self.parameters.get(name)
        if replacement is None:
            return None  # external (the XHTML entity sets): never fetched; or never declared
        self.expanded += len(replacement)
        self.steps += 1
        if self.expanded > MAX_EXPANSION_BYTES or self.steps > MAX_EXPANSION_STEPS:
            raise _refused(
                f"parameter entities expand past {MAX_EXPANSION_BYTES} bytes or {MAX_EXPANSION_STEPS} references"
            )
        return name, replacement

    def _entity(self, text: str, start: int) -> None:
        m = _ENTITY.match(text, start)
        if m is None:
            return  # malformed: it declares nothing any parser will see
        name, value = m.group("name"), m.group("value")
        system = m.group("system") or m.group("public_system") or (m.group("external") and "(no identifier)")
        if m.group("pe"):
            if name not in self.parameters:
                self.parameters[name] = _declared_text(value) if value is not None else None
            return
        self.entities.declare(name, value=value, system=system if value is None else None)


def read_subset(dtd: str) -> Entities:
    """The general entities declared by the DTD text ``dtd`` (internal subsets and stray
    declarations of the prolog), expanding internal parameter entity references.

    Raises :class:`HostileXML` when parameter entities expand past
    :data:`MAX_EXPANSION_BYTES` or refer to themselves.
    """
    reader = _Reader()
    reader.read(dtd)
    return reader.entities
