"""Durations written the way people write them: ``30s``, ``5m``, ``1h30m``, ``2d``, or bare seconds."""

from __future__ import annotations

import re

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_WHOLE = re.compile(r"^(?:\s*\d+(?:\.\d+)?\s*[smhdw])+\s*$")

ALLOWED = "a number of seconds or a duration such as 30s, 5m, 1h, 2d, 1h30m"


def parse_duration(value: object) -> float:
    """Seconds in ``value`` (int, float or string such as ``1h30m``).

    Raises ValueError naming the allowed forms for anything else, including booleans
    and negative numbers.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {ALLOWED}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif _WHOLE.match(text):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
        else:
            raise ValueError(f"expected {ALLOWED}")
    else:
        raise ValueError(f"expected {ALLOWED}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """``5400`` → ``1h30m``; used in messages and the ``sources`` command."""
    seconds = round(seconds)
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            out.append(f"{count}{unit}")
    return "".join(out)
