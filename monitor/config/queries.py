"""Rule queries checked once: each text parsed at most once per load, none parsed again that is known.

Checking a file parses every rule's query (is it valid? does it read like an operator was
meant?), and compiling the rules parses them all again: at 100 000 rules each pass costs
about two seconds. A :class:`QueryCheck` remembers what it parsed, so the matcher can be
compiled from those parsed queries, and it can start from the queries of a rule set that
compiled before (a cached one, or the running one on a reload), which are not parsed again.
"""

from __future__ import annotations

from collections.abc import Mapping

from monitor.rules import OperatorHint, Query, lowercase_operators, parse_query


class QueryCheck:
    """The queries checked so far, and what checking each found.

    ``known`` maps query texts known to parse to their operator hints (words like ``and``
    that probably meant an operator), and ``parsed`` query texts to their parsed queries;
    neither is parsed again. Every other text is parsed when it is first checked, and then
    is in both.
    """

    def __init__(
        self,
        known: Mapping[str, tuple[OperatorHint, ...]] | None = None,
        parsed: Mapping[str, Query] | None = None,
    ) -> None:
        #: every query text known to parse, with its operator hints
        self.known: dict[str, tuple[OperatorHint, ...]] = dict(known or {})
        #: every query text parsed, by text
        self.parsed: dict[str, Query] = dict(parsed or {})

    def hints(self, query: str) -> tuple[OperatorHint, ...]:
        """The operator hints of ``query`` (usually none). Raises
        :class:`~monitor.errors.QueryError` when it does not parse."""
        found = self.known.get(query)
        return found if found is not None else self._parse(query)[1]

    def query(self, query: str) -> Query:
        """``query`` parsed. Raises :class:`~monitor.errors.QueryError` when it does not parse."""
        found = self.parsed.get(query)
        return found if found is not None else self._parse(query)[0]

    def _parse(self, query: str) -> tuple[Query, tuple[OperatorHint, ...]]:
        parsed = parse_query(query)
        hints = tuple(lowercase_operators(parsed))
        self.parsed[query] = parsed
        self.known[query] = hints
        return parsed, hints
