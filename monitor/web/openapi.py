"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``.

A test walks the application's routes and checks that each ``/api``, ``/feeds``, ``/healthz``
and ``/readyz`` route is described here, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from monitor.web.sourcelist import MAX_PER_PAGE, PER_PAGE, SORT_KEYS
from monitor.web.view import SourceHealth


def _obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, **({"required": required} if required else {})}


_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}
_TIME = {"type": "string", "description": "UTC time as 'YYYY-MM-DD HH:MM:SS UTC', or '-' for none"}
_STATES = tuple(h.value for h in SourceHealth)
_SNIPPET = _obj(text=_S, spans={"type": "array", "items": {"type": "array", "items": _I, "minItems": 2, "maxItems": 2}})


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(key: str, schema: str) -> dict[str, Any]:
    return _json(_obj([key], **{key: {"type": "array", "items": _ref(schema)}}))


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_UNAUTHORIZED = {"401": {"description": "no token (Authorization: Bearer, the session cookie)"}}
_CHANGE = {
    **_UNAUTHORIZED,
    "403": {"description": "no CSRF token (X-CSRF-Token) and no bearer token, or another site's Origin"},
}
_LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}
_ROW = {"name": "row_id", "in": "path", "required": True, "schema": _I}

_SOURCE_QUERY = [
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200},
     "description": "only sources whose name, kind, state or last error holds this text (any case)"},
    {"name": "state", "in": "query", "schema": {"type": "string", "enum": list(_STATES)},
     "description": "only sources in this state"},
    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": list(SORT_KEYS), "default": "state"},
     "description": "the order; 'state' puts what needs attention first (failing, gone, blocked, empty, stale, "
     "never polled, disabled, ok)"},
    {"name": "desc", "in": "query", "schema": {"type": "string", "enum": ["1"]}, "description": "reverse the order"},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1},
     "description": "the page (past the last: no rows)"},
    {"name": "per_page", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": PER_PAGE}},
]
_LINK = {"type": ["string", "null"], "description": "the path and query of that page, null when there is none"}
_SOURCE_PAGE = _obj(
    ["sources", "total", "matched", "page", "pages", "next"],
    sources={"type": "array", "items": _ref("Source")},
    total={**_I, "description": "all configured sources"},
    matched={**_I, "description": "the sources the filter keeps"},
    counts={"type": "object", "additionalProperties": _I, "description": "sources in each state (of all)"},
    page=_I, per_page=_I, pages=_I, next=_LINK, prev=_LINK,
)

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "newsmonitor",
        "version": "1",
        "description": "The dashboard's views as JSON. Every route but /healthz needs the token "
        "(web.token). Strings from sources and stories are returned as they are: escape them.",
    },
    "security": [{"bearer": []}, {"session": []}],
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "newsmonitor_session"},
            "feedToken": {"type": "apiKey", "in": "query", "name": "token", "description": "/feeds/ only"},
        },
        "schemas": {
            "Source": _obj(
                ["name", "status"],
                name=_S, kind=_S, enabled=_B,
                status={"type": "string", "enum": list(_STATES)},
                detail=_S, advice=_S, empty_polls=_I, last_new_story=_TIME, failing_since=_TIME,
                last_poll=_TIME, next_poll=_TIME, last_error=_S, stories=_I, note=_S,
                polled_by={**_S, "description": "the instance that recorded its last poll (instances sharing "
                           "a PostgreSQL database; empty otherwise)"},
            ),
            "Instance": _obj(
                ["id", "heartbeat_age_seconds"],
                id=_S, host=_S, pid=_I, heartbeat_age_seconds={"type": "number"}, leases=_I,
                lag_seconds={"type": "number"}, config_hash=_S,
                this={**_B, "description": "the instance answering"},
            ),
            "OutboxRow": _obj(
                ["id", "status"],
                id=_I, status={"type": "string", "enum": ["pending", "sending", "dead"]}, rule=_S, target=_S,
                headline=_S, tries=_I, waiting=_S, until=_TIME, created=_TIME, last_error=_S,
            ),
            "Alert": _obj(
                ["id", "rule", "title"],
                id=_I, rule=_S, title=_S, url=_S, source=_S, outlet=_S, at=_TIME, published=_TIME, status=_S,
                outcomes={"type": "array", "items": _obj(["target", "outcome"], target=_S, outcome=_S, at=_TIME,
                                                         error=_S)},
                snippets={"type": "array", "items": _SNIPPET},
            ),
            "Rule": _obj(["name", "query"], name=_S, query=_S, enabled=_B, alerts=_I, last_alert=_TIME,
                         matches=_I, sent=_I, last_match=_TIME, window_days=_I, silent=_B),
            "TryResult": _obj(
                ["query", "searched", "matches"],
                query=_S, scope=_S, error=_S, searched=_I, matched=_I,
                per_day={"type": "array", "items": _obj(["day", "count"], day=_S, count=_I)},
                matches={"type": "array", "items": _obj(title=_S, url=_S, source=_S, seen=_TIME,
                                                        snippets={"type": "array", "items": _SNIPPET})},
            ),
            "Readiness": _obj(
                ["ready"],
                ready=_B, database={"type": "string", "enum": ["ok", "unreachable"]},
                scheduler_lag_seconds={"type": ["number", "null"]},
                oldest_pending_alert_seconds={"type": ["number", "null"]},
                problems={"type": "array", "items": _S},
            ),
        },
    },
    "paths": {
        "/healthz": {"get": {"summary": "Liveness: the process answers", "security": [],
                             "responses": {"200": {"description": "alive"}}}},
        "/readyz": {"get": {"summary": "Readiness: database reachable, scheduler lag, oldest pending alert",
                            "responses": {"200": _json(_ref("Readiness")),
                                          "503": _json(_ref("Readiness"), "not ready"), **_UNAUTHORIZED}}},
        "/api/status": {"get": {
            "summary": "Sources, outbox counts, rules, notifier names, configuration, live instances",
            "responses": {"200": _json(_obj(
                sources={"type": "array", "items": _ref("Source")},
                instances={"type": "array", "items": _ref("Instance"),
                           "description": "the live instances sharing a PostgreSQL database (empty on SQLite)"},
                config_mismatch={**_S, "description": "a warning when the live instances run different "
                                 "configurations, else empty"},
            )), **_UNAUTHORIZED},
        }},
        "/api/sources": {"get": {
            "summary": "One page of the sources with their health state, filtered and sorted over all of them",
            "description": "The same query as the dashboard's sources page. Filtering and sorting cover every "
            "source; the answer holds one page of them, with the counts to walk the rest: follow 'next' "
            "until it is null.",
            "parameters": _SOURCE_QUERY,
            "responses": {"200": _json(_SOURCE_PAGE), "400": {"description": "a parameter out of range"},
                          **_UNAUTHORIZED},
        }},
        "/api/outbox": {"get": {"summary": "Pending, held (with reason and due time) and dead alerts",
                                "parameters": [_LIMIT],
                                "responses": {"200": _list_of("outbox", "OutboxRow"), **_UNAUTHORIZED}}},
        "/api/outbox/{row_id}/retry": {"post": {
            "summary": "Put a dead alert back as pending, due now",
            "parameters": [_ROW, {"name": "X-CSRF-Token", "in": "header", "schema": _S}],
            "responses": {"200": _json(_obj(id=_I, status=_S)), "404": {"description": "no such row"}, **_CHANGE},
        }},
        "/api/alerts": {"get": {"summary": "The newest alerts with their snippets",
                                "parameters": [_LIMIT, {"name": "rule", "in": "query", "schema": _S}],
                                "responses": {"200": _list_of("alerts", "Alert"), **_UNAUTHORIZED}}},
        "/api/rules": {"get": {"summary": "Every rule with its alert count",
                               "responses": {"200": _list_of("rules", "Rule"), **_UNAUTHORIZED}}},
        "/api/try": {"post": {
            "summary": "Run a query on pasted text, on an article URL, or (both empty) on the stored stories",
            "parameters": [{"name": "X-CSRF-Token", "in": "header", "schema": _S}],
            "requestBody": {"content": {"application/json": {"schema": _obj([], query=_S, text=_S, url=_S, about=_S)}}},
            "responses": {"200": _json(_ref("TryResult")), "400": _json(_ref("TryResult"), "bad query or input"),
                          **_CHANGE},
        }},
        "/api/csrf": {"get": {"summary": "The CSRF token of this session (for X-CSRF-Token)",
                              "responses": {"200": _json(_obj(header=_S, token=_S)), **_UNAUTHORIZED}}},
        "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": _json({"type": "object"})}}},
        "/feeds/all.atom": {"get": {
            "summary": "Atom feed of the newest alerts", "security": [{"bearer": []}, {"feedToken": []}],
            "responses": {"200": {"description": "Atom", "content": {"application/atom+xml": {}}}, **_UNAUTHORIZED},
        }},
        "/feeds/rules/{name}.atom": {"get": {
            "summary": "Atom feed of one rule's newest alerts", "security": [{"bearer": []}, {"feedToken": []}],
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": _S}],
            "responses": {"200": {"description": "Atom", "content": {"application/atom+xml": {}}},
                          "404": {"description": "no such rule"}, **_UNAUTHORIZED},
        }},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
    },
}
