"""The JSON Schema of the configuration file, made from the settings models.

Editors with a YAML language server complete and check keys with it (the
``# yaml-language-server: $schema=...`` line of ``config.example.yaml``); ``newsmonitor
schema`` prints it, and ``docs/config.schema.json`` is a copy a test keeps up to date.

The models describe the file after the loader's shorthand is read, so the schema is the
models' own, widened to what a file may really say:

- a duration is a number of seconds or a string such as ``1h30m`` (its default is shown so);
- a notifier may be one URL, a list of URLs, or a mapping whose ``urls`` is one URL;
- list options of a source or rule (``tags``, ``notify``, ...) and ``defaults.notify`` may
  be one string;
- a source's inherited options (``interval``, ``robots``, ...) may be null ("as in defaults").

Values such as ``${SECRET}`` are strings and pass wherever a string does; the schema cannot
know what they expand to, so ``newsmonitor check`` stays the full test of a file.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, get_args, get_origin

from annotated_types import Gt
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

from monitor.config.durations import format_duration, parse_duration
from monitor.config.models import INHERITED, Settings

# the keys the loader's normalise() accepts as one string: the schema must say what it reads
from monitor.config.validate import _LIST_KEYS as LIST_KEYS

#: a duration string, as :func:`monitor.config.durations.parse_duration` reads one
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*[smhdwSMHDW]\s*)+$|^\s*\d+(\.\d+)?\s*$"

#: what a key means, for the editor's hover (the README's reference table says more)
DESCRIPTIONS: dict[str, str] = {
    "Settings.database": "A SQLAlchemy URL; default: a SQLite file in $XDG_STATE_HOME/newsmonitor/.",
    "Settings.timezone": "Default time zone of messages, digests and quiet hours (an IANA name).",
    "Settings.retention": "How long seen stories and sent alerts are kept once no source lists them.",
    "Settings.allow_networks": "IPs or CIDRs (optionally :port) exempt from the private-address guard.",
    "Settings.notifiers": "Named notification targets: an apprise URL, a list of them, or a mapping.",
    "Settings.sources": "The feeds and section pages to poll.",
    "Settings.rules": "The watch rules: a query, and where its matches go.",
    "Settings.web": "The read-only status page, /api/status and /metrics.",
    "Defaults.interval": "Poll interval of sources without their own.",
    "Defaults.notify": "Targets of rules without notify:.",
    "Defaults.full_text": "Fetch the article of a feed item: true, false, or auto (when the item is a teaser).",
    "Defaults.max_age": "Stories published longer ago never alert.",
    "NotifierSettings.urls": "Apprise URLs; secrets as ${VAR} or ${file:/path}.",
    "NotifierSettings.quiet": 'Hours when messages are held, e.g. "22:00-07:00 Europe/Nairobi".',
    "NotifierSettings.digest": "every 30m | hourly | daily at 08:00",
    "SourceSettings.name": "Unique name of the source (rules and the CLI refer to it).",
    "SourceSettings.feed": "URL of an RSS, Atom or JSON feed (exactly one of feed: or page:).",
    "SourceSettings.page": "URL of a section page whose article links are followed (exactly one of feed: or page:).",
    "SourceSettings.links": "CSS selector of the article links on a page.",
    "SourceSettings.include": "Regular expressions: only article URLs matching one are kept.",
    "SourceSettings.exclude": "Regular expressions: article URLs matching one are left out.",
    "SourceSettings.alert_on_first_poll": "Alert on what the first poll finds (default: it only records).",
    "SourceSettings.tags": "Labels that rules can limit themselves to (rules[].tags).",
    "RuleSettings.query": 'The query: words, "phrases", AND OR NOT, NEAR/n, field:value.',
    "RuleSettings.notify": "Targets (names under notifiers:); default: defaults.notify.",
    "RuleSettings.sources": "Limit the rule to these sources (by name).",
    "RuleSettings.tags": "Limit the rule to sources with one of these tags.",
    "RuleSettings.urgent": "Bypass quiet hours.",
    "RuleSettings.spike": "Instead of a query: alert when another rule's matches suddenly rise.",
    "SpikeSettings.rule": "The rule (one with a query) whose matches are counted.",
    "SpikeSettings.factor": "Alert when the window holds at least this many times the usual number.",
    "SpikeSettings.window": "The span counted, ending now (at least 5m).",
    "SpikeSettings.baseline": "The history before the window that gives the usual number (at least two windows).",
    "SpikeSettings.min_matches": "Never alert for fewer stories than this in the window.",
    "SpikeSettings.top": "How many of the spike's stories the alert lists.",
}


def config_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a configuration file, as a JSON-ready dict."""
    schema = Settings.model_json_schema(mode="validation")
    defs = schema["$defs"]
    models: dict[str, type[BaseModel]] = {"Settings": Settings}
    models.update(_nested_models(Settings))
    for name, model in models.items():
        node = schema if name == "Settings" else defs[name]
        _widen_model(name, model, node)
    _widen_notifiers(schema, defs["NotifierSettings"])
    for name in ("SourceSettings", "RuleSettings"):
        for key in LIST_KEYS:
            prop = defs[name]["properties"].get(key)
            if prop is not None:
                defs[name]["properties"][key] = _or_one_string(prop)
    defs["Defaults"]["properties"]["notify"] = _or_one_string(defs["Defaults"]["properties"]["notify"])
    for key in INHERITED:
        prop = defs["SourceSettings"]["properties"][key]
        if not _allows_null(prop):
            defs["SourceSettings"]["properties"][key] = {"anyOf": [_without_meta(prop), {"type": "null"}], **_meta(prop)}
    defs["SourceSettings"]["oneOf"] = [{"required": ["feed"]}, {"required": ["page"]}]
    defs["RuleSettings"]["oneOf"] = [{"required": ["query"]}, {"required": ["spike"]}]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "newsmonitor configuration",
    }


def schema_text() -> str:
    """:func:`config_schema` as the text ``newsmonitor schema`` prints (sorted keys, a final newline)."""
    return json.dumps(config_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- the widening


def _nested_models(model: type[BaseModel]) -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for field in model.model_fields.values():
        for inner in _types_in(field.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel) and inner.__name__ not in found:
                found[inner.__name__] = inner
                found.update(_nested_models(inner))
    return found


def _types_in(annotation: object) -> list[object]:
    args = get_args(annotation)
    if not args:
        return [annotation]
    return [t for arg in args for t in _types_in(arg)]


def _widen_model(name: str, model: type[BaseModel], node: dict[str, Any]) -> None:
    props = node.get("properties", {})
    for key, field in model.model_fields.items():
        if key not in props:
            continue
        if _is_duration(field):
            props[key] = _duration_schema(field, props[key])
        description = DESCRIPTIONS.get(f"{name}.{key}")
        if description:
            props[key]["description"] = description


def _is_duration(field: FieldInfo) -> bool:
    # Duration itself (pydantic moves its metadata to the field), or Duration | None
    if any(_is_duration_validator(m) for m in field.metadata):
        return True
    return any(
        get_origin(arg) is Annotated and any(_is_duration_validator(m) for m in arg.__metadata__)
        for arg in get_args(field.annotation)
    )


def _is_duration_validator(meta: object) -> bool:
    return isinstance(meta, BeforeValidator) and meta.func is parse_duration


def _duration_schema(field: FieldInfo, prop: dict[str, Any]) -> dict[str, Any]:
    number: dict[str, Any] = {"type": "number", "minimum": 0}
    if any(isinstance(m, Gt) for m in field.metadata):
        number = {"type": "number", "exclusiveMinimum": 0}
    branches: list[dict[str, Any]] = [number, {"type": "string", "pattern": DURATION_PATTERN}]
    if _allows_null(prop):
        branches.append({"type": "null"})
    out: dict[str, Any] = {"anyOf": branches, **_meta(prop)}
    out["description"] = "A number of seconds, or a duration such as 30s, 5m, 1h, 2d, 1h30m."
    if isinstance(out.get("default"), (int, float)) and not isinstance(out["default"], bool):
        out["default"] = format_duration(out["default"])
    return out


def _widen_notifiers(schema: dict[str, Any], notifier: dict[str, Any]) -> None:
    urls = notifier["properties"]["urls"]
    notifier["properties"]["urls"] = _or_one_string(urls)
    one_url = {"type": "string", "description": "An apprise URL."}
    url_list = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    schema["properties"]["notifiers"]["additionalProperties"] = {
        "anyOf": [one_url, url_list, {"$ref": "#/$defs/NotifierSettings"}]
    }


def _or_one_string(prop: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "string"}, _without_meta(prop)], **_meta(prop)}


_META = ("title", "default", "description")


def _meta(prop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in prop.items() if k in _META}


def _without_meta(prop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in prop.items() if k not in _META}


def _allows_null(prop: dict[str, Any]) -> bool:
    return prop.get("type") == "null" or any(b.get("type") == "null" for b in prop.get("anyOf", []))


__all__ = ["DURATION_PATTERN", "config_schema", "schema_text"]
