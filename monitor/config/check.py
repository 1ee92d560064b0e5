"""Cross-checks of validated settings: one small checker per section, every problem at once.

:func:`check_settings` runs the section checkers in the order of :data:`SECTIONS`. Each
takes the settings, the names sections refer to each other by (:class:`Known`) and the
list warnings go to (located like problems), and yields :class:`~monitor.config.problem.Problem`s with their key
paths. An option is checked by the part that owns it: source kinds check their own
options (the checker walks :data:`monitor.sources.REGISTRY`), :mod:`monitor.notify.options`
notifier URLs, schedules and templates, :mod:`monitor.rules` queries and
:mod:`monitor.fetch` network allow-lists; what is left here is how sections refer to each
other (unknown notifiers, sources and tags, duplicate names), what the fetcher's address
guard will refuse (so ``check`` and every poll agree) and the daemon's own options.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import ssl
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from monitor.config.models import NotifierSettings, RuleSettings, Settings, SourceSettings, check_zone
from monitor.config.problem import Problem, problem_at
from monitor.config.queries import QueryCheck
from monitor.config.validate import Dropped
from monitor.config.yamlload import Path as KeyPath
from monitor.errors import QueryError
from monitor.fetch import address_refusal, allow_entries_for, parse_allow_networks
from monitor.notify.options import check_apprise_url, check_digest, check_quiet, check_template
from monitor.redact import redact_url
from monitor.rules import OperatorHint, topics
from monitor.sources import REGISTRY, SourceKind, kind_for


@dataclass(frozen=True, slots=True)
class Known:
    """The names sections refer to each other by.

    ``notifiers`` includes those dropped as invalid (their own problem is already reported,
    so a reference to them is not a second one); ``sources`` and ``tags`` are those of the
    valid sources, and ``dropped`` says which were left out. ``queries`` checks the rules'
    queries (and knows those already checked).
    """

    notifiers: frozenset[str]
    sources: frozenset[str]
    tags: frozenset[str]
    dropped: Dropped
    queries: QueryCheck

    @classmethod
    def of(cls, settings: Settings, dropped: Dropped, queries: QueryCheck | None = None) -> Known:
        """The names defined by ``settings`` plus those of the entries in ``dropped``;
        queries are checked by ``queries`` (default: a new :class:`QueryCheck`)."""
        return cls(
            notifiers=frozenset(settings.notifiers) | dropped.notifiers,
            sources=frozenset(s.name for s in settings.sources),
            tags=frozenset(tag for s in settings.sources for tag in s.tags),
            dropped=dropped,
            queries=queries or QueryCheck(),
        )


#: a section checker: (settings, known names, warnings out) -> problems
SectionCheck = Callable[[Settings, Known, list[Problem]], Iterator[Problem]]

#: polling more often than this (seconds) is allowed, with a warning
SHORT_INTERVAL = 60.0
#: sources named in the one warning about short intervals, before "and N more"
_NAMED_AT_MOST = 5


def check_settings(
    settings: Settings, warnings: list[Problem], dropped: Dropped, queries: QueryCheck | None = None
) -> Iterator[Problem]:
    """Every problem of ``settings`` that the models cannot see field by field.

    ``dropped`` names the entries validation left out, so references to them are not
    reported again. Advice that does not stop the daemon (a short interval, a rule with
    nowhere to send) is appended to ``warnings``. Rule queries are checked by ``queries``
    (which then holds what it parsed).
    """
    known = Known.of(settings, dropped, queries)
    for section in SECTIONS:
        yield from section(settings, known, warnings)


def check_query(query: str, queries: QueryCheck | None = None) -> str | None:
    """The parse error of a watch-rule query, or None when it is valid (checked by ``queries``)."""
    try:
        (queries or QueryCheck()).hints(query)
    except QueryError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------- notifiers, defaults, health


def check_notifiers(settings: Settings, known: Known, warnings: list[Problem]) -> Iterator[Problem]:
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


def check_defaults(settings: Settings, known: Known, warnings: list[Problem]) -> Iterator[Problem]:
    """``defaults.notify`` names defined notifiers."""
    yield from _unknown_notifiers(("defaults", "notify"), settings.defaults.notify, known)


def check_health(settings: Settings, known: Known, warnings: list[Problem]) -> Iterator[Problem]:
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


def check_sources(settings: Settings, known: Known, warnings: list[Problem]) -> Iterator[Problem]:
    """Unique names; each source names one registered kind whose URL and options that kind
    accepts, at an address the fetcher's guard lets through (enabled sources only)."""
    previous: dict[str, int] = {}
    for i, source in enumerate(settings.sources):
        path: KeyPath = ("sources", i)
        if source.name in previous:
            yield Problem(
                (*path, "name"),
                f"duplicate source name '{source.name}' (also sources[{previous[source.name]}])",
            )
        previous[source.name] = i
        yield from _source_problems(path, source, settings.allow_networks)


def _source_problems(path: KeyPath, source: SourceSettings, allow_networks: list[str]) -> Iterator[Problem]:
    written = {key: url for key in REGISTRY if (url := _url_under(source, key)) is not None}
    yield from _url_problems(path, source, written, allow_networks)
    if source.interval < 1:
        yield Problem((*path, "interval"), f"interval must be at least 1s (got {source.interval:g}s)")
    for problem in _options_kind(source, written).check(source):
        yield Problem((*path, *problem.key), problem.message)
    for j, entry in enumerate(source.allow_networks):
        yield from problem_at((*path, "allow_networks", j), _network_problem(entry))


def _url_problems(
    path: KeyPath, source: SourceSettings, written: dict[str, str], allow_networks: list[str]
) -> Iterator[Problem]:
    given = [key for key, url in written.items() if url]
    if len(given) != 1:
        keys = " or ".join(f"{key}:" for key in REGISTRY)
        yield Problem(path, f"a source needs exactly one of {keys} (a URL)")
        return
    key, url = given[0], written[given[0]]
    problem = REGISTRY[key].check_url(url)
    if problem is None and source.enabled and "${" not in url:  # an unset ${VAR} is reported already
        problem = _address_problem(url, [*allow_networks, *source.allow_networks])
    yield from problem_at((*path, key), problem)


def _address_problem(url: str, allow_networks: list[str]) -> str | None:
    """Why the fetcher's address guard refuses ``url`` under ``allow_networks``, with the
    entries that would let it through; None when it does not (or cannot tell offline)."""
    refusal = address_refusal(url, [entry for entry in allow_networks if _network_problem(entry) is None])
    if refusal is None:
        return None
    entries = allow_entries_for(url)
    listed = ", ".join(f'"{entry}"' for entry in entries)
    hint = f" (allow_networks: [{listed}], at the top level or on this source)" if entries else ""
    return f"every poll of {redact_url(url)} would fail: {refusal}{hint}"


def check_intervals(settings: Settings, known: Known, warnings: list[Problem]) -> Iterator[Problem]:
    """One warning for every source polled more often than every 60s (none is an error).

    The warning names ``defaults.interval`` when sources inherit a short one from there,
    and the first few sources that set a short one of their own.
    """
    short = [(i, s) for i, s in enumerate(settings.sources) if 1 <= s.interval < SHORT_INTERVAL]
    if not short:
        return
    own = [(i, s) for i, s in short if "interval" in s.model_fields_set]
    parts = [f"sources[{i}] '{s.name}' {s.interval:g}s" for i, s in own[:_NAMED_AT_MOST]]
    if len(own) > _NAMED_AT_MOST:
        parts.append(f"and {len(own) - _NAMED_AT_MOST} more sources")
    inherited = len(short) - len(own)
    if inherited:
        users = f"{inherited} source{'s' if inherited != 1 else ''}"
        parts.insert(0, f"defaults.interval {settings.defaults.interval:g}s (used by {users})")
    path: KeyPath = ("defaults", "interval") if inherited else ("sources", own[0][0], "interval")
    warnings.append(Problem(path, f"interval under 60s: {', '.join(parts)}; be kind to the sites"))
    yield from ()


def _url_under(source: SourceSettings, key: str) -> str | None:
    # each registered kind's key is a field of SourceSettings (tests/config/test_source_kinds.py)
    value = getattr(source, key, None)
    return value if isinstance(value, str) else None


def _options_kind(source: SourceSettings, written: dict[str, str]) -> type[SourceKind]:
    # the first kind the entry writes, even empty; with none, the kind the daemon would poll
    # it as: so an entry that names no kind, or two, still has its options checked
    return REGISTRY[next(iter(written))] if written else kind_for(source.kind)


# ---------------------------------------------------------------------------- the daemon's own options


def check_web(settings: Settings, known: Known, warnings: list[Problem]) -> Iterator[Problem]:
    """``web.listen`` is host:port with a port from 1 to 65535; each of ``web.hosts`` is a
    host name or an IP address (a port after it is allowed and ignored)."""
    listen = settings.web.listen
    if listen:
        _host, sep, port = listen.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            yield Problem(("web", "listen"), f"expected host:port such as 127.0.0.1:8321 (got {listen!r})")
    for j, name in enumerate(settings.web.hosts):
        if not _is_host(name):
            yield Problem(
                ("web", "hosts", j),
                f"expected a host name or IP address such as status.example.org or 192.0.2.10 (got {name!r})",
            )
    yield from _check_web_token(settings)


#: the shortest web.token accepted (a random 32-character token is what the README suggests)
MIN_TOKEN = 16


def _check_web_token(settings: Settings) -> Iterator[Problem]:
    """``web.token`` is long enough (its value is never quoted: it is a secret), and set
    whenever ``web.listen`` is not a loopback address."""
    web = settings.web
    if web.token is not None and len(web.token) < MIN_TOKEN:
        yield Problem(
            ("web", "token"),
            f"too short: a token needs at least {MIN_TOKEN} characters (make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`)",
        )
    if web.listen and not web.token and not _loopback_listen(web.listen):
        yield Problem(
            ("web", "token"),
            f"required when web.listen ({web.listen}) is not a loopback address: set "
            "token: ${NEWSMONITOR_TOKEN}, or listen on 127.0.0.1",
        )


def _loopback_listen(listen: str) -> bool:
    host = listen.rpartition(":")[0].strip("[]").lower()
    if host in ("", "localhost"):
        return True
    return _is_ip(host) and ipaddress.ip_address(host).is_loopback


#: one DNS label: letters, digits and inner hyphens (underscores occur in real intranet names)
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def _is_host(value: str) -> bool:
    """Whether ``value`` is a host name or IP address, with an optional ``:port``."""
    text = value.strip().lower()
    if text.startswith("["):
        literal, _, rest = text[1:].partition("]")
        return _is_ip(literal) and (not rest or (rest[0] == ":" and rest[1:].isdigit()))
    if _is_ip(text):  # an IPv6 address without brackets
        return True
    name, sep, port = text.rpartition(":")
    if sep and port.isdigit():
        text = name
    labels = text.rstrip(".").split(".")
    return 0 < len(text) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def check_http(settings: Settings, known: Known, warnings: list[Problem]) -> Iterator[Problem]:
    """``http.ca_file`` is a readable PEM file of CA certificates."""
    if settings.http.ca_file:
        yield from problem_at(("http", "ca_file"), _ca_file_problem(settings.http.ca_file))


def check_allow_networks(settings: Settings, known: Known, warnings: list[Problem]) -> Iterator[Problem]:
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


def check_rules(settings: Settings, known: Known, warnings: list[Problem]) -> Iterator[Problem]:
    """Unique names, valid queries and digests, defined notifiers, sources and tags.

    Warns of a rule with nowhere to send (allowed: dry runs and ``match`` need no targets),
    of a query with a lower-case operator word between two terms, and of a rule's ``event:``
    settings that nothing uses (neither the rule nor a notifier of it groups by event).
    """
    previous: dict[str, int] = {}
    notifiers = settings.notifiers
    defaults = settings.defaults.notify
    # whether a notifier of defaults.notify groups by event (most rules have no notify: of their own)
    defaults_group = any((n := notifiers.get(t)) is not None and n.group == "event" for t in defaults)
    positions = known.dropped.rule_positions
    queries = known.queries
    for i, rule in enumerate(settings.rules):
        at = i if positions is None else positions[i]
        path: KeyPath = ("rules", at)
        if rule.name in previous:
            yield Problem(
                (*path, "name"), f"duplicate rule name '{rule.name}' (also rules[{previous[rule.name]}])"
            )
        previous[rule.name] = at
        if rule.spike is not None:
            yield from _spike_problems(path, rule, settings, known)
        elif rule.query and rule.about is None and rule.threshold is None and not (
                rule.notify or rule.sources or rule.tags or rule.digest):
            # most rules of a large file have a query and nothing else _rule_problems checks:
            # only the query can be wrong (checked without a generator per check)
            problem = _query_problem(path, rule, queries, warnings)
            if problem is not None:
                yield problem
        else:
            yield from _rule_problems(path, rule, known, warnings)
        if rule.notify is None:
            targets, grouped = defaults, defaults_group
        else:
            targets = rule.notify
            grouped = any((n := notifiers.get(t)) is not None and n.group == "event" for t in targets)
        if not targets:
            warnings.append(Problem(path, f"rule '{rule.name}' has no notify targets and defaults.notify is empty"))
        if rule.event is not None and not (grouped or rule.group == "event"):
            warnings.append(
                Problem(
                    (*path, "event"),
                    f"rule '{rule.name}' sets event: but nothing groups it by event, so it does nothing; "
                    "add group: event to the rule (or to a notifier of it)",
                )
            )


def _query_problem(path: KeyPath, rule: RuleSettings, queries: QueryCheck, warnings: list[Problem]) -> Problem | None:
    """The problem of ``rule``'s query (None: it parses); its operator hints go to ``warnings``."""
    query = rule.query
    hints = queries.known.get(query)  # most often known: QueryCheck.hints, without its call
    if hints is None:
        try:
            hints = queries.hints(query)
        except QueryError as exc:
            return Problem((*path, "query"), f'rule "{rule.name}": {exc}')
    if hints:
        warnings.extend(problem_at((*path, "query"), _operator_advice(rule.name, hints)))
    return None


def _spike_problems(path: KeyPath, rule: RuleSettings, settings: Settings, known: Known) -> Iterator[Problem]:
    """A spike rule counts the matches of a rule with a query that the file defines."""
    assert rule.spike is not None
    watched = rule.spike.rule
    queries = [r.name for r in settings.rules if r.spike is None]
    if watched not in queries:
        spikes = {r.name for r in settings.rules if r.spike is not None}
        if watched in spikes:
            why = f"'{watched}' is a spike rule itself: a spike counts the matches of a rule with a query"
        else:
            close = difflib.get_close_matches(watched, queries, n=1)
            why = f"no rule with a query or about: is named '{watched}'"
            why += f" (did you mean '{close[0]}'?)" if close else ""
            if queries:
                why += f"; such rules: {', '.join(queries[:10])}" + (" ..." if len(queries) > 10 else "")
        yield Problem((*path, "spike", "rule"), f"rule '{rule.name}': {why}")
    yield from _unknown_notifiers((*path, "notify"), rule.notify or [], known)
    if rule.digest:
        yield from problem_at((*path, "digest"), check_digest(rule.digest))


def rule_parts_problems(
    path: KeyPath, rule: RuleSettings, queries: QueryCheck, warnings: list[Problem] | None = None
) -> Iterator[Problem]:
    """What is wrong with what ``rule`` matches: its query does not parse, it has neither a
    query nor ``about``, a threshold without ``about``, or ``about`` without the ``topics``
    extra installed. Lower-case operator words go to ``warnings`` when given."""
    if rule.query:
        try:
            hints = queries.hints(rule.query)
        except QueryError as exc:
            yield Problem((*path, "query"), f'rule "{rule.name}": {exc}')
        else:
            if warnings is not None:
                warnings.extend(problem_at((*path, "query"), _operator_advice(rule.name, hints)))
    elif rule.about is None:
        yield Problem(path, f'rule "{rule.name}" needs a query:, an about: (a topic in a few words), or both')
    if rule.about is None:
        if rule.threshold is not None:
            yield Problem((*path, "threshold"), f'rule "{rule.name}": threshold applies only to a rule with about:')
    elif not topics.available():
        yield Problem((*path, "about"), f'rule "{rule.name}": about: needs the embedding model of the "topics" '
                                        f"extra, which is not installed: {topics.EXTRA_HINT}")


def _rule_problems(path: KeyPath, rule: RuleSettings, known: Known, warnings: list[Problem]) -> Iterator[Problem]:
    yield from rule_parts_problems(path, rule, known.queries, warnings)
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


def check_rules_alone(
    rules: Sequence[RuleSettings], queries: QueryCheck, warnings: list[Problem]
) -> Iterator[Problem]:
    """What :func:`check_rules` finds of each rule on its own, needing no other section:
    duplicate names, queries that do not parse, spikes of rules that are not there, digest
    schedules; and the warnings a rule gets whatever the other sections say (a lower-case
    operator word, an empty ``notify:``, ``event:`` on a rule whose own ``notify:`` is empty),
    appended to ``warnings``. The file's other sections are checked against a rule set that
    passed this with :meth:`~monitor.config.rulesection.CheckedRules.fits`."""
    previous: dict[str, int] = {}
    digests: dict[str, str | None] = {}
    with_query = {rule.name for rule in rules if rule.query is not None}
    for i, rule in enumerate(rules):
        path: KeyPath = ("rules", i)
        if rule.name in previous:
            yield Problem((*path, "name"), f"duplicate rule name '{rule.name}' (also rules[{previous[rule.name]}])")
        previous[rule.name] = i
        yield from _rule_alone(path, rule, queries, with_query, warnings)
        if rule.digest:
            if rule.digest not in digests:
                digests[rule.digest] = check_digest(rule.digest)
            yield from problem_at((*path, "digest"), digests[rule.digest])
        if rule.notify == []:
            warnings.append(Problem(path, f"rule '{rule.name}' has no notify targets and defaults.notify is empty"))
            if rule.event is not None and rule.group != "event":
                warnings.append(
                    Problem(
                        (*path, "event"),
                        f"rule '{rule.name}' sets event: but nothing groups it by event, so it does nothing; "
                        "add group: event to the rule (or to a notifier of it)",
                    )
                )


def _rule_alone(
    path: KeyPath, rule: RuleSettings, queries: QueryCheck, with_query: set[str], warnings: list[Problem]
) -> Iterator[Problem]:
    # a spike's rule is one of these rules; a query parses (and may read like an operator was meant)
    if rule.spike is not None:
        if rule.spike.rule not in with_query:
            yield Problem((*path, "spike", "rule"), f"rule '{rule.name}': no rule with a query is named that")
    elif rule.query is not None:
        try:
            hints = queries.hints(rule.query)
        except QueryError as exc:
            yield Problem((*path, "query"), f'rule "{rule.name}": {exc}')
        else:
            if hints:
                warnings.extend(problem_at((*path, "query"), _operator_advice(rule.name, hints)))


def _operator_advice(name: str, hints: tuple[OperatorHint, ...]) -> str | None:
    """The warning for the lower-case operator words ``hints`` of a query (they match as words), or None."""
    if not hints:
        return None
    words = " and ".join(f'"{hint.word}" at column {hint.column}' for hint in hints)
    meant = " and ".join(hint.operator for hint in hints)
    verb = "is an ordinary word" if len(hints) == 1 else "are ordinary words"
    return f'rule "{name}": {words} {verb} (operators are upper-case): did you mean {meant}?'


#: the section checkers, in the order their problems and warnings are reported
SECTIONS: tuple[SectionCheck, ...] = (
    check_notifiers,
    check_defaults,
    check_health,
    check_sources,
    check_intervals,
    check_web,
    check_http,
    check_allow_networks,
    check_rules,
)
