"""YAML loading that keeps line numbers, refuses duplicate keys and unsafe tags.

:func:`load_yaml` returns the plain data, a map from key paths (``("rules", 3, "notify", 0)``)
to 1-based ``(line, column)`` so every later error can point at the file position, and
the duplicate keys it found. A syntax error is said in words with a hint (an indentation
mistake, an unclosed quote), not in the parser's own terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]


class YAMLProblem(Exception):
    """A YAML problem at a 1-based line and column; ``path`` is the key path when known."""

    def __init__(self, message: str, line: int, column: int, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.path = path


@dataclass
class YAMLDocument:
    """One parsed file: its data, where each key path is, and the duplicate keys found.

    A duplicate key keeps its first value (the repeat is not read), so the rest of the
    file is still checked and every problem reported at once.
    """

    data: Any
    lines: dict[Path, tuple[int, int]] = field(default_factory=dict)
    duplicates: list[YAMLProblem] = field(default_factory=list)


class _Loader(yaml.SafeLoader):
    """SafeLoader: no Python tags, so ``!!python/object`` is refused."""


def _position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


_PLAIN_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _walk(loader: _Loader, node: Node, path: Path, doc: YAMLDocument) -> Any:
    doc.lines[path] = _position(node)
    if not isinstance(node, ScalarNode) and node.tag not in _PLAIN_COLLECTION_TAGS:
        line, col = _position(node)
        raise YAMLProblem(f"tag {node.tag} is not allowed (plain YAML only)", line, col)
    if isinstance(node, MappingNode):
        return _walk_mapping(loader, node, path, doc)
    if isinstance(node, SequenceNode):
        return [_walk(loader, child, (*path, i), doc) for i, child in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    return loader.construct_object(node, deep=True)


def _walk_mapping(loader: _Loader, node: MappingNode, path: Path, doc: YAMLDocument) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    seen: dict[Any, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            line, col = _position(key_node)
            raise YAMLProblem("mapping keys must be plain scalars", line, col)
        child = (*path, str(key))
        if key in seen:
            line, col = _position(key_node)
            message = (
                f"duplicate key {key!r} (first defined at line {seen[key]}); YAML would silently keep "
                "only the last one, so newsmonitor refuses the file"
            )
            doc.duplicates.append(YAMLProblem(message, line, col, child))
            continue
        seen[key] = _position(key_node)[0]
        doc.lines[(*child, "__key__")] = _position(key_node)
        result[key] = _walk(loader, value_node, child, doc)
    return result


def load_yaml(text: str, name: str = "<config>") -> YAMLDocument:
    """Parse one YAML document.

    Returns the :class:`YAMLDocument` (its ``data`` is None for an empty file). Raises
    :class:`YAMLProblem` for syntax errors (in words, with a hint) and tags that are not
    plain YAML (e.g. ``!!python/object/apply``); duplicate keys are listed in the document
    instead, so they do not hide the file's other problems.
    """
    doc = YAMLDocument(None)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _walk(loader, node, (), doc)
        return doc
    except YAMLProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        raise _explain(exc) from None
    except yaml.YAMLError as exc:
        raise YAMLProblem(str(exc), 0, 0) from None
    finally:
        loader.dispose()


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
)


def _explain(exc: yaml.MarkedYAMLError) -> YAMLProblem:
    """The syntax error ``exc`` in words, at the line the user has to change."""
    problem = exc.problem or ""
    for start, explain in _EXPLAINED:
        if problem.startswith(start):
            return explain(exc)
    line, col = _at(exc.problem_mark or exc.context_mark)
    return YAMLProblem(problem or str(exc), line, col)
