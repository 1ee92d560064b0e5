"""YAML loading that keeps line numbers, refuses duplicate keys and unsafe tags.

:func:`load_yaml` returns the plain data, a map from key paths (``("rules", 3, "notify", 0)``)
to 1-based ``(line, column)`` so every later error can point at the file position, and
the duplicate keys it found. A syntax error is said in words with a hint (an indentation
mistake, an unclosed quote), not in the parser's own terms. What a file may make the loader
build is bounded (:mod:`monitor.config.yamlbounds`): an alias bomb or a file nested
thousands of levels deep is one problem at its line, found before it costs anything.

Two parsers read a file. libyaml (PyYAML's ``CSafeLoader``) composes it first: it keeps the
same line and column marks and is ten times faster than PyYAML's pure-Python parser (a
100 000-rule file: 1.3 s instead of 13 s). Anything libyaml refuses, and anything the walk
refuses in what it composed, is read again by the pure-Python parser, which finds the
problem and says it in the words below, as it always has: libyaml's own messages and marks
for a broken file differ from PyYAML's, and a broken file is small or rare. libyaml reads
a little more YAML than PyYAML's parser did: a ``?`` inside an unquoted value in ``[ ]``
(``[https://example.com/feed?x=1]``) and a tab between a key and its value are values now,
not errors (tests/config/test_yamlload.py lists them, and checks that both parsers read
every other file of the tests the same, line marks included).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from monitor.config.yamlbounds import LIMITS, Limits, OverLimit, locate_over_limit, too_deep, too_many_repeats

Path = tuple[str | int, ...]


class YAMLProblem(Exception):
    """A YAML problem at a 1-based line and column; ``path`` is the key path when known."""

    def __init__(self, message: str, line: int, column: int, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.path = path


class RuleMarks(Protocol):
    """Marks rule entries read without them (see :mod:`monitor.config.plainrules`)."""

    def mark(self, i: int, marks: dict[Path, tuple[int, int]]) -> None:
        """Put the marks of rule entry ``i``'s key paths into ``marks`` (nothing when it has none)."""


@dataclass
class YAMLDocument:
    """One parsed file: its data, where each key path is, and the duplicate keys found.

    A duplicate key keeps its first value (the repeat is not read), so the rest of the
    file is still checked and every problem reported at once.
    """

    data: Any
    lines: dict[Path, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[YAMLProblem] = field(default_factory=list)
    #: whether the document is a block mapping (keys on their own lines, not ``{...}``)
    block_root: bool = False
    #: where the value of the top-level ``rules`` key ends (0-based line and column), and
    #: whether it repeats any node (an alias or a merge): what tells whether the rules are
    #: read from their own lines alone (:mod:`monitor.config.rulesection`)
    rules_end: tuple[int, int] | None = None
    rules_aliased: bool = False
    #: the rule entries read without line marks (by index): :meth:`position` marks them
    #: when a message needs one
    unmarked: dict[int, MappingNode] = field(default_factory=dict)
    #: the rule entries read from plain lines (see :mod:`monitor.config.plainrules`), marked
    #: by :meth:`position` when asked
    plain_rules: RuleMarks | None = None

    def position(self, path: Path) -> tuple[int, int] | None:
        """The 1-based ``(line, column)`` of key path ``path``, or None when it has none."""
        found = self.lines.get(path)
        if found is None and len(path) > 1 and path[0] == "rules" and isinstance(path[1], int):
            node = self.unmarked.pop(path[1], None)
            if node is not None:
                _mark_plain(node, path[:2], self.lines)
                found = self.lines.get(path)
            elif self.plain_rules is not None:
                self.plain_rules.mark(path[1], self.lines)
                found = self.lines.get(path)
        return found


class _Loader(yaml.SafeLoader):
    """SafeLoader: no Python tags, so ``!!python/object`` is refused.

    Composing stops at ``limits.depth`` levels: PyYAML's composer recurses once a level,
    and its scanner takes seconds to read thousands of nested ``[`` (a 12 KB file, 19 s).
    """

    limits = LIMITS
    _level = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._level += 1
        try:
            if self._level > self.limits.depth + 1:  # a node inside more than `depth` collections
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise OverLimit.at(too_deep(self.limits), event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self._level -= 1


#: libyaml's loader (None when PyYAML was built without it): plain YAML only, as ``_Loader``;
#: libyaml itself refuses more than 1 000 levels of nesting, and the walk more than ``depth``
_FastLoader: type[yaml.CSafeLoader] | None = getattr(yaml, "CSafeLoader", None) if yaml.__with_libyaml__ else None


#: a file this large (about 20 000 rules) builds enough objects that :func:`collector_paused`
#: takes them out of the collector's way
LARGE_TEXT = 1 << 20


@contextmanager
def collector_paused(*, large: bool = False) -> Iterator[None]:
    """No cyclic garbage collection inside the ``with`` block, and after it as before.

    Loading a large file builds millions of objects that all live on, and none is garbage:
    collections meanwhile walk them again and again (the nodes of a 100 000-rule file took
    3.7 s to compose with the collector on, 0.6 s with it off). Afterwards the first
    collections would still walk each of them, twice or three times (seconds at 100 000
    rules, wherever they happen to start), so with ``large`` what is left when the block
    ends is frozen (:func:`gc.freeze`: never walked again, freed as usual when unused):
    the heap is collected first (it is small then) so that no older garbage is frozen with
    it. An exception leaving the block freezes nothing. Only the outermost block acts.
    """
    enabled = gc.isenabled()
    if enabled and large:
        gc.collect()
    gc.disable()
    try:
        yield
        if enabled and large:
            gc.freeze()
    finally:
        if enabled:
            gc.enable()


def _position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_PLAIN_COLLECTION_TAGS = {_MAP_TAG, _SEQ_TAG}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"
_STR_TAG = "tag:yaml.org,2002:str"

Pairs = list[tuple[Node, Node]]


class _Walk:
    """One walk over a composed document: the plain data, a line mark for every key path.

    An alias is a second reference to a node, and the walk builds its value again at each
    place, so the walk counts the nodes it visits again and stops (:class:`OverLimit`) when
    aliases repeat more than ``limits`` allow or the values nest too deeply, before the
    repeats cost anything (every later step walks the data it returns).
    """

    def __init__(self, loader: SafeConstructor, doc: YAMLDocument, limits: Limits, *, lazy_rules: bool = False) -> None:
        self.loader = loader
        self.doc = doc
        self.limits = limits
        #: read plain rule entries without their line marks (see :meth:`rules`)
        self.lazy_rules = lazy_rules
        self.seen: set[int] = set()
        self.repeats = 0
        #: each mapping's pairs with its merge keys resolved, by id
        self.merged: dict[int, Pairs] = {}

    def count(self, node: Node) -> None:
        """Count a visit of ``node``; raises :class:`OverLimit` when aliases repeat too much."""
        seen = self.seen
        written = len(seen)
        seen.add(id(node))
        if len(seen) > written:  # a first visit (one set operation: the walk's most common step)
            return
        self.repeats += 1
        written = len(self.seen)
        if self.repeats > self.limits.repeats_allowed(written):
            raise OverLimit(too_many_repeats(self.limits, written, self.repeats), *_position(node))

    def value(self, node: Node, path: Path, level: int) -> Any:
        """The plain value of ``node`` at key ``path``, ``level`` lists or mappings deep."""
        self.count(node)
        self.doc.lines[path] = _position(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if node.tag not in _PLAIN_COLLECTION_TAGS:
            line, col = _position(node)
            raise YAMLProblem(f"tag {node.tag} is not allowed (plain YAML only)", line, col)
        if level >= self.limits.depth:
            raise OverLimit(too_deep(self.limits), *_position(node))
        if isinstance(node, MappingNode):
            return self.mapping(node, path, level + 1)
        assert isinstance(node, SequenceNode)
        return [self.value(child, (*path, i), level + 1) for i, child in enumerate(node.value)]

    def rules(self, node: Node, path: Path, level: int) -> Any:
        """The value of the top-level ``rules`` key: as :meth:`value` reads it, but an entry of
        plain shape (:meth:`plain_entry`) is read without marking its lines, which is most of
        the cost of reading it; :meth:`YAMLDocument.position` marks one when asked."""
        if not isinstance(node, SequenceNode) or node.tag != _SEQ_TAG or level + 2 >= self.limits.depth:
            return self.value(node, path, level)
        self.count(node)
        self.doc.lines[path] = _position(node)
        items: list[Any] = []
        unmarked = self.doc.unmarked
        for i, item in enumerate(node.value):
            entry = self.plain_entry(item)
            if entry is None:
                items.append(self.value(item, (*path, i), level + 1))
            else:
                items.append(entry)
                unmarked[i] = item
        return items

    def plain_entry(self, node: Node) -> dict[str, Any] | None:
        """The mapping of ``node`` when it is plain: distinct plain-string keys, each value a
        scalar or a list of scalars, no node seen before (an alias) and no merge; None
        otherwise (:meth:`value` reads it, and says what is wrong)."""
        if type(node) is not MappingNode or node.tag != _MAP_TAG:
            return None
        entry: dict[str, Any] = {}
        ids = [id(node)]
        for key, value in node.value:
            if type(key) is not ScalarNode or key.tag != _STR_TAG or key.value in entry:
                return None
            ids.append(id(key))
            ids.append(id(value))
            if type(value) is ScalarNode:
                entry[key.value] = value.value if value.tag == _STR_TAG else None
            elif type(value) is SequenceNode and value.tag == _SEQ_TAG:
                children = value.value
                if any(type(child) is not ScalarNode for child in children):
                    return None
                ids.extend(map(id, children))
                entry[key.value] = [
                    child.value if child.tag == _STR_TAG else self.loader.construct_object(child, deep=True)
                    for child in children
                ]
            else:
                return None
        seen = self.seen
        if not seen.isdisjoint(ids) or len(set(ids)) != len(ids):
            return None
        seen.update(ids)
        for key, value in node.value:  # the scalars that are not strings (true, 3, null)
            if type(value) is ScalarNode and value.tag != _STR_TAG:
                entry[key.value] = self.loader.construct_object(value, deep=True)
        return entry

    def scalar(self, node: ScalarNode) -> Any:
        """The value of scalar ``node``; a string is its own (what the constructor would return,
        without its bookkeeping, which costs more than the rest of the walk)."""
        return node.value if node.tag == _STR_TAG else self.loader.construct_object(node, deep=True)

    def mapping(self, node: MappingNode, path: Path, level: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        for key_node, value_node in self.pairs(node, 0):
            self.count(key_node)
            line, col = _position(key_node)
            if isinstance(key_node, ScalarNode):
                key = self.scalar(key_node)
            else:
                key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise YAMLProblem("mapping keys must be plain scalars", line, col)
            child = (*path, str(key))
            if key in seen:
                message = (
                    f"duplicate key {key!r} (first defined at line {seen[key]}); YAML would silently keep "
                    "only the last one, so newsmonitor refuses the file"
                )
                self.doc.duplicates.append(YAMLProblem(message, line, col, child))
                continue
            seen[key] = line
            self.doc.lines[(*child, "__key__")] = (line, col)
            if not path and key == "rules":
                repeats = self.repeats
                result[key] = self.rules(value_node, child, level) if self.lazy_rules else self.value(
                    value_node, child, level)
                self.doc.rules_end = (value_node.end_mark.line, value_node.end_mark.column)
                self.doc.rules_aliased = self.repeats != repeats
                continue
            result[key] = self.value(value_node, child, level)
        return result

    def pairs(self, node: MappingNode, chain: int) -> Pairs:
        """The pairs of ``node`` with its merge keys (``<<: *defaults``) resolved, as YAML merges:
        a key of its own wins over a merged one, and of the merged mappings the first wins.

        Each key appears once. PyYAML's own merge keeps a merged key beside the mapping's own
        key of the same name (which the walk would refuse as a duplicate), and releases before
        6.0.4 repeat a key merged several times, so that a chain of mappings each merging the
        one before nine times grows nine-fold a link. ``chain`` counts the merges that led here.
        """
        pairs: Pairs = node.value
        if not any(key.tag in (_MERGE_TAG, _VALUE_TAG) for key, _ in pairs):
            return pairs
        done = self.merged.get(id(node))
        if done is not None:
            return done
        if chain >= self.limits.depth:
            raise OverLimit(too_deep(self.limits), *_position(node))
        own: Pairs = []
        for key, value in node.value:
            if key.tag == _VALUE_TAG:  # a lone '=' key is the string '=' (as PyYAML reads it)
                key.tag = "tag:yaml.org,2002:str"
            if key.tag != _MERGE_TAG:
                own.append((key, value))
        names = {self._name(key) for key, _ in own}
        merged: Pairs = []
        for source in self._merge_sources(node):
            for key, value in self.pairs(source, chain + 1):
                name = self._name(key)
                if name not in names:
                    names.add(name)
                    merged.append((key, value))
        self.merged[id(node)] = merged + own
        return merged + own

    def _merge_sources(self, node: MappingNode) -> list[MappingNode]:
        sources: list[MappingNode] = []
        for key, value in node.value:
            if key.tag != _MERGE_TAG:
                continue
            for source in value.value if isinstance(value, SequenceNode) else [value]:
                if not isinstance(source, MappingNode):
                    line, col = _position(key)
                    raise YAMLProblem("'<<' merges a mapping or a list of mappings: <<: *defaults", line, col)
                if source is node:
                    line, col = _position(key)
                    raise YAMLProblem("this mapping merges itself ('<<' names the mapping it is in)", line, col)
                sources.append(source)
        return sources

    def _name(self, key: Node) -> object:
        # a key compared as the walk will read it; a non-scalar key is refused there
        if isinstance(key, ScalarNode):
            return self.scalar(key)
        return key


def _mark_plain(node: MappingNode, path: Path, lines: dict[Path, tuple[int, int]]) -> None:
    """Mark the lines of a rule entry :meth:`_Walk.plain_entry` read, as :meth:`_Walk.value`
    marks them."""
    lines[path] = _position(node)
    for key, value in node.value:
        child = (*path, key.value)
        lines[(*child, "__key__")] = _position(key)
        lines[child] = _position(value)
        if isinstance(value, SequenceNode):
            for i, item in enumerate(value.value):
                lines[(*child, i)] = _position(item)


def load_yaml(text: str, name: str = "<config>", limits: Limits = LIMITS, *, lazy_rules: bool = False) -> YAMLDocument:
    """Parse one YAML document.

    Returns the :class:`YAMLDocument` (its ``data`` is None for an empty file). Raises
    :class:`YAMLProblem` for syntax errors (in words, with a hint), characters YAML does not
    allow (a NUL byte), tags that are not plain YAML (e.g. ``!!python/object/apply``), and
    a file over ``limits``: aliases that repeat too much (an alias bomb) or values nested
    too deeply, each at the alias or line that went over. Duplicate keys are listed in the
    document instead, so they do not hide the file's other problems.
    """
    with collector_paused(large=len(text) >= LARGE_TEXT):
        doc = _load_fast(text, limits, lazy_rules=lazy_rules)
        return doc if doc is not None else _load_exact(text, limits)


def _load_fast(text: str, limits: Limits, *, lazy_rules: bool = False) -> YAMLDocument | None:
    """The document as libyaml composes it, or None when libyaml is missing or anything in
    the file is wrong (then :func:`_load_exact` says what)."""
    if _FastLoader is None or "\ufeff" in text[1:]:  # PyYAML does not count a BOM as a column; libyaml does
        return None
    doc = YAMLDocument(None)
    try:
        loader = _FastLoader(text)
    except (yaml.YAMLError, UnicodeError):  # a lone surrogate cannot be given to libyaml
        return None
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.block_root = isinstance(node, MappingNode) and not node.flow_style
            doc.data = _Walk(loader, doc, limits, lazy_rules=lazy_rules).value(node, (), 0)
    except (yaml.YAMLError, YAMLProblem, OverLimit, RecursionError, UnicodeError):
        return None
    finally:
        loader.dispose()
    return doc


def _load_exact(text: str, limits: Limits) -> YAMLDocument:
    """The document as PyYAML's pure-Python parser reads it (see :func:`load_yaml`)."""
    doc = YAMLDocument(None)
    try:
        loader = _Loader(text)
    except ReaderError as exc:
        raise _unreadable(exc, text) from None
    loader.limits = limits
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.block_root = isinstance(node, MappingNode) and not node.flow_style
            doc.data = _Walk(loader, doc, limits).value(node, (), 0)
        return doc
    except YAMLProblem:
        raise
    except (OverLimit, RecursionError) as exc:
        # where the file went over, told from its events: the walk knows the node, not the alias
        replay = _Loader(text)
        try:
            found = locate_over_limit(replay, limits)
        finally:
            replay.dispose()
        if found is None:
            found = exc if isinstance(exc, OverLimit) else OverLimit(too_deep(limits), 1, 1)
        raise YAMLProblem(found.message, found.line, found.column) from None
    except yaml.MarkedYAMLError as exc:
        raise _explain(exc) from None
    except yaml.YAMLError as exc:
        raise YAMLProblem(str(exc), 1, 1) from None
    finally:
        loader.dispose()


def _unreadable(exc: ReaderError, text: str) -> YAMLProblem:
    """A character YAML does not allow, at its line and column."""
    position = exc.position
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    code = exc.character if isinstance(exc.character, int) else 0
    what = "a NUL byte (U+0000)" if code == 0 else f"the character U+{code:04X}"
    return YAMLProblem(
        f"{what} is not allowed in a YAML file (control characters, lone surrogates and "
        "U+FFFE/U+FFFF are not); delete it. A file full of them is not text, or not UTF-8 "
        "(save it as UTF-8)",
        line,
        column,
    )


# ---------------------------------------------------------------------------- syntax errors in words

_INDENT_HINT = "indent the keys of one mapping to the same column, and a key's nested value further than the key"


def _at(mark: Mark | None) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark else (0, 0)


def _misfit(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    """``expected <block end>, but found ...``: a line that fits neither the block it is in nor the one above."""
    line, col = _at(exc.problem_mark)
    start_line, start_col = _at(exc.context_mark)
    if "'<scalar>'" in (exc.problem or ""):
        return YAMLProblem(
            "unexpected text after a value: a quoted value must be the whole value; "
            "quote all of it (query: '\"rare earths\" OR lithium')",
            line,
            col,
        )
    if "collection" in (exc.context or ""):
        where = f"the list that starts at line {start_line} (its items start with '- ' at column {start_col})"
        hint = "a key of a list item lines up with the item's first key, after the '- '"
    else:
        where = f"the mapping that starts at line {start_line} (its keys start at column {start_col})"
        hint = _INDENT_HINT
    if "'-'" in (exc.problem or "") or "<block sequence start>" in (exc.problem or ""):
        hint = (
            "this '- ' item belongs to no list: the items of one list start with '- ' in the same "
            "column, under the key the list belongs to"
        )
    return YAMLProblem(f"wrong indentation: this line does not line up with {where}; {hint}", line, col)


def _colon_here(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    line, col = _at(exc.problem_mark)
    return YAMLProblem(
        "unexpected ':' here: this line is indented further than the key above it (the keys of "
        "one mapping start in the same column), or the key above lacks its ':', or a value "
        "contains ': ' and needs quotes (query: 'title: Japan')",
        line,
        col,
    )


def _no_colon(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    line, col = _at(exc.context_mark)
    return YAMLProblem("a key without ':' after it: write 'key: value' (a space after the ':')", line, col)


def _unclosed_quote(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    if "quoted" not in (exc.context or ""):
        return YAMLProblem(exc.problem or str(exc), *_at(exc.problem_mark))
    line, col = _at(exc.context_mark)
    return YAMLProblem("this quoted value is never closed: add the closing quote", line, col)


def _unclosed_flow(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    line, col = _at(exc.context_mark)
    opened, close = ("{", "}") if "mapping" in (exc.context or "") else ("[", "]")
    return YAMLProblem(
        f"the '{opened}' here is not closed with '{close}' (or an item in it contains ': ' and needs quotes)",
        line,
        col,
    )


def _bad_start(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    line, col = _at(exc.problem_mark)
    problem = exc.problem or ""
    if "'\\t'" in problem:
        return YAMLProblem("tab characters are not allowed for indentation; use spaces", line, col)
    char = problem.split("'")[1] if problem.count("'") >= 2 else "this character"
    return YAMLProblem(f"a value cannot start with {char}: put the value in quotes", line, col)


def _second_document(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    line, col = _at(exc.problem_mark)
    return YAMLProblem("a second YAML document starts here ('---'); the file must hold one", line, col)


def _undefined_alias(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    line, col = _at(exc.problem_mark)
    name = (exc.problem or "").split("'")[1] if (exc.problem or "").count("'") >= 2 else ""
    return YAMLProblem(
        f"the alias *{name} names no anchor: an alias repeats a value marked &{name} above it", line, col
    )


def _second_anchor(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    line, col = _at(exc.problem_mark)
    first, _ = _at(exc.context_mark)
    name = (exc.context or "").split("'")[1] if (exc.context or "").count("'") >= 2 else ""
    return YAMLProblem(f"the anchor &{name} is defined twice (first at line {first}); give each its own name", line, col)


def _bad_constructor(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    line, col = _at(exc.problem_mark)
    tag = str(exc).split("tag '")[-1].split("'")[0]
    return YAMLProblem(f"tag {tag} is not allowed (plain YAML only)", line, col)


#: the parser's problem (its start) → the words for it
_EXPLAINED: tuple[tuple[str, Callable[[yaml.MarkedYAMLError], YAMLProblem]], ...] = (
    ("expected <block end>", _misfit),
    ("did not find expected key", _misfit),
    ("did not find expected '-' indicator", _misfit),
    ("mapping values are not allowed here", _colon_here),
    ("could not find expected ':'", _no_colon),
    ("found unexpected end of stream", _unclosed_quote),
    ("expected ',' or ']'", _unclosed_flow),
    ("expected ',' or '}'", _unclosed_flow),
    ("found character", _bad_start),
    ("could not determine a constructor", _bad_constructor),
    ("but found another document", _second_document),
    ("found undefined alias", _undefined_alias),
    ("second occurrence", _second_anchor),
)


def _explain(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    """The syntax error ``exc`` in words, at the line the user has to change."""
    problem = exc.problem or ""
    for start, explain in _EXPLAINED:
        if problem.startswith(start):
            return explain(exc)
    line, col = _at(exc.problem_mark or exc.context_mark)
    return YAMLProblem(problem or str(exc), line, col)
