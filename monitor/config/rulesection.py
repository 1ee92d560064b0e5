"""The ``rules:`` section validated once: a file whose rules did not change is not read again.

A file of 100 000 rules is almost all rules, and reading them (YAML, validation, the
cross-checks) takes seconds; a reload usually changes a notifier or a source. So the lines
of the top-level ``rules:`` key are found in the text (:func:`find_rules_section`), and once
a file has been validated in full, what its rules section validated to is kept
(:class:`CheckedRules`, keyed by a hash of the section's bytes). The next load of a file
whose section has the same bytes reads the rest of the file alone, with the section
replaced by ``rules: []`` on as many lines (so every other line keeps its number), and
takes the rules as validated before.

The rules are the section's own only when nothing outside its lines can change them, so a
section is kept only when the full read shows that:

- the file is a block mapping and ``rules:`` starts its line, at the line found; its value
  ends before the next top-level key (a quoted value running on past the section is not
  the section's own);
- no node of the rules is repeated (an alias or a ``<<`` merge may name an anchor elsewhere),
  and no string in them is changed by ``${VAR}`` expansion (the environment can change);
- no line break other than ``\\n`` and ``\\r\\n`` (YAML counts ``\\r``, U+0085, U+2028 and
  U+2029 as line breaks too, so line numbers would differ) and no ``%`` directive;
- every rule is valid on its own: a unique name, a query that parses, a digest schedule.

Reading the rest alone then checks what depends on it: the stand-in ``rules: []`` is a key
of the top-level mapping at the section's line (nothing before it swallowed it), no anchor
may be defined twice (a section defining one, ``&``, is kept only while the rest defines
none), and every notifier, source and tag the rules name is still defined. Anything else,
any problem in the file and any warning that needs the rules' lines, and the whole file is
read again in full, so every message is what a full read says, at its line.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from monitor.config.models import Config, RuleSettings, Settings
from monitor.config.problem import Problem
from monitor.config.yamlload import Path as KeyPath
from monitor.config.yamlload import YAMLDocument

#: the top-level key, at the start of its line
_RULES_KEY = re.compile(r"^rules[ \t]*:", re.MULTILINE)
#: a line that ends the section: it starts at column 0 with anything but a space, a
#: comment or a list item (a ``- `` item in column 0 belongs to the list above it)
_SECTION_END = re.compile(r"^(?:[^\s#\-]|-(?![ \t\r\n]))", re.MULTILINE)
#: what expansion replaces (see monitor.config.load)
_EXPANDED = re.compile(r"\$\$|\$\{")
#: line breaks YAML counts that ``\n`` counting does not
_OTHER_BREAKS = ("\x85", "\u2028", "\u2029")
#: what stands in for the section when the rest of a file is read alone
STAND_IN = "rules: []"


@dataclass(frozen=True, slots=True)
class RulesSection:
    """Where the ``rules:`` section is in a file's text: ``text[start:end]``, starting at
    1-based line ``line``; ``digest`` hashes its bytes; ``end_at`` is the 0-based line and
    column of ``end`` (where the next top-level key, or the end of the file, is)."""

    start: int
    end: int
    line: int
    end_at: tuple[int, int]
    digest: str

    def rest(self, text: str) -> str:
        """``text`` with the section replaced by ``rules: []`` and as many line breaks."""
        return text[: self.start] + STAND_IN + "\n" * text.count("\n", self.start, self.end) + text[self.end :]

    def anchors_possible(self, text: str) -> bool:
        """Whether the section of ``text`` may define an anchor (it holds an ``&``)."""
        return text.find("&", self.start, self.end) >= 0


def checked_rules_of(config: Config) -> CheckedRules | None:
    """The :class:`CheckedRules` of ``config``'s rules section, or None when it was not kept."""
    found = config.checked_rules
    return found if isinstance(found, CheckedRules) else None


#: the text last searched and what was found in it: a load searches its text twice (for a
#: section it read before, and for one of plain lines, see ``plainrules``), and a search of
#: 100 000 rules (their lines and a hash of their bytes) takes some 50 ms
_last: tuple[str, RulesSection | None] | None = None


def find_rules_section(text: str) -> RulesSection | None:
    """The lines of the top-level ``rules:`` key of ``text``, or None when there is no such
    line or the file's line breaks or directives make them unsafe to take apart.

    The lines are found by their look alone; whether they really are the whole section is
    told by a YAML read (see the module).
    """
    global _last
    if _last is not None and _last[0] is text:
        return _last[1]
    section = _find_rules_section(text)
    _last = (text, section)
    return section


def _find_rules_section(text: str) -> RulesSection | None:
    found = _RULES_KEY.search(text)
    if found is None:
        return None
    start = found.start()
    if text.startswith("%") or text.find("\n%", 0, start) >= 0:
        return None
    if any(brk in text for brk in _OTHER_BREAKS) or text.count("\r") != text.count("\r\n"):
        return None
    after = text.find("\n", start)
    ends = _SECTION_END.search(text, after + 1) if after >= 0 else None
    end = ends.start() if ends is not None else len(text)
    end_line = text.count("\n", 0, end)
    end_at = (end_line, end - (text.rfind("\n", 0, end) + 1))
    digest = hashlib.sha256(text[start:end].encode("utf-8", "surrogatepass")).hexdigest()
    return RulesSection(start, end, text.count("\n", 0, start) + 1, end_at, digest)


class CheckedRules:
    """What one ``rules:`` section validated to, for a file whose section has the same bytes.

    ``digest`` is the section's :attr:`RulesSection.digest`; ``line`` the line it started at
    when it was read; ``rules`` the validated rules; ``notifiers``, ``sources`` and ``tags``
    every name the rules refer to (the rest of a file must define them); ``inherits_notify``
    whether a rule takes ``defaults.notify``; ``events_need_rest`` whether a rule's warning
    about ``event:`` depends on its notifiers; ``advice`` the warnings the rules get of their
    own, each at its ``(line, column)`` with the line counted from ``line``;
    ``anchors_possible`` whether the section may define an anchor. ``rules`` may be given
    as a function that makes them, called when they are first needed. ``specs_digest`` is for
    the compiled-rules cache, which fills it in (the rules as compiled, see
    :mod:`monitor.daemon.rulecache`).
    """

    __slots__ = ("_build", "_rules", "advice", "anchors_possible", "digest", "events_need_rest", "inherits_notify",
                 "line", "notifiers", "sources", "specs_digest", "tags")

    def __init__(
        self,
        digest: str,
        line: int,
        rules: tuple[RuleSettings, ...] | Callable[[], tuple[RuleSettings, ...]],
        *,
        notifiers: frozenset[str],
        sources: frozenset[str],
        tags: frozenset[str],
        inherits_notify: bool,
        events_need_rest: bool = False,
        advice: tuple[Problem, ...],
        anchors_possible: bool,
        specs_digest: str | None = None,
    ) -> None:
        self.digest = digest
        self.line = line
        # a cache file's rules are built when first asked for: most reads of a changed file never do
        self._rules: tuple[RuleSettings, ...] | None = None if callable(rules) else rules
        self._build: Callable[[], tuple[RuleSettings, ...]] | None = rules if callable(rules) else None
        self.notifiers = notifiers
        self.sources = sources
        self.tags = tags
        self.inherits_notify = inherits_notify
        self.events_need_rest = events_need_rest
        self.advice = advice
        self.anchors_possible = anchors_possible
        self.specs_digest = specs_digest

    @property
    def rules(self) -> tuple[RuleSettings, ...]:
        """The validated rules, in the order of the section."""
        if self._rules is None:
            assert self._build is not None
            self._rules, self._build = self._build(), None
        return self._rules

    def fits(self, settings: Settings) -> bool:
        """Whether ``settings`` (a file's other sections) define every name the rules refer to,
        and give a rule that takes ``defaults.notify`` somewhere to send; and no rule's
        ``event:`` waits on its notifiers' ``group:`` for a warning (else the full read
        reports or warns, at the rules' lines)."""
        sources = settings.sources
        return (
            self.notifiers <= settings.notifiers.keys()
            and self.sources <= {source.name for source in sources}
            and self.tags <= {tag for source in sources for tag in source.tags}
            and not (self.inherits_notify and not settings.defaults.notify)
            and not self.events_need_rest
        )

    def advice_at(self, line: int) -> list[Problem]:
        """The rules' own warnings, for the section starting at ``line``."""
        shift = line - self.line
        return [Problem(p.path, p.message, (p.at[0] + shift, p.at[1]) if p.at else None) for p in self.advice]


def section_is_own(section: RulesSection, doc: YAMLDocument, *, expandable: bool = True) -> bool:
    """Whether the rules of ``doc`` (a full read of the file ``section`` was found in) are
    the section's own: read from its lines alone, with nothing that expansion changes
    (``expandable`` False: the file's text has nothing to expand anywhere)."""
    return (
        doc.block_root
        and not doc.rules_aliased
        and doc.rules_end is not None
        and doc.lines.get(("rules", "__key__")) == (section.line, 1)
        and doc.rules_end <= section.end_at
        and isinstance(doc.data, dict)
        and not (expandable and _expands(doc.data.get("rules")))
    )


def rules_kept(
    text: str, section: RulesSection, doc: YAMLDocument, settings: Settings, advice: Iterable[Problem]
) -> CheckedRules:
    """The :class:`CheckedRules` of ``section`` of ``text``, which was read in full into ``doc``
    (:func:`section_is_own` said yes) and validated into ``settings`` with no problem, each
    rule valid on its own; ``advice`` are the warnings the rules get of their own, by key path."""
    rules = tuple(settings.rules)
    located = [Problem(problem.path, problem.message, problem.at or _line_of(problem.path, doc)) for problem in advice]
    return CheckedRules(
        section.digest,
        section.line,
        rules,
        notifiers=frozenset(name for rule in rules for name in rule.notify or ()),
        sources=frozenset(name for rule in rules for name in rule.sources),
        tags=frozenset(tag for rule in rules for tag in rule.tags),
        inherits_notify=any(rule.notify is None for rule in rules),
        # whether its event: does anything depends on the notifiers' group: (see check_rules)
        events_need_rest=any(rule.event is not None and rule.group != "event" and rule.notify != [] for rule in rules),
        advice=tuple(located),
        anchors_possible=section.anchors_possible(text),
    )


def _line_of(path: KeyPath, doc: YAMLDocument) -> tuple[int, int]:
    probe = path
    while True:
        found = doc.position(probe)
        if found is not None or not probe:
            return found or (1, 1)
        probe = probe[:-1]


def _expands(data: Any) -> bool:
    """Whether ``${VAR}`` expansion would change any string in ``data`` (YAML as read)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "$" in item and _EXPANDED.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
            stack.extend(item.keys())
        elif isinstance(item, list):
            stack.extend(item)
    return False
