"""Validation of a parsed config beyond types: every problem at once, each with its key path.

Pydantic's errors are turned into readable messages (with "did you mean" for unknown
keys); invalid entries are dropped so the cross-field checks (unknown notifiers, sources and
tags, duplicate names, invalid queries, URLs, regexes, selectors, zones, schedules) still
run on the rest.
"""

from __future__ import annotations

import difflib
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import soupsieve
from pydantic import BaseModel, ValidationError

from monitor.config.models import (
    ClusterSettings,
    Defaults,
    DeliverySettings,
    FloodSettings,
    HealthSettings,
    HttpSettings,
    NotifierSettings,
    RuleSettings,
    Settings,
    SourceSettings,
    WebSettings,
    check_zone,
)
from monitor.config.yamlload import Path as KeyPath
from monitor.errors import QueryError
from monitor.fetch import parse_allow_networks
from monitor.notify.deliver import check_apprise_url
from monitor.notify.render import Renderer
from monitor.notify.schedule import parse_digest, parse_quiet
from monitor.redact import redact_url
from monitor.rules import parse_query

# ---------------------------------------------------------------------------- error formatting


def format_path(path: KeyPath) -> str:
    """``("rules", 3, "notify", 0)`` → ``rules[3].notify[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


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


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return sorted(model.model_fields)


def _model_for(path: KeyPath) -> type[BaseModel] | None:
    """The pydantic model describing the mapping at ``path``, for 'did you mean'."""
    model: type[BaseModel] = Settings
    for part in path:
        if isinstance(part, int):
            continue
        if model is Settings and part == "notifiers":
            model = NotifierSettings
            continue
        if model is NotifierSettings:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        found = None
        for candidate in (
            HttpSettings,
            Defaults,
            SourceSettings,
            RuleSettings,
            DeliverySettings,
            FloodSettings,
            ClusterSettings,
            HealthSettings,
            WebSettings,
        ):
            if annotation is candidate or candidate.__name__ in str(annotation):
                found = candidate
        if found is None:
            return None
        model = found
    return model


def _pydantic_problems(exc: ValidationError, data: Any) -> Iterator[tuple[KeyPath, str]]:
    for err in exc.errors():
        loc: KeyPath = tuple(p for p in err["loc"] if isinstance(p, (str, int)) and not _is_type_tag(p))
        kind = err["type"]
        value = _value_at(data, loc)
        if kind == "extra_forbidden":
            key = str(loc[-1])
            model = _model_for(loc[:-1])
            allowed = _allowed_keys(model) if model else []
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            yield (*loc, "__key__"), f"unknown key '{key}'{hint}; allowed: {', '.join(allowed)}"
            continue
        if kind == "missing":
            yield loc[:-1], f"missing required key '{loc[-1]}'"
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
        yield loc, msg + _show_value(value)


def _is_type_tag(part: object) -> bool:
    # pydantic puts union member names into loc (e.g. 'bool', "literal['auto']"); they are not keys
    return isinstance(part, str) and (
        part in {"bool", "str", "int", "float"} or "[" in part or part.startswith("function-")
    )


# ---------------------------------------------------------------------------- normalisation before pydantic


def normalise(data: dict[str, Any], problems: list[tuple[KeyPath, str]]) -> None:
    notifiers = data.get("notifiers")
    if isinstance(notifiers, dict):
        for name, spec in list(notifiers.items()):
            if isinstance(spec, str):
                notifiers[name] = {"urls": [spec]}
            elif isinstance(spec, list):
                notifiers[name] = {"urls": spec}
            elif isinstance(spec, dict) and isinstance(spec.get("urls"), str):
                spec["urls"] = [spec["urls"]]
            elif not isinstance(spec, dict):
                problems.append(
                    (
                        ("notifiers", str(name)),
                        "expected an apprise URL, a list of URLs, or a mapping with urls:",
                    )
                )
                del notifiers[name]
    for section in ("sources", "rules"):
        items = data.get(section)
        if items is not None and not isinstance(items, list):
            problems.append(((section,), f"expected a list of {section}"))
            data[section] = []
            continue
        for i, item in enumerate(items or []):
            if not isinstance(item, dict):
                problems.append(((section, i), "expected a mapping with at least name:"))
                continue
            for key in ("tags", "notify", "sources", "include", "exclude", "allow_networks"):
                if isinstance(item.get(key), str):
                    item[key] = [item[key]]
    defaults = data.get("defaults")
    if isinstance(defaults, dict) and isinstance(defaults.get("notify"), str):
        defaults["notify"] = [defaults["notify"]]


# ---------------------------------------------------------------------------- partial validation


@dataclass
class Dropped:
    """Names of entries left out because they were invalid (so references to them are not errors too)."""

    notifiers: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)


def validate_partially(
    data: dict[str, Any], problems: list[tuple[KeyPath, str]]
) -> tuple[Settings | None, Dropped]:
    """Validate; on errors, report them, drop the invalid entries and validate the rest.

    Dropping lets the cross-field checks run on everything that is valid, so the user sees
    every problem of the file at once.
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
    for key in ("sources", "rules"):
        if isinstance(pruned.get(key), list):
            pruned[key] = [item for item in pruned[key] if item is not None]
    return pruned


# ---------------------------------------------------------------------------- cross-field checks


def check_settings(
    settings: Settings, warnings: list[str], dropped: Dropped | None = None
) -> Iterator[tuple[KeyPath, str]]:
    dropped = dropped or Dropped()
    names = set(settings.notifiers) | dropped.notifiers

    def unknown_notifier(target: str) -> str:
        close = difflib.get_close_matches(target, sorted(names), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        defined = ", ".join(sorted(names)) or "none"
        return f"unknown notifier '{target}'{hint}; defined notifiers: {defined}"

    for name, notifier in settings.notifiers.items():
        for j, url in enumerate(notifier.urls):
            if "${" in url:
                continue  # its ${VAR} failed to expand: already reported
            problem = check_apprise_url(url)
            if problem:
                yield ("notifiers", name, "urls", j), problem
        if notifier.timezone:
            try:
                check_zone(notifier.timezone)
            except ValueError as exc:
                yield ("notifiers", name, "timezone"), str(exc)
        yield from _check_delivery_options(notifier, ("notifiers", name), settings.timezone)

    for j, target in enumerate(settings.defaults.notify):
        if target not in names:
            yield ("defaults", "notify", j), unknown_notifier(target)
    for j, target in enumerate(settings.health.notify or []):
        if target not in names:
            yield ("health", "notify", j), unknown_notifier(target)

    seen: dict[str, int] = {}
    tags: set[str] = set()
    for i, source in enumerate(settings.sources):
        path: KeyPath = ("sources", i)
        if source.name in seen:
            yield (
                (*path, "name"),
                f"duplicate source name '{source.name}' (also sources[{seen[source.name]}])",
            )
        seen[source.name] = i
        tags.update(source.tags)
        if bool(source.feed) == bool(source.page):
            yield path, "a source needs exactly one of feed: or page: (a URL)"
        else:
            key = "feed" if source.feed else "page"
            problem = _check_http_url(source.url)
            if problem:
                yield (*path, key), problem
        interval = source.interval
        if interval < 1:
            yield (*path, "interval"), f"interval must be at least 1s (got {interval:g}s)"
        elif interval < 60:
            warnings.append(
                f"sources[{i}] '{source.name}': interval {interval:g}s is under 60s; be kind to the site"
            )
        for key in ("include", "exclude"):
            for j, pattern in enumerate(getattr(source, key)):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    yield (*path, key, j), f"invalid regular expression: {exc}"
        if source.links:
            problem = _check_selector(source.links)
            if problem:
                yield (*path, "links"), problem
        for j, entry in enumerate(source.allow_networks):
            problem = _check_network(entry)
            if problem:
                yield (*path, "allow_networks", j), problem
        if source.feed is None and "full_text" in source.model_fields_set and source.full_text is False:
            yield (
                (*path, "full_text"),
                "page sources always fetch the article text; full_text: false is only for feeds",
            )
    if settings.web.listen:
        _host, sep, port = settings.web.listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            yield (
                ("web", "listen"),
                f"expected host:port such as 127.0.0.1:8321 (got {settings.web.listen!r})",
            )
    if settings.http.ca_file:
        problem = _check_ca_file(settings.http.ca_file)
        if problem:
            yield ("http", "ca_file"), problem
    for j, entry in enumerate(settings.allow_networks):
        problem = _check_network(entry)
        if problem:
            yield ("allow_networks", j), problem

    rule_names: dict[str, int] = {}
    for i, rule in enumerate(settings.rules):
        path = ("rules", i)
        if rule.name in rule_names:
            yield (*path, "name"), f"duplicate rule name '{rule.name}' (also rules[{rule_names[rule.name]}])"
        rule_names[rule.name] = i
        problem = check_query(rule.query)
        if problem:
            yield (*path, "query"), f'rule "{rule.name}": {problem}'
        for j, target in enumerate(rule.notify or []):
            if target not in names:
                yield (*path, "notify", j), unknown_notifier(target)
        for j, src in enumerate(rule.sources):
            if src not in seen and src not in dropped.sources:
                close = difflib.get_close_matches(src, sorted(seen), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                yield (*path, "sources", j), f"unknown source '{src}'{hint}"
        for j, tag in enumerate(rule.tags):
            if tag not in tags and not dropped.sources:
                yield (
                    (*path, "tags", j),
                    f"no source has tag '{tag}'; tags in use: {', '.join(sorted(tags)) or 'none'}",
                )
        if rule.digest:
            problem = _check_digest(rule.digest)
            if problem:
                yield (*path, "digest"), problem
        if not (rule.notify if rule.notify is not None else settings.defaults.notify):
            warnings.append(f"rules[{i}] '{rule.name}' has no notify targets and defaults.notify is empty")


def _check_delivery_options(
    notifier: NotifierSettings, path: KeyPath, default_tz: str
) -> Iterator[tuple[KeyPath, str]]:
    if notifier.digest:
        problem = _check_digest(notifier.digest)
        if problem:
            yield (*path, "digest"), problem
    if notifier.quiet:
        try:
            parse_quiet(notifier.quiet)
        except ValueError as exc:
            yield (*path, "quiet"), str(exc)
    if notifier.template:
        try:
            Renderer(
                fmt=notifier.format, timezone=notifier.timezone or default_tz, template_path=notifier.template
            )
        except Exception as exc:  # jinja reads the user's file: any failure is a config problem, not a crash
            yield (*path, "template"), f"template error: {exc}"


def _check_digest(spec: str) -> str | None:
    try:
        parse_digest(spec)
    except ValueError as exc:
        return str(exc)
    return None


def check_query(query: str) -> str | None:
    """The parse error of a watch-rule query, or None when it is valid."""
    try:
        parse_query(query)
    except QueryError as exc:
        return str(exc)
    return None


def _check_http_url(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError as exc:
        return f"malformed URL: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"only http:// and https:// URLs are fetched (got scheme '{parts.scheme or 'none'}')"
    if not host:
        return "the URL has no host name"
    return None


def _check_ca_file(path: str) -> str | None:
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except FileNotFoundError:
        return f"no such file: {path!r}; give a PEM file of CA certificates"
    except (OSError, ssl.SSLError, ValueError) as exc:
        return f"cannot load CA certificates from {path!r} ({exc.__class__.__name__}); give a PEM file"
    return None


def _check_selector(selector: str) -> str | None:
    try:
        soupsieve.compile(selector)
    except Exception as exc:  # soupsieve's SelectorSyntaxError, and others for odd input
        return f"invalid CSS selector: {exc}"
    return None


def _check_network(entry: str) -> str | None:
    try:
        parse_allow_networks([entry])
    except ValueError as exc:
        return str(exc)
    return None
