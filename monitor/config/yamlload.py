"""YAML loading that keeps line numbers, refuses duplicate keys and unsafe tags.

:func:`load_yaml` returns the plain data plus a map from key paths
(``("rules", 3, "notify", 0)``) to 1-based ``(line, column)`` so every later
error can point at the file position.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]


class YAMLProblem(Exception):
    """A YAML syntax problem, with a 1-based line and column."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class _Loader(yaml.SafeLoader):
    """SafeLoader: no Python tags, so ``!!python/object`` is refused."""


def _position(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


_PLAIN_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _walk(loader: _Loader, node: Node, path: Path, lines: dict[Path, tuple[int, int]]) -> Any:
    lines[path] = _position(node)
    if not isinstance(node, ScalarNode) and node.tag not in _PLAIN_COLLECTION_TAGS:
        line, col = _position(node)
        raise YAMLProblem(f"tag {node.tag} is not allowed (plain YAML only)", line, col)
    if isinstance(node, MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                line, col = _position(key_node)
                raise YAMLProblem("mapping keys must be plain scalars", line, col)
            if key in seen:
                line, col = _position(key_node)
                raise YAMLProblem(
                    f"duplicate key {key!r} (first defined at line {seen[key]}); YAML would silently keep "
                    "only the last one, so newsmonitor refuses the file",
                    line,
                    col,
                )
            seen[key] = _position(key_node)[0]
            child = (*path, str(key))
            lines[(*child, "__key__")] = _position(key_node)
            result[key] = _walk(loader, value_node, child, lines)
        return result
    if isinstance(node, SequenceNode):
        return [_walk(loader, child, (*path, i), lines) for i, child in enumerate(node.value)]
    assert isinstance(node, ScalarNode)
    return loader.construct_object(node, deep=True)


def load_yaml(text: str, name: str = "<config>") -> tuple[Any, dict[Path, tuple[int, int]]]:
    """Parse one YAML document.

    Returns ``(data, lines)``. Raises :class:`YAMLProblem` for syntax errors, duplicate
    keys and tags that are not plain YAML (e.g. ``!!python/object/apply``).
    """
    lines: dict[Path, tuple[int, int]] = {}
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        return _walk(loader, node, (), lines), lines
    except YAMLProblem:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or str(exc)
        if "could not determine a constructor" in str(exc):
            problem = (
                "tag " + (str(exc).split("tag '")[-1].split("'")[0]) + " is not allowed (plain YAML only)"
            )
        if "found character '\\t'" in str(exc):
            problem = "tab characters are not allowed for indentation; use spaces"
        raise YAMLProblem(problem, line, col) from None
    except yaml.YAMLError as exc:
        raise YAMLProblem(str(exc), 0, 0) from None
    finally:
        loader.dispose()
