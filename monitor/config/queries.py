"""Rule queries checked once: each text parsed at most once per load, none parsed again that is known.

Checking a file parses every rule's query (is it valid? does it read like an operator was
meant?), and compiling the rules parses them all again: at 100 000 rules each pass costs
about two seconds. A :class:`QueryCheck` remembers what it parsed, so the matcher can be
compiled from those parsed queries, and it can start from the queries of a rule set that
compiled before (a cached one, or the running one on a reload), which are not parsed at all.
"""

from __future__ import annotations

from collections.abc import Mapping

from monitor.rules import OperatorHint, Query, lowercase_operators, parse_query


class QueryCheck:
    """The queries checked so far, and what checking each found.

    ``known`` maps query texts known to parse to their operator hints (words like ``and``
    that probably meant an operator); they are taken as they are. Every other text is
    parsed when it is first checked and then known too; :attr:`parsed` keeps what this
    check parsed itself.
    """

    def __init__(self, known: Mapping[str, tuple[OperatorHint, ...]] | None = None) -> None:
        #: every query text known to parse, with its operator hints
        self.known: dict[str, tuple[OperatorHint, ...]] = dict(known or {})
        #: the queries this check parsed, by text
        self.parsed: dict[str, Query] = {}

    def hints(self, query: str) -> tuple[OperatorHint, ...]:
        """The operator hints of ``query`` (usually none). Raises
        :class:`~monitor.errors.QueryError` when it does not parse."""
        found = self.known.get(query)
        if found is not None:
            return found
        parsed = parse_query(query)
        hints = tuple(lowercase_operators(parsed))
        self.parsed[query] = parsed
        self.known[query] = hints
        return hints
