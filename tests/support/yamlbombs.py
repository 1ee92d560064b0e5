"""Small YAML files that are costly to load: alias bombs, deep nesting, characters YAML refuses."""

from __future__ import annotations


def alias_bomb(levels: int, size: int | None = None) -> str:
    """A "billion laughs" file: ``levels`` lines, each a list of nine aliases of the line above,
    so the last repeats 9**levels strings. Padded with a comment line to ``size`` bytes.

    ``alias_bomb(7, 388)`` and ``alias_bomb(8, 442)`` are the files of issue 12 (4.8 and 43
    million strings); either way the alias that goes over the limit is the first ``*a3``
    on the fifth line of aliases.
    """
    lines = ['a0: &a0 ["lol"' + ',"lol"' * 8 + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    body = "\n".join(lines) + "\n"
    if size is None:
        return body
    assert size >= len(body) + 2
    return "#" + "x" * (size - len(body) - 2) + "\n" + body


def nested(levels: int) -> str:
    """``sources:`` with ``levels`` lists nested inside each other, on one line."""
    return "sources: " + "[" * levels + "]" * levels + "\n"


#: a file that could not load within this much address space would have built far too much
LOAD_MEMORY = 2**30

#: (what, the file, what its one problem says after the file's name): each costly or a
#: traceback before issue 12, for a configuration and a rules file alike
HOSTILE_FILES = [
    ("alias bomb of 388 bytes", alias_bomb(7, 388), ":6:10: this alias (*a3) repeats 7,381 nodes"),
    ("alias bomb of 442 bytes", alias_bomb(8, 442), ":6:10: this alias (*a3) repeats 7,381 nodes"),
    ("100 000 nested lists", nested(100_000), ":1:73: nested too deeply: more than 64 levels"),
    ("NUL byte", "sources: []\nrules:\n  - name: r\0\n", ":3:12: a NUL byte (U+0000) is not allowed"),
]
