"""Adding sources to a configuration file the user wrote, keeping every line of it.

``import-opml`` and ``add`` append entries to ``sources:`` through ruamel.yaml's round-trip
mode, which keeps comments, quotes, flow lists and key order; the file's own indentation is
read from it and used for the dump. Before anything is written, the result is checked
twice: every line of the old text is still there, unchanged and in order (only lines were
added), and the file reads (with the daemon's own loader) as the same data plus the new
entries. When either check fails the file is left alone and the error says which entries
to add by hand.

The file has been read by :func:`monitor.config.yamlload.load_yaml` first, so a file that
loader refuses (its bounds, unsafe tags) never reaches ruamel.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Sequence
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from monitor.config.models import SourceSettings
from monitor.config.yamlload import YAMLProblem, load_yaml
from monitor.errors import ConfigError

#: the project's own layout (config.example.yaml) for a file that shows none
_MAPPING_INDENT = 2
_SEQUENCE_INDENT = 4
_SEQUENCE_OFFSET = 2


def entry_data(source: SourceSettings) -> dict[str, Any]:
    """The keys ``source`` was given (its ``model_fields_set``) as plain data, in the models'
    order: what its entry in the file says, and nothing it would inherit."""
    return source.model_dump(mode="json", include=set(source.model_fields_set))


def append_sources(text: str, entries: Sequence[SourceSettings], name: str) -> str:
    """``text`` (the configuration file ``name``) with ``entries`` appended to ``sources:``.

    Every line of ``text`` is kept as it is; a missing, null or empty ``sources:`` becomes a
    block list (written before ``rules:`` when the key is missing; a comment on the
    ``sources: []`` line is kept). Raises
    :class:`ConfigError` when the file cannot be read, ``sources:`` is not a list, or the
    result would change a line the user wrote (the message then shows the entries to add
    by hand).
    """
    if not entries:
        return text
    before = _plain(text, name)
    editor = _round_trip()
    try:
        doc = editor.load(text)
    except YAMLError as exc:
        raise ConfigError([f"{name}: cannot edit the file: {exc}"]) from None
    if not isinstance(doc, CommentedMap):
        raise ConfigError([f"{name}: cannot add sources: the file is not a mapping of settings"])
    mapping, sequence, offset = _indentation(doc)
    editor.indent(mapping=mapping, sequence=sequence, offset=offset)
    _target_list(doc, name).extend(_entry_map(entry) for entry in entries)
    out = io.StringIO()
    editor.dump(doc, out)
    result = out.getvalue()
    _check_only_added(text, result, entries, name)
    after = _plain(result, name)
    expected = dict(before or {})
    expected["sources"] = [*(expected.get("sources") or []), *(entry_data(entry) for entry in entries)]
    if after != expected:
        raise ConfigError([_by_hand(name, entries, "the edited file would not read as intended")])
    return result


def entries_yaml(entries: Sequence[SourceSettings]) -> str:
    """``entries`` as the YAML lines of a ``sources:`` list (what to paste by hand)."""
    editor = _round_trip()
    editor.indent(mapping=_MAPPING_INDENT, sequence=_SEQUENCE_INDENT, offset=_SEQUENCE_OFFSET)
    out = io.StringIO()
    editor.dump(CommentedSeq(_entry_map(entry) for entry in entries), out)
    return out.getvalue()


# ---------------------------------------------------------------------------- inside


def _round_trip() -> YAML:
    editor = YAML(typ="rt")
    editor.preserve_quotes = True
    editor.width = 1_000_000  # never fold a long URL or query the user wrote on one line
    return editor


def _plain(text: str, name: str) -> Any:
    try:
        return load_yaml(text, name).data
    except YAMLProblem as exc:
        raise ConfigError([f"{name}:{exc.line}:{exc.column}: {exc.message}"]) from None


def _indentation(doc: CommentedMap) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as the file writes them, else the project's."""
    mapping = next(
        (
            value.lc.key(next(iter(value)))[1]
            for value in doc.values()
            if isinstance(value, CommentedMap) and value and not value.fa.flow_style()
        ),
        _MAPPING_INDENT,
    )
    for value in doc.values():
        if isinstance(value, CommentedSeq) and value and not value.fa.flow_style():
            offset = value.lc.col
            sequence = value.lc.item(0)[1]
            if sequence > offset:
                return mapping, sequence, offset
    return mapping, max(_SEQUENCE_INDENT, mapping), _SEQUENCE_OFFSET


def _target_list(doc: CommentedMap, name: str) -> CommentedSeq:
    current = doc.get("sources")
    if isinstance(current, CommentedSeq):
        current.fa.set_block_style()  # `sources: []` keeps its key, and any comment on the line
        return current
    if current is not None and not isinstance(current, CommentedSeq):
        raise ConfigError([f"{name}: cannot add sources: sources: is not a list"])
    fresh = CommentedSeq()
    fresh.fa.set_block_style()
    if "sources" in doc:
        doc["sources"] = fresh
    elif "rules" in doc:
        doc.insert(list(doc).index("rules"), "sources", fresh)
    else:
        doc["sources"] = fresh
    return fresh


def _entry_map(entry: SourceSettings) -> CommentedMap:
    data = entry_data(entry)
    mapping = CommentedMap()
    for key, value in data.items():
        if isinstance(value, list):
            flow = CommentedSeq(_scalar(v) for v in value)
            flow.fa.set_flow_style()
            mapping[key] = flow
        else:
            mapping[key] = _scalar(value)
    return mapping


_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


def _resolved_tag(value: str) -> str:
    """The tag PyYAML (YAML 1.1, the daemon's loader) gives ``value`` written plain."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag


def _scalar(value: object) -> object:
    # ruamel writes YAML 1.2, the daemon reads YAML 1.1: a title such as "yes", "off" or
    # "1e3" would come back a boolean or a number, so such strings are quoted
    if isinstance(value, str) and _resolved_tag(value) != _STR_TAG:
        return DoubleQuotedScalarString(value)
    return value


#: the one line an edit may change: an empty ``sources:`` that becomes a block list (its
#: comment, if any, must survive)
_EMPTY_SOURCES = re.compile(r"^sources:\s*(?:\[\s*\]|~|null)?\s*(#.*)?$")


def _check_only_added(old: str, new: str, entries: Sequence[SourceSettings], name: str) -> None:
    old_lines = old.splitlines()
    new_lines = new.splitlines()
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag in {"insert", "equal"}:
            continue
        for offset, line in enumerate(old_lines[i1:i2]):
            empty = _EMPTY_SOURCES.match(line)
            if empty is None or (empty.group(1) and empty.group(1) not in new):
                raise ConfigError(
                    [_by_hand(name, entries, f"adding them would change line {i1 + offset + 1} ({line.strip()!r})")]
                )


def _by_hand(name: str, entries: Sequence[SourceSettings], why: str) -> str:
    return (
        f"{name}: the file was left as it is: {why}. Add these entries under sources: by hand:\n"
        + entries_yaml(entries).rstrip("\n")
    )
