"""What a small YAML file may make the loader build: how far aliases repeat it, how deep it nests.

PyYAML composes an alias (``*name``) as a second reference to the node its anchor
(``&name``) names, so composing a "billion laughs" file is cheap: a few hundred bytes give
a graph of a hundred nodes. The cost comes after, in every walk that follows each
reference as a value of its own (line marks, ``${VAR}`` expansion, validation): 388 bytes
that repeat 4.8 million values took 15 s and 1.7 GB in ``check``, 442 bytes ran out of
memory. :mod:`monitor.config.yamlload` counts the nodes its walk visits again and stops
at :class:`Limits`; this module replays the file's events to say at which alias (or
which line nests too deep) the file went over, in words.

Both bounds are checked on the composed node graph and the event stream, which PyYAML's
pure-Python loader and its libyaml loader both produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    Event,
    ScalarEvent,
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one file may make the loader build.

    ``depth``: lists and mappings nested inside each other (a configuration needs about 6).
    Aliases (``*name``, ``<<: *name``) may repeat ``repeat_floor`` nodes in all, or
    ``repeat_ratio`` times the nodes the file writes out when that is more: sharing a block
    of defaults between many rules is fine, a few lines that grow into millions of values
    are not.
    """

    depth: int = 64
    repeat_floor: int = 10_000
    repeat_ratio: int = 10

    def repeats_allowed(self, written: int) -> int:
        """How many nodes aliases may repeat in a file that writes out ``written`` nodes."""
        return max(self.repeat_floor, self.repeat_ratio * written)


#: the limits every configuration and rules file is loaded with
LIMITS = Limits()


def too_deep(limits: Limits, alias: str | None = None) -> str:
    """The problem of a file nested deeper than ``limits.depth`` (through ``alias``, if named)."""
    through = f" through this alias (*{alias})" if alias else ""
    return (
        f"nested too deeply{through}: more than {limits.depth} levels of lists and mappings inside "
        "each other (a configuration needs fewer than 10)"
    )


def too_many_repeats(limits: Limits, written: int, repeats: int, alias: str | None = None, size: int = 0) -> str:
    """The problem of a file whose aliases repeat ``repeats`` nodes, more than ``limits`` allow
    for ``written`` nodes written out; ``alias`` (repeating ``size`` nodes) is the one that went over."""
    allowed = limits.repeats_allowed(written)
    what = f"this alias (*{alias}) repeats {size:,} nodes, so the file's aliases" if alias else "the file's aliases"
    return (
        f"{what} repeat {repeats:,} nodes: more than the {allowed:,} allowed ({limits.repeat_floor:,}, "
        f"or {limits.repeat_ratio} times the {written:,} nodes written out if that is more); write the "
        "repeated part out, or repeat less of it (a few lines must not grow into millions of values)"
    )


def repeats_itself(alias: str) -> str:
    """The problem of an alias inside the node its anchor names."""
    return f"this alias (*{alias}) is inside the node &{alias} it names, so it would repeat itself forever"


class Mark(Protocol):
    """A place in the file as either loader marks it: 0-based line and column."""

    @property
    def line(self) -> int: ...

    @property
    def column(self) -> int: ...


class OverLimit(Exception):
    """The file goes over a :class:`Limits` bound at a 1-based line and column."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    @classmethod
    def at(cls, message: str, mark: Mark | None) -> OverLimit:
        """The problem ``message`` at ``mark`` (line 1 when the parser gave none)."""
        return cls(message, mark.line + 1, mark.column + 1) if mark else cls(message, 1, 1)


@dataclass
class _Open:
    """A list or mapping whose end event has not come yet."""

    anchor: str | None
    nodes: int = 1
    #: the height of its tallest child (a scalar's height is 0)
    tallest: int = 0


@dataclass
class _Replay:
    """Composition replayed on events, counting what the loader's walk would visit.

    Each anchor remembers how many nodes and how many levels of nesting the node it names
    holds once its own aliases are followed; an alias adds that many repeated nodes at its
    place. The first event that goes over the limits raises :class:`OverLimit` there.
    """

    limits: Limits
    written: int = 0
    repeats: int = 0
    anchors: dict[str, tuple[int, int]] = field(default_factory=dict)
    open: list[_Open] = field(default_factory=list)

    def feed(self, event: Event) -> None:
        if isinstance(event, AliasEvent):
            self._alias(event)
        elif isinstance(event, ScalarEvent):
            self.written += 1
            self._add(event.anchor, 1, 0)
        elif isinstance(event, CollectionStartEvent):
            self.written += 1
            if len(self.open) >= self.limits.depth:
                raise OverLimit.at(too_deep(self.limits), event.start_mark)
            self.open.append(_Open(event.anchor))
        elif isinstance(event, CollectionEndEvent):
            done = self.open.pop()
            self._add(done.anchor, done.nodes, done.tallest + 1)

    def _add(self, anchor: str | None, nodes: int, height: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (nodes, height)
        if self.open:
            parent = self.open[-1]
            parent.nodes += nodes
            parent.tallest = max(parent.tallest, height)

    def _alias(self, event: AliasEvent) -> None:
        name = event.anchor or ""
        if any(o.anchor == name for o in self.open):
            raise OverLimit.at(repeats_itself(name), event.start_mark)
        if name not in self.anchors:
            return  # an undefined alias: the composer says so
        nodes, height = self.anchors[name]
        if len(self.open) + height > self.limits.depth:
            raise OverLimit.at(too_deep(self.limits, name), event.start_mark)
        self.repeats += nodes
        if self.repeats > self.limits.repeats_allowed(self.written):
            problem = too_many_repeats(self.limits, self.written, self.repeats, name, nodes)
            raise OverLimit.at(problem, event.start_mark)
        self._add(None, nodes, height)


def locate_over_limit(loader: yaml.SafeLoader, limits: Limits) -> OverLimit | None:
    """Where the document ``loader`` reads first goes over ``limits``, or None if it never does.

    Reads the events of a fresh loader (one that has composed nothing yet) without
    composing them, so it works on files too deep to compose. A syntax error ends the
    search (None): the loader reports it on its own.
    """
    replay = _Replay(limits)
    try:
        while loader.check_event():
            replay.feed(loader.get_event())  # type: ignore[no-untyped-call]
    except OverLimit as found:
        return found
    except yaml.YAMLError:
        return None
    return None
