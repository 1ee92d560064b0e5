"""A problem found in the configuration file: where it is (a key path) and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.config.yamlload import Path as KeyPath

#: the last part of a key path that points at a key itself rather than at its value
AT_KEY = "__key__"


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem of the file.

    ``path`` is a key path such as ``("rules", 3, "notify", 0)``; it ends in :data:`AT_KEY`
    when the key itself is wrong (an unknown key). ``message`` says what is wrong and, where
    it can, the bad value and what is allowed; secrets in it are already masked. ``at`` is
    the 1-based (line, column) when the problem knows it better than its key path does
    (a duplicate key: the path names the first one, ``at`` the repeat).
    """

    path: KeyPath
    message: str
    at: tuple[int, int] | None = None

    @property
    def where(self) -> str:
        """The key path as the user writes it: ``rules[3].notify[0]``, or ``(top level)``."""
        return format_path(tuple(part for part in self.path if part != AT_KEY))


def format_path(path: KeyPath) -> str:
    """``("rules", 3, "notify", 0)`` → ``rules[3].notify[0]``; the empty path → ``(top level)``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def problem_at(path: KeyPath, message: str | None) -> list[Problem]:
    """``[Problem(path, message)]``, or nothing when a checker found nothing (``message`` None or empty)."""
    return [Problem(path, message)] if message else []
