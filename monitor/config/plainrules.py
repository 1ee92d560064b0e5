"""A ``rules:`` section of plain lines read without composing it as YAML.

A file of 100 000 rules is almost all ``rules:`` section, and libyaml composing it into
nodes (with a mark object for each) and the walk over them took about a second. Most
such sections are written the same way, line by line::

    rules:
      - name: lithium-supply
        query: "lithium AND (Chile OR Bolivia)"
        notify: [desk]

When every line of the section (:func:`~monitor.config.rulesection.find_rules_section`)
is of that kind, one regular expression reads it here, and YAML reads the rest of the file
alone, with the section replaced by ``rules: []`` on as many lines. A line of the section
is read here only when it means the same to every YAML reader:

- a list item ``- key: value`` at the entries' indentation, or a ``key: value`` two
  columns further (the entry's next key); the key is a plain word that YAML reads as a
  string (``on`` or ``null`` are not);
- the value is a double-quoted string with no escape but ``\\"``, ``\\\\``, ``\\/`` and
  ``\\uXXXX`` (not a surrogate), a single-quoted string, a plain value that starts with a
  letter, digit or ``_`` and holds no ``:``, ``#`` or tab, or ``[a, b]`` of such plain
  words; plain values are typed as YAML types them (``true``, ``3``, ``0.5``);
- or an empty line, or a comment alone on its line.

Anything else (a key twice in an entry, a value on the next line, a flow mapping, an
anchor, a line break other than ``\\n``, a character YAML does not allow) and the whole
file is read by YAML as before, which says what is wrong. The entries' line marks are
made when a message needs them (:meth:`PlainRules.mark`), as the YAML walk makes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from monitor.config.rulesection import RulesSection, find_rules_section
from monitor.config.yamlload import Path, YAMLDocument, YAMLProblem, load_yaml

#: characters YAML refuses in a file (they are not printable), and the line break
_BAD = r"\x00-\x08\x0a-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufeff\ufffe\uffff"
#: a plain key (YAML takes at most 1 024 characters before a key's ":")
_KEY = r"[A-Za-z_][A-Za-z0-9_]{0,127}"
#: a plain word in ``[ ]``: no character a flow collection or a comment gives a meaning to
_FLOW_WORD = r"[A-Za-z0-9_][A-Za-z0-9_.\-/@+]*"
#: one line of a section of plain lines (the ``rules:`` line excepted)
_LINE = re.compile(
    rf"""[ ]*(?:\n|\#[^\n{_BAD}]*\n)
    | (?P<indent>[ ]*)(?P<dash>-[ ]+)?(?P<key>{_KEY}):[ ]+(?:
        "(?P<dq>[^"\\{_BAD}]*+(?:\\(?:["\\/]|u(?![dD][89abAB])[0-9a-fA-F]{{4}})[^"\\{_BAD}]*+)*+)"
      | '(?P<sq>[^'{_BAD}]*+(?:''[^'{_BAD}]*+)*+)'
      | (?P<plain>[A-Za-z0-9_](?:[^:\#\t{_BAD}]*[^:\#\t {_BAD}])?)
      | \[(?P<flow>[ ]*(?:{_FLOW_WORD}[ ]*(?:,[ ]*{_FLOW_WORD}[ ]*)*)?)\]
    )[ ]*\n""",
    re.VERBOSE,
)
_HEAD = re.compile(r"rules:[ ]*\n")
_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.))")
_FLOW_ITEM = re.compile(_FLOW_WORD)
_STR = "tag:yaml.org,2002:str"


_RESOLVER = Resolver()
#: the first characters of the plain scalars YAML may read as other than strings
_TYPED_FIRST = frozenset(ch for ch in Resolver.yaml_implicit_resolvers if ch)


@lru_cache(maxsize=4096)
def _typed_scalar(text: str) -> tuple[bool, Any]:
    tag = _RESOLVER.resolve(ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    if tag == _STR:
        return True, text
    return False, SafeConstructor().construct_object(ScalarNode(tag, text), deep=True)


def _typed(text: str) -> tuple[bool, Any]:
    """What YAML makes of plain scalar ``text`` (not empty): (whether it is a string, its value)."""
    return _typed_scalar(text) if text[0] in _TYPED_FIRST else (True, text)


def _unescaped(match: re.Match[str]) -> str:
    code = match[1]
    return chr(int(code, 16)) if code is not None else match[2]


@dataclass
class PlainRules:
    """Where the entries of a section read here are: each entry's first line (1-based) and
    the offset of that line in the file's text (the section ends at offset ``end``), to mark
    its lines when asked."""

    text: str
    end: int
    lines: list[int]
    offsets: list[int]
    marked: set[int] = field(default_factory=set)

    def mark(self, i: int, marks: dict[Path, tuple[int, int]]) -> None:
        """Put the marks of entry ``i``'s key paths into ``marks``, as the YAML walk puts them:
        the entry at its first key, each key, each value at its first character (a quoted
        one at its quote), each item of ``[ ]``."""
        if i in self.marked or not 0 <= i < len(self.lines):
            return
        self.marked.add(i)
        path: Path = ("rules", i)
        line, pos = self.lines[i], self.offsets[i]
        first = True
        while True:
            found = _LINE.match(self.text, pos)
            assert found is not None  # the text was read with it
            if found["key"] is not None:
                if found["dash"] is not None and not first:
                    return
                if first:
                    marks[path] = (line, found.start("key") - pos + 1)
                    first = False
                child = (*path, found["key"])
                marks[(*child, "__key__")] = (line, found.start("key") - pos + 1)
                if found["plain"] is not None:
                    marks[child] = (line, found.start("plain") - pos + 1)
                else:  # at its opening quote or bracket
                    group = next(g for g in ("dq", "sq", "flow") if found[g] is not None)
                    marks[child] = (line, found.start(group) - pos)
                if found["flow"] is not None:
                    start = found.start("flow")
                    for j, item in enumerate(_FLOW_ITEM.finditer(found["flow"])):
                        marks[(*child, j)] = (line, start + item.start() - pos + 1)
            pos = found.end()
            line += 1
            if pos >= self.end or (i + 1 < len(self.offsets) and pos >= self.offsets[i + 1]):
                return


def load_plain_rules(text: str, name: str) -> YAMLDocument | None:
    """``text`` read with its ``rules:`` section read here (see the module), or None when the
    section is not of plain lines, or anything in the file is wrong: then the file must be
    read by :func:`~monitor.config.yamlload.load_yaml`, which says what."""
    if "\r" in text or "\ufeff" in text:
        return None
    section = find_rules_section(text)
    if section is None or not _HEAD.match(text, section.start):
        return None
    read = _read_section(text, section)
    if read is None:
        return None
    entries, plain = read
    try:
        doc = load_yaml(section.rest(text), name)
    except YAMLProblem:
        return None
    data = doc.data
    if (
        doc.duplicates
        or not doc.block_root
        or not isinstance(data, dict)
        or data.get("rules") != []
        or doc.lines.get(("rules", "__key__")) != (section.line, 1)
    ):
        return None
    data["rules"] = entries
    first = _LINE.match(text, plain.offsets[0])
    assert first is not None
    doc.lines[("rules",)] = (plain.lines[0], first.start("dash") - plain.offsets[0] + 1)
    doc.rules_end = section.end_at
    doc.rules_aliased = False
    doc.plain_rules = plain
    return doc


def _read_section(text: str, section: RulesSection) -> tuple[list[dict[str, Any]], PlainRules] | None:  # noqa: C901
    """The entries of ``section`` and where they are, or None when a line is not plain."""
    head = _HEAD.match(text, section.start)
    assert head is not None
    pos, end = head.end(), section.end
    line = section.line + 1
    entries: list[dict[str, Any]] = []
    lines: list[int] = []
    offsets: list[int] = []
    entry: dict[str, Any] | None = None
    indent = -1
    unescaped = _ESCAPE.sub
    for found in _LINE.finditer(text, pos, end):
        if found.start() != pos:
            return None
        pos = found.end()
        line += 1
        spaces, dash, key, dq, sq, plain, flow = found.groups()
        if key is None:
            continue  # an empty line or a comment
        width = len(spaces)
        if dash is not None:
            if indent < 0:
                indent = width
            if width != indent or dash != "- ":
                return None
            entry = {}
            entries.append(entry)
            lines.append(line - 1)
            offsets.append(found.start())
        elif entry is None or width != indent + 2:
            return None
        if key in entry or (key[0] in _TYPED_FIRST and not _typed_scalar(key)[0]):
            return None
        if dq is not None:
            entry[key] = unescaped(_unescaped, dq) if "\\" in dq else dq
        elif sq is not None:
            entry[key] = sq.replace("''", "'")
        elif plain is not None:
            entry[key] = plain if plain[0] not in _TYPED_FIRST else _typed_scalar(plain)[1]
        else:
            entry[key] = [_typed(item)[1] for item in _FLOW_ITEM.findall(flow)]
    if not entries or pos != end:
        return None
    return entries, PlainRules(text, end, lines, offsets)
