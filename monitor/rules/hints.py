"""Advice on queries that parse but probably do not say what their author meant (pure).

Operators are upper-case only, so ``Japan and defence`` asks for the word *and* as well,
and ``Japan not China`` asks for the word *not* instead of leaving China out. A rule like
that is valid, and alerting on it is no error, but its author most likely meant the
operator: :func:`lowercase_operators` finds those words so ``check`` can ask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.rules.ast import And, Near, Node, Not, Or, Query, Term

#: an operator spelled in anything but upper case (``and``, ``Or``, ``near/5``)
_OPERATOR_WORD = re.compile(r"(and|or|not|near(/\d+)?)", re.IGNORECASE)
#: such a word written as a word of its own (between spaces, brackets, quotes or the ends
#: of the query), not in upper case: a query without any has no hint, and is not walked.
#: Every query of a rule set is searched (100 000 at a start without a cache), so the
#: expression starts with the letters such a word starts with, and tries the rest only
#: there (half the instructions of the expression it replaced, which tried its look-behind
#: at every character and finds the same queries: tests/rules/test_parser_reference.py)
_WRITTEN = re.compile(
    r'[aAnNoO](?<![^\s()"“”].)'  # a word's first letter, after a space, bracket or quote, or first
    r"(?:(?<=[aA])(?i:nd)(?<!AND)|(?<=[oO])(?i:r)(?<!OR)|(?<=[nN])(?i:ot)(?<!NOT)|(?<=[nN])(?i:ear)(?<!NEAR))"
    r'(?:/\d+)?(?![^\s()"“”])'
)


@dataclass(frozen=True, slots=True)
class OperatorHint:
    """A word of a query that reads like an operator: as written, its column, the operator meant."""

    word: str
    column: int
    operator: str


def lowercase_operators(query: Query) -> list[OperatorHint]:
    """The words spelled like an operator in other than upper case that stand between two
    operands of ``query``, in the order of the query.

    Only a bare word counts: a quoted phrase (``"rock and roll"``), an exact word (``=and``),
    a word limited to a field (``title:or``) and a word at the start or end of a group are
    what their author wrote on purpose.
    """
    if _WRITTEN.search(query.text) is None:
        return []
    hints: list[OperatorHint] = []
    stack: list[Node] = [query.root]
    while stack:
        node = stack.pop()
        if isinstance(node, And):
            hints.extend(_between(query.text, node.children))
            stack.extend(node.children)
        elif isinstance(node, Or):
            stack.extend(node.children)
        elif isinstance(node, Not):
            stack.append(node.child)
        elif isinstance(node, Near):
            stack.extend((node.left, node.right))
    return sorted(hints, key=lambda hint: hint.column)


def _between(text: str, children: tuple[Node, ...]) -> list[OperatorHint]:
    hints = []
    for child in children[1:-1]:
        if not isinstance(child, Term) or child.field is not None:
            continue
        word = child.label
        written_bare = text[child.col - 1 : child.col - 1 + len(word)] == word
        if written_bare and _OPERATOR_WORD.fullmatch(word) and word != word.upper():
            operator = word.upper()
            hints.append(OperatorHint(word, child.col, "NEAR/10" if operator == "NEAR" else operator))
    return hints
