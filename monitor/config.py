"""The YAML configuration: load, expand ``${VAR}``, validate the whole file, report every error.

:func:`load_config` is the only entry point the daemon uses. Every problem in the file
is collected and raised together as one :class:`~monitor.errors.ConfigError` whose lines
look like::

    newsmonitor.yaml:14:15: rules[3].notify[0]: unknown notifier 'desk-mail' (did you mean 'desk-email'?); ...

Secrets come from ``${VAR}``, ``${VAR:-default}`` and ``${file:/run/secrets/x}``; they are
expanded after YAML parsing (so quotes and colons in values stay strings), registered
with :mod:`monitor.redact`, and never appear in an error message.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from monitor.durations import parse_duration
from monitor.errors import ConfigError, QueryError
from monitor.redact import register_secret
from monitor.yamlload import Path as KeyPath
from monitor.yamlload import YAMLProblem, load_yaml

Duration = Annotated[float, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class HttpSettings(_Model):
    """Limits of the one HTTP client."""

    timeout: Duration = 60.0
    connect_timeout: Duration = 10.0
    read_timeout: Duration = 30.0
    max_bytes: int = Field(default=10 * 2**20, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)
    per_host: int = Field(default=2, ge=1, le=64)
    host_delay: Duration = 0.0
    concurrency: int = Field(default=64, ge=1, le=10000)
    article_per_host: int = Field(default=2, ge=1, le=64)
    proxy: str | None = None
    #: hosts whose links only redirect to the publisher (feed proxies, link shorteners): the
    #: link is followed so the story's identity is the publisher's URL
    redirectors: list[str] = Field(
        default_factory=lambda: [
            "feedproxy.google.com", "feeds.feedburner.com", "news.google.com", "t.co", "bit.ly", "ow.ly",
            "dlvr.it", "trib.al", "buff.ly", "lnkd.in", "rss.app", "flip.it", "tinyurl.com", "apple.co",
        ]
    )


class Defaults(_Model):
    """Values every source and rule inherits unless it sets its own."""

    interval: Duration = 900.0
    min_interval: Duration | None = None
    max_interval: Duration | None = None
    notify: list[str] = Field(default_factory=list)
    full_text: bool | Literal["auto"] = "auto"
    max_age: Duration = 7 * 86400.0
    robots: bool = True


class NotifierSettings(_Model):
    """A named notification target: one or more apprise URLs and how messages are shaped."""

    urls: list[str] = Field(min_length=1)
    format: Literal["text", "markdown", "html"] = "text"
    timezone: str | None = None
    quiet: str | None = None
    digest: str | None = None
    max_per_hour: int | None = Field(default=None, gt=0)
    template: str | None = None


class SourceSettings(_Model):
    """One news source: a feed or a section page."""

    name: str = Field(min_length=1)
    feed: str | None = None
    page: str | None = None
    interval: Duration | None = None
    min_interval: Duration | None = None
    max_interval: Duration | None = None
    enabled: bool = True
    tags: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    full_text: bool | Literal["auto"] | None = None
    links: str | None = None
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    alert_on_first_poll: bool = False
    robots: bool | None = None
    allow_networks: list[str] = Field(default_factory=list)
    outlet: str | None = None

    @property
    def url(self) -> str:
        return self.feed or self.page or ""

    @property
    def kind(self) -> str:
        return "feed" if self.feed else "page"


class RuleSettings(_Model):
    """One watch rule."""

    name: str = Field(min_length=1)
    query: str = Field(min_length=1)
    notify: list[str] | None = None
    sources: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    urgent: bool = False
    digest: str | None = None
    enabled: bool = True


class DeliverySettings(_Model):
    """How the outbox is drained."""

    retry_base: Duration = 30.0
    retry_cap: Duration = 3600.0
    dead_after: Duration = 7 * 86400.0
    timeout: Duration = 30.0
    poison_attempts: int = Field(default=8, ge=1)


class FloodSettings(_Model):
    """When one poll yields too many new stories, send one summary instead."""

    threshold: int = Field(default=50, ge=1)
    fraction: float = Field(default=0.5, gt=0, le=1)


class ClusterSettings(_Model):
    """Syndicated-story clustering."""

    enabled: bool = True
    window: Duration = 48 * 3600.0


class HealthSettings(_Model):
    """The daemon's notices about itself."""

    notify: list[str] | None = None
    source_failures: int = Field(default=3, ge=1)
    pending_after: Duration = 3600.0
    throttle: Duration = 3600.0


class WebSettings(_Model):
    """The read-only status page and metrics endpoint."""

    listen: str | None = None


class Settings(_Model):
    """The whole configuration file."""

    database: str | None = None
    timezone: str = "UTC"
    retention: Duration = 90 * 86400.0
    allow_networks: list[str] = Field(default_factory=list)
    http: HttpSettings = Field(default_factory=HttpSettings)
    defaults: Defaults = Field(default_factory=Defaults)
    notifiers: dict[str, NotifierSettings] = Field(default_factory=dict)
    health: HealthSettings = Field(default_factory=HealthSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    flood: FloodSettings = Field(default_factory=FloodSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    sources: list[SourceSettings] = Field(default_factory=list)
    rules: list[RuleSettings] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        _check_zone(value)
        return value


class Config:
    """A validated configuration: the settings plus where they came from and any warnings."""

    def __init__(self, settings: Settings, path: str, warnings: list[str]) -> None:
        self.settings = settings
        self.path = path
        self.warnings = warnings

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL; a SQLite file in the XDG state dir by default."""
        if self.settings.database:
            return self.settings.database
        return "sqlite:///" + str(state_dir() / "newsmonitor.db")

    def source_interval(self, source: SourceSettings) -> float:
        return source.interval if source.interval is not None else self.settings.defaults.interval

    def rule_targets(self, rule: RuleSettings) -> list[str]:
        return rule.notify if rule.notify is not None else self.settings.defaults.notify

    def health_targets(self) -> list[str]:
        h = self.settings.health.notify
        return list(self.settings.notifiers) if h is None else h


def state_dir() -> Path:
    """``$XDG_STATE_HOME/newsmonitor`` (``~/.local/state/newsmonitor``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "newsmonitor"


def default_config_path() -> str:
    """``$NEWSMONITOR_CONFIG``, else ``./newsmonitor.yaml``, else the XDG config dir."""
    env = os.environ.get("NEWSMONITOR_CONFIG")
    if env:
        return env
    local = Path("newsmonitor.yaml")
    if local.exists():
        return str(local)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return str(Path(base) / "newsmonitor" / "config.yaml")


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as UTC or Europe/Nairobi"
        ) from None


# ---------------------------------------------------------------------------- ${VAR} expansion

_VAR = re.compile(r"\$\$|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def expand_string(value: str, env: dict[str, str] | os._Environ[str]) -> tuple[str, bool]:
    """Expand ``${VAR}``, ``${VAR:-default}``, ``${file:/path}`` and ``$$`` in ``value``.

    Returns ``(expanded, used_a_secret)``. A bare ``$`` is left as is (real tokens contain it).
    Raises ValueError naming the variable or file, never its value.
    """
    used = False

    def repl(m: re.Match[str]) -> str:
        nonlocal used
        if m.group(0) == "$$":
            return "$"
        inner = m.group(1)
        if inner.startswith("file:"):
            path = inner[5:]
            try:
                content = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(f"cannot read secret file {path}: {exc.strerror or exc}") from None
            used = True
            register_secret(content)
            return content
        name, sep, default = inner.partition(":-")
        if not _NAME.fullmatch(name):
            raise ValueError(
                f"invalid variable reference ${{{inner}}}; write ${{NAME}}, ${{NAME:-default}} or $$"
            )
        if name in env and env[name] != "":
            used = True
            register_secret(env[name])
            return env[name]
        if sep:
            return default
        missing.append(name)
        return ""

    missing: list[str] = []
    expanded = _VAR.sub(repl, value)
    if missing:
        names = list(dict.fromkeys(missing))
        what = f"variable {names[0]} is" if len(names) == 1 else f"variables {' and '.join(names)} are"
        raise ValueError(f"environment {what} not set (set it, or write ${{{names[0]}:-default}})")
    return expanded, used


def _expand(
    data: Any, path: KeyPath, env: dict[str, str] | os._Environ[str], problems: list[tuple[KeyPath, str]]
) -> Any:
    if isinstance(data, dict):
        return {k: _expand(v, (*path, str(k)), env, problems) for k, v in data.items()}
    if isinstance(data, list):
        return [_expand(v, (*path, i), env, problems) for i, v in enumerate(data)]
    if isinstance(data, str) and "$" in data:
        try:
            return expand_string(data, env)[0]
        except ValueError as exc:
            problems.append((path, str(exc)))
            return data
    return data


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
        from monitor.redact import redact_url

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


def _normalise(data: dict[str, Any], problems: list[tuple[KeyPath, str]]) -> None:
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


def _validate(data: dict[str, Any], problems: list[tuple[KeyPath, str]]) -> tuple[Settings | None, Dropped]:
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


def _check(
    settings: Settings, warnings: list[str], dropped: Dropped | None = None
) -> Iterator[tuple[KeyPath, str]]:
    dropped = dropped or Dropped()
    names = set(settings.notifiers) | dropped.notifiers

    def unknown_notifier(target: str) -> str:
        close = difflib.get_close_matches(target, sorted(names), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        defined = ", ".join(sorted(names)) or "none"
        return f"unknown notifier '{target}'{hint}; defined notifiers: {defined}"

    from monitor.notify.deliver import check_apprise_url

    for name, notifier in settings.notifiers.items():
        for j, url in enumerate(notifier.urls):
            if "${" in url:
                continue  # its ${VAR} failed to expand: already reported
            problem = check_apprise_url(url)
            if problem:
                yield ("notifiers", name, "urls", j), problem
        if notifier.timezone:
            try:
                _check_zone(notifier.timezone)
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
        interval = source.interval if source.interval is not None else settings.defaults.interval
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
        if source.feed is None and source.full_text is False:
            yield (
                (*path, "full_text"),
                "page sources always fetch the article text; full_text: false is only for feeds",
            )
    if settings.web.listen:
        _host, sep, port = settings.web.listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            yield ("web", "listen"), f"expected host:port such as 127.0.0.1:8321 (got {settings.web.listen!r})"
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
        if rule.notify is None and not settings.defaults.notify and not settings.notifiers:
            pass  # a rule without targets is allowed (dry runs, `match`); `check` warns below
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
            from monitor.notify.schedule import parse_quiet

            parse_quiet(notifier.quiet)
        except ImportError:
            pass
        except ValueError as exc:
            yield (*path, "quiet"), str(exc)
    if notifier.template:
        try:
            from monitor.notify.render import Renderer

            Renderer(
                fmt=notifier.format, timezone=notifier.timezone or default_tz, template_path=notifier.template
            )
        except ImportError:
            pass
        except Exception as exc:
            yield (*path, "template"), f"template error: {exc}"


def _check_digest(spec: str) -> str | None:
    try:
        from monitor.notify.schedule import parse_digest
    except ImportError:
        return None
    try:
        parse_digest(spec)
    except ValueError as exc:
        return str(exc)
    return None


def check_query(query: str) -> str | None:
    """The parse error of a watch-rule query, or None when it is valid."""
    from monitor.rules import parse_query

    try:
        parse_query(query)
    except QueryError as exc:
        return str(exc)
    return None


def _check_http_url(url: str) -> str | None:
    from urllib.parse import urlsplit

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


def _check_selector(selector: str) -> str | None:
    try:
        import soupsieve

        soupsieve.compile(selector)
    except Exception as exc:
        return f"invalid CSS selector: {exc}"
    return None


def _check_network(entry: str) -> str | None:
    try:
        from monitor.http import parse_allow_networks
    except ImportError:
        return None
    try:
        parse_allow_networks([entry])
    except ValueError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------- entry points


def _locate(path: KeyPath, lines: dict[KeyPath, tuple[int, int]]) -> tuple[int, int]:
    probe = path
    while True:
        if probe in lines:
            return lines[probe]
        if not probe:
            return (1, 1)
        probe = probe[:-1]


def parse_settings(
    text: str,
    name: str,
    env: dict[str, str] | os._Environ[str] | None = None,
    *,
    check: Callable[[Settings, list[str], Dropped], Iterator[tuple[KeyPath, str]]] | None = _check,
) -> Config:
    """Parse and validate configuration ``text`` (from file ``name``).

    Raises :class:`ConfigError` listing every problem as ``file:line:col: key.path: message``.
    """
    env = os.environ if env is None else env
    try:
        data, lines = load_yaml(text, name)
    except YAMLProblem as exc:
        raise ConfigError([f"{name}:{exc.line}:{exc.column}: {exc.message}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            [f"{name}:1:1: the file must be a mapping with keys such as sources:, rules:, notifiers:"]
        )

    problems: list[tuple[KeyPath, str]] = []
    data = _expand(data, (), env, problems)
    _normalise(data, problems)
    warnings: list[str] = []
    settings, dropped = _validate(data, problems)
    if settings is not None and check is not None:
        problems.extend(check(settings, warnings, dropped))
    if problems:
        located = []
        for path, message in problems:
            line, col = _locate(path, lines)
            shown = tuple(p for p in path if p != "__key__")
            located.append((line, col, f"{name}:{line}:{col}: {format_path(shown)}: {message}"))
        located.sort(key=lambda item: (item[0], item[1]))
        raise ConfigError([text for _, _, text in located])
    assert settings is not None
    return Config(settings, name, warnings)


def load_config(path: str, env: dict[str, str] | None = None) -> Config:
    """Read and validate the configuration file at ``path``. Raises :class:`ConfigError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file; pass --config PATH or set NEWSMONITOR_CONFIG"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    return parse_settings(text, path, env)


def load_rules_only(path: str) -> list[Any]:
    """The rules of a configuration file as ``RuleSpec``s, without needing notifier secrets.

    Used by ``newsmonitor match --config``: ``${VAR}`` references that are unset expand to
    an empty string, and notifiers are not checked. Raises :class:`ConfigError`.
    """
    from monitor.rules import RuleSpec

    class _Lenient(dict[str, str]):
        def __contains__(self, key: object) -> bool:
            return True

        def __getitem__(self, key: str) -> str:
            return os.environ.get(key, "unset")

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None

    def rules_check(
        settings: Settings, warnings: list[str], dropped: Dropped
    ) -> Iterator[tuple[KeyPath, str]]:
        for i, rule in enumerate(settings.rules):
            problem = check_query(rule.query)
            if problem:
                yield ("rules", i, "query"), f'rule "{rule.name}": {problem}'

    config = parse_settings(text, path, _Lenient(), check=rules_check)
    return [
        RuleSpec(name=r.name, query=r.query, sources=tuple(r.sources), tags=tuple(r.tags))
        for r in config.settings.rules
        if r.enabled
    ]
