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

import os
import re
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config.models import Config, Settings
from monitor.config.plainrules import load_plain_rules
from monitor.config.problem import AT_KEY, Problem
from monitor.config.rulesection import (
    CheckedRules,
    RulesSection,
    find_rules_section,
    rules_kept,
    section_is_own,
)
from monitor.config.validate import Dropped, normalise, validate_partially
from monitor.config.yamlload import LARGE_TEXT, YAMLDocument, YAMLProblem, collector_paused, load_yaml
from monitor.config.yamlload import Path as KeyPath
from monitor.errors import ConfigError
from monitor.redact import register_secret

if TYPE_CHECKING:
    from monitor.config.queries import QueryCheck
    from monitor.rules import RuleSpec

# ---------------------------------------------------------------------------- ${VAR} expansion

_VAR = re.compile(r"\$\$|\$\{([^}]*)\}")
#: what a YAML text holds wherever a string read from it holds a ``$``: the character, or a
#: double-quoted escape of it. A text without any has nothing to expand, and a large file
#: (100 000 rules: 0.3 s to walk every string for a ``$``) is not walked.
_DOLLAR = re.compile(r"\$|\\(?:x24|u0024|U00000024)")
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


def _expand(data: Any, path: KeyPath, env: dict[str, str] | os._Environ[str], problems: list[Problem]) -> Any:
    """``data`` with ``${VAR}`` expanded in every string value; a mapping or list in which
    nothing changes is returned as it is (a large file is mostly strings without ``$``)."""
    if isinstance(data, dict):
        copied: dict[Any, Any] | None = None
        for key, value in data.items():
            if _may_expand(value):
                new = _expand(value, (*path, str(key)), env, problems)
                if new is not value:
                    copied = copied or dict(data)
                    copied[key] = new
        return data if copied is None else copied
    if isinstance(data, list):
        return _expand_list(data, path, env, problems)
    if isinstance(data, str) and "$" in data:
        try:
            return expand_string(data, env)[0]
        except ValueError as exc:
            problems.append(Problem(path, str(exc)))
            return data
    return data


def _expand_list(
    data: list[Any], path: KeyPath, env: dict[str, str] | os._Environ[str], problems: list[Problem]
) -> list[Any]:
    listed: list[Any] | None = None
    for i, value in enumerate(data):
        if _may_expand(value):
            new = _expand(value, (*path, i), env, problems)
            if new is not value:
                listed = listed or list(data)
                listed[i] = new
    return data if listed is None else listed


def _may_expand(value: Any) -> bool:
    # a mapping or a list may hold a `$`, a string without one expands to itself
    return "$" in value if isinstance(value, str) else isinstance(value, (dict, list))


# ---------------------------------------------------------------------------- entry points


def _locate(problem: Problem, doc: YAMLDocument) -> tuple[int, int]:
    if problem.at is not None:
        return problem.at
    probe = problem.path
    while True:
        found = doc.position(probe)
        if found is not None:
            return found
        if not probe:
            return (1, 1)
        probe = probe[:-1]


def _located(name: str, problems: list[Problem], doc: YAMLDocument) -> list[str]:
    """``file:line:col: key.path: message`` for each problem, in the order of the file."""
    located = []
    for problem in problems:
        line, col = _locate(problem, doc)
        located.append((line, col, f"{name}:{line}:{col}: {problem.where}: {problem.message}"))
    located.sort(key=lambda item: (item[0], item[1]))
    return [text for _, _, text in located]


#: what a file with no settings at all gets told
EMPTY_FILE = (
    "the file is empty: a configuration needs at least sources: (what to poll) and rules: "
    "(what to alert on); start from config.example.yaml"
)


def _document(text: str, name: str) -> YAMLDocument:
    """The parsed file; raises :class:`ConfigError` when there is nothing to validate."""
    try:
        # the rule entries' lines are marked when a message needs them (most of reading them),
        # and a rules section of plain lines is not composed as YAML (see plainrules)
        doc = load_plain_rules(text, name) or load_yaml(text, name, lazy_rules=True)
    except YAMLProblem as exc:
        raise ConfigError([f"{name}:{exc.line}:{exc.column}: {exc.message}"]) from None
    if doc.data is None or doc.data == {}:
        raise ConfigError([f"{name}:1:1: {EMPTY_FILE}"])
    if not isinstance(doc.data, dict):
        raise ConfigError(
            [f"{name}:1:1: the file must be a mapping with keys such as sources:, rules:, notifiers:"]
        )
    return doc


def parse_settings(
    text: str,
    name: str,
    env: dict[str, str] | os._Environ[str] | None = None,
    *,
    check: Callable[[Settings, list[Problem], Dropped], Iterator[Problem]] | None = None,
    queries: QueryCheck | None = None,
    known_rules: CheckedRules | None = None,
) -> Config:
    """Parse and validate configuration ``text`` (from file ``name``).

    ``check`` cross-checks the validated settings (default: every check of
    :mod:`monitor.config.check`, with rule queries checked by ``queries``). An empty file is
    an error. The returned config's warnings are located like the problems. Raises
    :class:`ConfigError` listing every problem as ``file:line:col: key.path: message``, in
    the order of the file.

    ``known_rules`` is a ``rules:`` section validated before (see
    :mod:`monitor.config.rulesection`): when this file's section has the same bytes, only
    the rest of the file is read and validated, and the result is what a full read gives.
    The returned config's ``checked_rules`` is its own section's, when it can be kept.
    """
    env = os.environ if env is None else env
    full = check is None
    if full:
        check = partial(_check_all, queries=queries)
    assert check is not None
    section = find_rules_section(text)
    # a large file is millions of objects that all live on: collecting them only walks them
    with collector_paused(large=len(text) >= LARGE_TEXT):
        if section is not None and known_rules is not None and known_rules.digest == section.digest:
            config = _with_known_rules(text, name, env, check, section, known_rules, full=full)
            if config is not None:
                return config
        doc = _document(text, name)
        problems = [Problem(dup.path, dup.message, (dup.line, dup.column)) for dup in doc.duplicates]
        expandable = _DOLLAR.search(text) is not None
        data = _expand(doc.data, (), env, problems) if expandable else doc.data
        normalise(data, problems)
        warnings: list[Problem] = []
        settings, dropped = validate_partially(data, problems)
        if settings is not None:
            problems.extend(check(settings, warnings, dropped))
        if problems:
            raise ConfigError(_located(name, problems, doc))
        assert settings is not None
        config = Config(settings, name, _located(name, warnings, doc))
        if section is not None and section_is_own(section, doc, expandable=expandable):
            config.checked_rules = _kept(text, section, doc, settings, queries, warnings if full else None)
        return config


def _with_known_rules(
    text: str,
    name: str,
    env: dict[str, str] | os._Environ[str],
    check: Callable[[Settings, list[Problem], Dropped], Iterator[Problem]],
    section: RulesSection,
    known: CheckedRules,
    *,
    full: bool,
) -> Config | None:
    """``text`` read and validated with its rules section taken from ``known`` (which has the
    section's bytes), or None when the file must be read in full: it has any problem, a
    warning of the rules needs their lines, or the rest of it may change what the section
    reads as (see :mod:`monitor.config.rulesection`)."""
    rest = section.rest(text)
    if known.anchors_possible and "&" in rest:
        return None
    try:
        doc = _document(rest, name)
    except ConfigError:
        return None
    if doc.duplicates or not doc.block_root or doc.lines.get(("rules", AT_KEY)) != (section.line, 1):
        return None
    problems: list[Problem] = []
    data = _expand(doc.data, (), env, problems) if _DOLLAR.search(rest) is not None else doc.data
    if problems or data.get("rules") != []:
        return None
    normalise(data, problems)
    warnings: list[Problem] = []
    settings, dropped = validate_partially(data, problems)
    if problems or settings is None or next(iter(check(settings, warnings, dropped)), None) is not None:
        return None
    if full:
        if not known.fits(settings):
            return None
        warnings.extend(known.advice_at(section.line))
    settings.rules = list(known.rules)
    config = Config(settings, name, _located(name, warnings, doc))
    config.checked_rules = known
    return config


def _kept(
    text: str,
    section: RulesSection,
    doc: YAMLDocument,
    settings: Settings,
    queries: QueryCheck | None,
    checked: list[Problem] | None,
) -> CheckedRules | None:
    """The rules section of a file read in full, kept for the next read (see
    :func:`parse_settings`), or None when a rule has a problem of its own. ``checked`` are
    the warnings of every check of the file, which then found no problem (None: the rules
    were not checked in full, so each is checked on its own here)."""
    from monitor.config.check import check_rules_alone  # see _check_all
    from monitor.config.queries import QueryCheck

    if checked is not None:
        # check_rules found no problem: of its warnings, keep those a rule gets of its own
        rules = settings.rules
        advice = [
            w for w in checked
            if len(w.path) > 1 and w.path[0] == "rules" and isinstance(w.path[1], int)
            and (w.path[-1] == "query" or rules[w.path[1]].notify == [])
        ]
        return rules_kept(text, section, doc, settings, advice)
    advice = []
    if next(check_rules_alone(settings.rules, queries or QueryCheck(), advice), None) is not None:
        return None
    return rules_kept(text, section, doc, settings, advice)


def load_config(
    path: str,
    env: dict[str, str] | None = None,
    *,
    queries: QueryCheck | None = None,
    known_rules: CheckedRules | None = None,
) -> Config:
    """Read and validate the configuration file at ``path``; rule queries are checked by
    ``queries`` (which then holds what it parsed; default: a new one), and a rules section
    with the bytes of ``known_rules`` is taken from it (see :func:`parse_settings`). Raises
    :class:`ConfigError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: no such file; pass --config PATH or set NEWSMONITOR_CONFIG"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    return parse_settings(text, path, env, queries=queries, known_rules=known_rules)


def load_for_matching(
    path: str, *, queries: QueryCheck | None = None, known_rules: CheckedRules | None = None
) -> Config:
    """A configuration file read for matching alone (``newsmonitor match --config``), without
    needing notifier secrets: ``${VAR}`` references that are unset expand to the word
    ``unset``, and only the rules' queries are cross-checked (by ``queries``, as in
    :func:`load_config`; ``known_rules`` too). Raises :class:`ConfigError`.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    return parse_settings(
        text, path, _EveryVariableSet(), check=partial(_check_queries, queries=queries), queries=queries,
        known_rules=known_rules,
    )


def load_rules_only(path: str) -> list[RuleSpec]:
    """The enabled rules of a configuration file as ``RuleSpec``s, read as :func:`load_for_matching` reads it."""
    from monitor.rules import RuleSpec  # see _check_all

    config = load_for_matching(path)
    return [
        RuleSpec(name=r.name, query=r.query, sources=tuple(r.sources), tags=tuple(r.tags), about=r.about or "",
                 threshold=r.threshold)
        for r in config.settings.rules
        if r.enabled and r.spike is None
    ]


class _EveryVariableSet(dict[str, str]):
    # the environment as `match --config` sees it: secrets it does not need may be missing
    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return os.environ.get(key, "unset")


def _check_all(
    settings: Settings, warnings: list[Problem], dropped: Dropped, queries: QueryCheck | None = None
) -> Iterator[Problem]:
    # imported when a file is checked, not when this package is: every parser worker process
    # imports the daemon's main module (multiprocessing does) and with it this package, and
    # the checks pull in the rule engine, apprise, Jinja2 and the source kinds (~50 MB a worker)
    from monitor.config.check import check_settings

    return check_settings(settings, warnings, dropped, queries)


def _check_queries(
    settings: Settings, warnings: list[Problem], dropped: Dropped, queries: QueryCheck | None = None
) -> Iterator[Problem]:
    # the one cross-check `match --config` needs: its rules parse
    from monitor.config.check import rule_parts_problems  # see _check_all
    from monitor.config.queries import QueryCheck

    queries = queries or QueryCheck()
    for i, rule in enumerate(settings.rules):
        if rule.spike is not None:  # a spike rule matches no story
            continue
        yield from rule_parts_problems(("rules", dropped.rule_at(i)), rule, queries)
