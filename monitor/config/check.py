"""Cross-checks of validated settings: one small checker per section, every problem at once.

:func:`check_settings` runs the section checkers in the order of :data:`SECTIONS`. Each
takes the settings, the names sections refer to each other by (:class:`Known`) and the
list warnings go to, and yields :class:`~monitor.config.problem.Problem`s with their key
paths. An option is checked by the part that owns it: source kinds check their own
options (the checker walks :data:`monitor.sources.REGISTRY`), :mod:`monitor.notify.options`
notifier URLs, schedules and templates, :mod:`monitor.rules` queries and
:mod:`monitor.fetch` network allow-lists; what is left here is how sections refer to each
other (unknown notifiers, sources and tags, duplicate names) and the daemon's own options.
"""

from __future__ import annotations

import difflib
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from monitor.config.models import NotifierSettings, RuleSettings, Settings, SourceSettings, check_zone
from monitor.config.problem import Problem, format_path, problem_at
from monitor.config.validate import Dropped
from monitor.config.yamlload import Path as KeyPath
from monitor.errors import QueryError
from monitor.fetch import parse_allow_networks
from monitor.notify.options import check_apprise_url, check_digest, check_quiet, check_template
from monitor.rules import parse_query
from monitor.sources import REGISTRY, SourceKind, kind_for


@dataclass(frozen=True, slots=True)
class Known:
    """The names sections refer to each other by.

    ``notifiers`` includes those dropped as invalid (their own problem is already reported,
    so a reference to them is not a second one); ``sources`` and ``tags`` are those of the
    valid sources, and ``dropped`` says which were left out.
    """

    notifiers: frozenset[str]
    sources: frozenset[str]
    tags: frozenset[str]
    dropped: Dropped

    @classmethod
    def of(cls, settings: Settings, dropped: Dropped) -> Known:
        """The names defined by ``settings`` plus those of the entries in ``dropped``."""
        return cls(
            notifiers=frozenset(settings.notifiers) | dropped.notifiers,
            sources=frozenset(s.name for s in settings.sources),
            tags=frozenset(tag for s in settings.sources for tag in s.tags),
            dropped=dropped,
        )


#: a section checker: (settings, known names, warnings out) -> problems
SectionCheck = Callable[[Settings, Known, list[str]], Iterator[Problem]]


def check_settings(settings: Settings, warnings: list[str], dropped: Dropped) -> Iterator[Problem]:
    """Every problem of ``settings`` that the models cannot see field by field.

    ``dropped`` names the entries validation left out, so references to them are not
    reported again. Advice that does not stop the daemon (a short interval, a rule with
    nowhere to send) is appended to ``warnings``.
    """
    known = Known.of(settings, dropped)
    for section in SECTIONS:
        yield from section(settings, known, warnings)


def check_query(query: str) -> str | None:
    """The parse error of a watch-rule query, or None when it is valid."""
    try:
        parse_query(query)
    except QueryError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------- notifiers, defaults, health


def check_notifiers(settings: Settings, known: Known, warnings: list[str]) -> Iterator[Problem]:
    """Each notifier's URLs, time zone, digest, quiet hours and template."""
    for name, notifier in settings.notifiers.items():
        yield from _notifier_problems(("notifiers", name), notifier, settings.timezone)


def _notifier_problems(path: KeyPath, notifier: NotifierSettings, default_tz: str) -> Iterator[Problem]:
    for j, url in enumerate(notifier.urls):
        if "${" in url:
            continue  # its ${VAR} failed to expand: already reported
        yield from problem_at((*path, "urls", j), check_apprise_url(url))
    if notifier.timezone:
        yield from problem_at((*path, "timezone"), _zone_problem(notifier.timezone))
    if notifier.digest:
        yield from problem_at((*path, "digest"), check_digest(notifier.digest))
    if notifier.quiet:
        yield from problem_at((*path, "quiet"), check_quiet(notifier.quiet))
    if notifier.template:
        problem = check_template(
            notifier.template, fmt=notifier.format, timezone=notifier.timezone or default_tz
        )
        yield from problem_at((*path, "template"), problem)


def check_defaults(settings: Settings, known: Known, warnings: list[str]) -> Iterator[Problem]:
    """``defaults.notify`` names defined notifiers."""
    yield from _unknown_notifiers(("defaults", "notify"), settings.defaults.notify, known)


def check_health(settings: Settings, known: Known, warnings: list[str]) -> Iterator[Problem]:
    """``health.notify`` names defined notifiers."""
    yield from _unknown_notifiers(("health", "notify"), settings.health.notify or [], known)


def _unknown_notifiers(path: KeyPath, targets: Iterable[str], known: Known) -> Iterator[Problem]:
    for j, target in enumerate(targets):
        if target not in known.notifiers:
            close = difflib.get_close_matches(target, sorted(known.notifiers), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            defined = ", ".join(sorted(known.notifiers)) or "none"
            yield Problem((*path, j), f"unknown notifier '{target}'{hint}; defined notifiers: {defined}")


# ---------------------------------------------------------------------------- sources


def check_sources(settings: Settings, known: Known, warnings: list[str]) -> Iterator[Problem]:
    """Unique names; each source names one registered kind whose URL and options that kind accepts."""
    previous: dict[str, int] = {}
    for i, source in enumerate(settings.sources):
        path: KeyPath = ("sources", i)
        if source.name in previous:
            yield Problem(
                (*path, "name"),
                f"duplicate source name '{source.name}' (also sources[{previous[source.name]}])",
            )
        previous[source.name] = i
        yield from _source_problems(path, source, warnings)


def _source_problems(path: KeyPath, source: SourceSettings, warnings: list[str]) -> Iterator[Problem]:
    written = {key: url for key in REGISTRY if (url := _url_under(source, key)) is not None}
    given = [key for key, url in written.items() if url]
    if len(given) == 1:
        yield from problem_at((*path, given[0]), REGISTRY[given[0]].check_url(written[given[0]]))
    else:
        keys = " or ".join(f"{key}:" for key in REGISTRY)
        yield Problem(path, f"a source needs exactly one of {keys} (a URL)")
    if source.interval < 1:
        yield Problem((*path, "interval"), f"interval must be at least 1s (got {source.interval:g}s)")
    elif source.interval < 60:
        warnings.append(
            f"{format_path(path)} '{source.name}': interval {source.interval:g}s is under 60s; be kind to the site"
        )
    for problem in _options_kind(source, written).check(source):
        yield Problem((*path, *problem.key), problem.message)
    for j, entry in enumerate(source.allow_networks):
        yield from problem_at((*path, "allow_networks", j), _network_problem(entry))


def _url_under(source: SourceSettings, key: str) -> str | None:
    # each registered kind's key is a field of SourceSettings (tests/config/test_source_kinds.py)
    value = getattr(source, key, None)
    return value if isinstance(value, str) else None


def _options_kind(source: SourceSettings, written: dict[str, str]) -> type[SourceKind]:
    # the first kind the entry writes, even empty; with none, the kind the daemon would poll
    # it as: so an entry that names no kind, or two, still has its options checked
    return REGISTRY[next(iter(written))] if written else kind_for(source.kind)


# ---------------------------------------------------------------------------- the daemon's own options


def check_web(settings: Settings, known: Known, warnings: list[str]) -> Iterator[Problem]:
    """``web.listen`` is host:port with a port from 1 to 65535."""
    listen = settings.web.listen
    if listen:
        _host, sep, port = listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            yield Problem(("web", "listen"), f"expected host:port such as 127.0.0.1:8321 (got {listen!r})")


def check_http(settings: Settings, known: Known, warnings: list[str]) -> Iterator[Problem]:
    """``http.ca_file`` is a readable PEM file of CA certificates."""
    if settings.http.ca_file:
        yield from problem_at(("http", "ca_file"), _ca_file_problem(settings.http.ca_file))


def check_allow_networks(settings: Settings, known: Known, warnings: list[str]) -> Iterator[Problem]:
    """Each top-level ``allow_networks`` entry is an address or network the address guard understands."""
    for j, entry in enumerate(settings.allow_networks):
        yield from problem_at(("allow_networks", j), _network_problem(entry))


def _ca_file_problem(path: str) -> str | None:
    try:
        ssl.create_default_context().load_verify_locations(cafile=path)
    except FileNotFoundError:
        return f"no such file: {path!r}; give a PEM file of CA certificates"
    except (OSError, ssl.SSLError, ValueError) as exc:
        return f"cannot load CA certificates from {path!r} ({exc.__class__.__name__}); give a PEM file"
    return None


def _network_problem(entry: str) -> str | None:
    try:
        parse_allow_networks([entry])
    except ValueError as exc:
        return str(exc)
    return None


def _zone_problem(name: str) -> str | None:
    try:
        check_zone(name)
    except ValueError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------- rules


def check_rules(settings: Settings, known: Known, warnings: list[str]) -> Iterator[Problem]:
    """Unique names, valid queries and digests, defined notifiers, sources and tags.

    Warns of a rule with nowhere to send (allowed: dry runs and ``match`` need no targets).
    """
    previous: dict[str, int] = {}
    for i, rule in enumerate(settings.rules):
        path: KeyPath = ("rules", i)
        if rule.name in previous:
            yield Problem(
                (*path, "name"), f"duplicate rule name '{rule.name}' (also rules[{previous[rule.name]}])"
            )
        previous[rule.name] = i
        yield from _rule_problems(path, rule, known)
        if not (rule.notify if rule.notify is not None else settings.defaults.notify):
            warnings.append(f"rules[{i}] '{rule.name}' has no notify targets and defaults.notify is empty")


def _rule_problems(path: KeyPath, rule: RuleSettings, known: Known) -> Iterator[Problem]:
    problem = check_query(rule.query)
    if problem:
        yield Problem((*path, "query"), f'rule "{rule.name}": {problem}')
    yield from _unknown_notifiers((*path, "notify"), rule.notify or [], known)
    for j, name in enumerate(rule.sources):
        if name not in known.sources and name not in known.dropped.sources:
            close = difflib.get_close_matches(name, sorted(known.sources), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            yield Problem((*path, "sources", j), f"unknown source '{name}'{hint}")
    for j, tag in enumerate(rule.tags):
        # a dropped source may have had the tag
        if tag not in known.tags and not known.dropped.sources:
            in_use = ", ".join(sorted(known.tags)) or "none"
            yield Problem((*path, "tags", j), f"no source has tag '{tag}'; tags in use: {in_use}")
    if rule.digest:
        yield from problem_at((*path, "digest"), check_digest(rule.digest))


#: the section checkers, in the order their problems and warnings are reported
SECTIONS: tuple[SectionCheck, ...] = (
    check_notifiers,
    check_defaults,
    check_health,
    check_sources,
    check_web,
    check_http,
    check_allow_networks,
    check_rules,
)
