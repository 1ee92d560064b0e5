"""The watch-rule language and the percolator that matches all rules against a story.

Pure logic, no I/O. See docs/rules.md for the language reference::

    matcher = Matcher.compile([RuleSpec("jp-defence", 'Japan NEAR/10 defence')])
    for match in matcher.match(story):
        print(match.rule, [s.plain() for s in match.snippets])
"""

from __future__ import annotations

from monitor.rules.ast import Query
from monitor.rules.hints import OperatorHint, lowercase_operators
from monitor.rules.matcher import Matcher, RuleSpec
from monitor.rules.parser import parse_query

__all__ = ["Matcher", "OperatorHint", "Query", "RuleSpec", "lowercase_operators", "parse_query"]
