"""The file's shape, checked by the settings models, with every problem readable and at once.

Shorthand is normalised first (a notifier given as one URL, a tag list given as one
string); pydantic's errors become :class:`~monitor.config.problem.Problem`s with the bad
value and what is allowed ("did you mean" for unknown keys); then invalid entries are
dropped and the rest validated again, so the cross-checks of :mod:`monitor.config.check`
still run on everything that is valid.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from monitor.config.models import Settings
from monitor.config.problem import AT_KEY, Problem
from monitor.config.yamlload import Path as KeyPath
from monitor.redact import redact_url

# ---------------------------------------------------------------------------- normalisation before pydantic

#: entry keys that take a list but may be written as one string
_LIST_KEYS = ("tags", "notify", "sources", "include", "exclude", "allow_networks")
_LIST_KEY_SET = frozenset(_LIST_KEYS)


def normalise(data: dict[str, Any], problems: list[Problem]) -> None:
    """Rewrite the shorthand forms in ``data`` (parsed YAML) in place into the models' shape.

    A notifier may be one URL, a list of URLs, or a mapping whose ``urls`` is one URL;
    entries of ``sources`` and ``rules`` may give a one-item list as a string. Shapes that
    cannot be read are reported to ``problems`` and left out (notifiers) or left for the
    models to report (entries).
    """
    _normalise_notifiers(data.get("notifiers"), problems)
    for section in ("sources", "rules"):
        items = data.get(section)
        if items is not None and not isinstance(items, list):
            problems.append(Problem((section,), f"expected a list of {section}"))
            data[section] = []
            continue
        for i, item in enumerate(items or []):
            if not isinstance(item, dict):
                problems.append(Problem((section, i), "expected a mapping with at least name:"))
                continue
            # the keys written (a rule of a large file has two): not a lookup of every list key
            for key in _LIST_KEY_SET.intersection(item):
                if isinstance(item[key], str):
                    item[key] = [item[key]]
    defaults = data.get("defaults")
    if isinstance(defaults, dict) and isinstance(defaults.get("notify"), str):
        defaults["notify"] = [defaults["notify"]]


def _normalise_notifiers(notifiers: object, problems: list[Problem]) -> None:
    if not isinstance(notifiers, dict):
        return
    for name, spec in list(notifiers.items()):
        if isinstance(spec, str):
            notifiers[name] = {"urls": [spec]}
        elif isinstance(spec, list):
            notifiers[name] = {"urls": spec}
        elif isinstance(spec, dict) and isinstance(spec.get("urls"), str):
            spec["urls"] = [spec["urls"]]
        elif not isinstance(spec, dict):
            problems.append(
                Problem(
                    ("notifiers", str(name)),
                    "expected an apprise URL, a list of URLs, or a mapping with urls:",
                )
            )
            del notifiers[name]


# ---------------------------------------------------------------------------- partial validation


@dataclass
class Dropped:
    """Names of entries left out because they were invalid (so references to them are not errors too)."""

    notifiers: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    #: the position in the file of each rule that was kept (None: none was dropped), so a
    #: cross-check of a kept rule names its own line, not that of a dropped one before it
    rule_positions: list[int] | None = None

    def rule_at(self, i: int) -> int:
        """The position in the file of the ``i``-th valid rule."""
        return i if self.rule_positions is None else self.rule_positions[i]


def validate_partially(data: dict[str, Any], problems: list[Problem]) -> tuple[Settings | None, Dropped]:
    """Validate ``data``; on errors, report them to ``problems``, drop the invalid entries, validate the rest.

    Returns the settings of what is valid (None when even that fails after a few rounds)
    and the names dropped. Dropping lets the cross-field checks run on everything that is
    valid, so the user sees every problem of the file at once.
    """
    dropped = Dropped()
    current = data
    for attempt in range(4):
        try:
            return Settings.model_validate(current), dropped
        except ValidationError as exc:
            if attempt == 0:
                problems.extend(_pydantic_problems(exc, data))
            current = _prune(current, exc, dropped)
    return None, dropped


def _prune(data: dict[str, Any], exc: ValidationError, dropped: Dropped) -> dict[str, Any]:
    pruned = dict(data)
    for err in exc.errors():
        loc = [p for p in err["loc"] if isinstance(p, (str, int))]
        if not loc:
            continue
        head = loc[0]
        if head in ("sources", "rules") and len(loc) > 1 and isinstance(loc[1], int):
            items = list(pruned.get(str(head)) or [])
            if loc[1] < len(items) and items[loc[1]] is not None:
                entry = items[loc[1]]
                if head == "sources" and isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    dropped.sources.add(entry["name"])
                items[loc[1]] = None
            pruned[str(head)] = items
        elif head == "notifiers" and len(loc) > 1:
            notifiers = dict(pruned.get("notifiers") or {})
            notifiers.pop(str(loc[1]), None)
            dropped.notifiers.add(str(loc[1]))
            pruned["notifiers"] = notifiers
        else:
            pruned.pop(str(head), None)
    rules = pruned.get("rules")
    if isinstance(rules, list) and any(item is None for item in rules):
        positions = dropped.rule_positions or list(range(len(rules)))
        dropped.rule_positions = [p for p, item in zip(positions, rules, strict=False) if item is not None]
    for key in ("sources", "rules"):
        if isinstance(pruned.get(key), list):
            pruned[key] = [item for item in pruned[key] if item is not None]
    return pruned


# ---------------------------------------------------------------------------- pydantic's errors, readable


def _pydantic_problems(exc: ValidationError, data: Any) -> Iterator[Problem]:
    for err in exc.errors():
        loc: KeyPath = tuple(p for p in err["loc"] if isinstance(p, (str, int)) and not _is_type_tag(p))
        kind = err["type"]
        if kind == "extra_forbidden":
            yield _unknown_key(loc)
            continue
        if kind == "missing":
            yield Problem(loc[:-1], f"missing required key '{loc[-1]}'")
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if kind.startswith("bool"):
            msg = "expected true or false"
        elif kind == "literal_error":
            ctx = err.get("ctx") or {}
            expected = ctx.get("expected")
            msg = f"expected {expected}" if expected else msg
        yield Problem(loc, msg + _show_value(_value_at(data, loc)))


def _unknown_key(loc: KeyPath) -> Problem:
    key = str(loc[-1])
    model = _model_for(loc[:-1])
    allowed = sorted(model.model_fields) if model else []
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return Problem((*loc, AT_KEY), f"unknown key '{key}'{hint}; allowed: {', '.join(allowed)}")


def _is_type_tag(part: object) -> bool:
    # pydantic puts union member names into loc (e.g. 'bool', "literal['auto']"); they are not keys
    return isinstance(part, str) and (
        part in {"bool", "str", "int", "float"} or "[" in part or part.startswith("function-")
    )


def _model_for(path: KeyPath) -> type[BaseModel] | None:
    """The settings model of the mapping at ``path`` (for "did you mean"), or None when it has none."""
    model: type[BaseModel] = Settings
    at_name = False  # the next part is a name of a name -> settings mapping (notifiers:), not a key
    for part in path:
        if isinstance(part, int):
            continue
        if at_name:
            at_name = False
            continue
        found = model.model_fields.get(part)
        inner = _model_in(found.annotation) if found is not None else None
        if found is None or inner is None:
            return None
        model, at_name = inner, get_origin(found.annotation) is dict
    return model


def _model_in(annotation: object) -> type[BaseModel] | None:
    # a section (HttpSettings), a list of entries (list[SourceSettings]) or named entries
    # (dict[str, NotifierSettings]): the settings model inside, if any
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _value_at(data: Any, path: KeyPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


_SECRET_HINT = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def _show_value(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return ""
    text = repr(value)
    if isinstance(value, str) and _SECRET_HINT.match(value):
        text = repr(redact_url(value))
    if len(text) > 80:
        text = text[:77] + "..."
    return f" (got {text})"
