"""Lexer and recursive-descent parser of the watch-rule language (see docs/rules.md).

Precedence, loosest first: OR, AND (explicit or implicit), NEAR/n, NOT. Operators are
upper-case only; ``and``/``or``/``not``/``near`` are ordinary words. Every error is a
:class:`~monitor.errors.QueryError` with the 1-based column of the offending token.

A start without a cache parses every query of the file (100 000 rules: three seconds
before this module was rewritten for it), so the work per query is kept small: the lexer
takes one match of one regex per token; the grammar runs once per *shape* of query (the
kinds of its tokens), making a program that builds the tree of any query of that shape
(``_Shape``, ``_run``); a term (its units, label and requirement sets) is made once per
distinct word, field and column and shared; each node's requirement sets (``needs``) are
combined as the node is built; and the NEAR checks run only on queries with a NEAR.
tests/rules/test_parser_reference.py holds the parser to the answers of its
recursive-descent predecessor, query by query.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from functools import lru_cache

from monitor.errors import QueryError
from monitor.rules.ast import And, Lang, Mode, Near, Node, Not, Or, Query, Term, Unit, unit
from monitor.rules.encoding import LANG_FIELD, NEAR_SLASH, QUERY_FIELDS, WILDCARD, Atom, Token, language_code
from monitor.rules.needs import and_needs, lang_needs, needs_of, or_needs, term_needs
from monitor.rules.text import CHUNK_RE, fold, split_chunk, visible

MAX_QUERY_CHARS = 10_000
MAX_DEPTH = 64
MAX_DISTANCE = 1_000
MIN_PREFIX = 2

# every Token as a module global: the lexer and parser test the kind of every token, and
# reading ``Token.X`` costs about ten times a global (``EnumType`` defines ``__getattr__``,
# which keeps the interpreter from caching the lookup; with them, lexing was about 40 %
# slower and parsing as a whole about 10 %)
_OPEN, _CLOSE, _END = Token.OPEN, Token.CLOSE, Token.END
_AND, _OR, _NOT, _NEAR = Token.AND, Token.OR, Token.NOT, Token.NEAR
_NEG, _EXACT, _FIELD = Token.NEG, Token.EXACT, Token.FIELD
_WORD, _PHRASE = Token.WORD, Token.PHRASE

_SPACE = " \t\r\n\f\v\u00a0"
#: one token of a query, after any spaces (possessive: trailing spaces match nothing). The
#: first alternative is a shortcut: a run that starts with a lower-case letter or digit, or
#: with an upper-case letter and a lower-case one, and holds no ``:``, can be nothing but a
#: word (no operator, NEAR, ``-``, ``=`` or ``name:``), and most runs of a query are such
#: words: taken first, they are not tried against every other alternative (the search
#: tried each, a third of the lexer's cost). The other alternatives are tried in the order
#: the lexer always decided in: a bracket; a quoted
#: phrase (a straight quote closes at the next straight quote, or failing one at the next
#: ”; “ and ” close at the next ”), or a quote that none closes; an operator word or a NEAR
#: run (a run: characters up to a space, bracket or quote); ``-`` and ``=`` before an operand, or before
#: nothing; ``name:`` and the run after it, taken as written (not when it starts with a
#: bracket, ``=`` or a quote); any other run, a word; any other character (a space outside
#: ``_SPACE``), a word of itself.
_TOKEN = re.compile(
    r"""[ \t\r\n\f\v\xa0]*+(?:
      ((?:[a-z0-9]|[A-Z][a-z])[^\s()"“”:]*+)(?![^\s()"“”])
    | ([()])
    | "([^"]*)" | "(?=[^"]*\Z)([^”]*)” | “([^”]*)” | ”([^”]*)”
    | (["“”])
    | (AND|OR|NOT)(?![^\s()"“”])
    | (NEAR(?:/[^\s()"“”]*)?)(?![^\s()"“”])
    | (-)(?=[^ \t\r\n\f\v\xa0)]) | (-)
    | (=)(?=[^\s()]) | (=)
    | ([A-Za-z]+):(?:(?![(="“”])([^\s()"“”]+|[^ \t\r\n\f\v\xa0)]))?
    | ([^\s()"“”]+)
    | (.)
    )""",
    re.VERBOSE | re.DOTALL,
)
# the groups of _TOKEN
_G_PLAIN, _G_BRACKET, _G_PHRASE, _G_PHRASE_LAST, _G_UNCLOSED, _G_OPERATOR, _G_NEAR = 1, 2, 3, 6, 7, 8, 9
_G_NEG, _G_NEG_ALONE, _G_EXACT, _G_EXACT_ALONE, _G_FIELD, _G_LITERAL, _G_WORD, _G_OTHER = range(10, 18)
_SPELLED_GROUPS = frozenset({_G_BRACKET, _G_OPERATOR})
_FIELD_GROUPS = frozenset({_G_FIELD, _G_LITERAL})
#: the tokens a query spells as themselves, by spelling
_SPELLED = {str(t): t for t in (_OPEN, _CLOSE, _AND, _OR, _NOT)}
_EXACT_ALONE = '"=" must be followed by a word or a quoted phrase'
_NEAR_DISTANCE = re.compile(rf"{re.escape(NEAR_SLASH)}(\d+)")
_LANG_CODE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
#: a query word that is one piece of plain letters or digits (a wildcard after it or not):
#: its units need no splitting (see ``_word_units_at``)
_PLAIN_WORD = re.compile(r"([A-Za-z]+|[0-9]+)(\*?)")

Tokens = tuple[list[Token], list[str], list[int]]


#: the kind of the tokens of each group of ``_TOKEN`` whose kind its group tells
_KIND_OF_GROUP: dict[int, Token] = {
    _G_PLAIN: _WORD, _G_WORD: _WORD, _G_OTHER: _WORD, _G_NEG: _NEG, _G_EXACT: _EXACT,
    **dict.fromkeys(range(_G_PHRASE, _G_PHRASE_LAST + 1), _PHRASE),
}


# 100 000 rules are parsed at every start without a cache: one regex match per token, and
# the token's kind looked up by the group that matched (walking the characters one by one
# in Python took twice as long)
def _lex(query: str) -> Tokens:
    """The tokens of ``query``: their kinds, texts and 1-based columns, the last of kind END.
    Raises :class:`QueryError` for a token that cannot be read."""
    kinds: list[Token] = []
    texts: list[str] = []
    cols: list[int] = []
    for m in _TOKEN.finditer(query):
        group = m.lastindex
        assert group is not None
        kind = _KIND_OF_GROUP.get(group)
        if kind is not None:
            kinds.append(kind)
            texts.append(m[group])
            # a phrase is at its opening quote
            cols.append(m.start(group) + (1 if kind is not _PHRASE else 0))
        elif group in _SPELLED_GROUPS:
            text = m[group]
            kinds.append(_SPELLED[text])
            texts.append(text)
            cols.append(m.start(group) + 1)
        else:
            _lex_rare(query, m, group, kinds, texts, cols)
    kinds.append(_END)
    texts.append("")
    cols.append(len(query) + 1)
    return kinds, texts, cols


def _lex_rare(query: str, m: re.Match[str], group: int, kinds: list[Token], texts: list[str], cols: list[int]) -> None:
    """The tokens of the groups ``_lex`` leaves to this: ``name:`` (and the word after it),
    NEAR/n, and the errors."""
    if group == _G_NEAR:
        text = m[group]
        col = m.start(group) + 1
        found = _NEAR_DISTANCE.fullmatch(text)
        if not found:
            raise QueryError("NEAR needs a distance in words, like NEAR/10", col)
        if int(found.group(1)) > MAX_DISTANCE:
            raise QueryError(f"NEAR distance must be at most {MAX_DISTANCE}", col)
        kinds.append(_NEAR)
        texts.append(text)
        cols.append(col)
        return
    if group in _FIELD_GROUPS:
        _lex_field(query, m, kinds, texts, cols)
        return
    col = m.start(group) + 1
    if group == _G_UNCLOSED:
        raise QueryError("unterminated quote", col)
    if group == _G_NEG_ALONE:
        raise QueryError('nothing to negate after "-"', col)
    raise QueryError(_EXACT_ALONE, col)


def _lex_field(query: str, m: re.Match[str], kinds: list[Token], texts: list[str], cols: list[int]) -> None:
    """The tokens of ``name:`` and of the word after it, taken as written (if any)."""
    name = m[_G_FIELD]
    col = m.start(_G_FIELD) + 1
    field = name.lower()
    if field not in QUERY_FIELDS:
        raise QueryError(f'unknown field "{name}" (fields: {", ".join(QUERY_FIELDS)})', col)
    literal = m[_G_LITERAL]
    if literal is None:
        end = m.end(_G_FIELD) + 1
        if end >= len(query) or query[end] in _SPACE or query[end] == _CLOSE:
            raise QueryError(f'nothing after "{name}:"', col)
    kinds.append(_FIELD)
    texts.append(field)
    cols.append(col)
    if literal is not None:
        kinds.append(_WORD)
        texts.append(literal)
        cols.append(m.start(_G_LITERAL) + 1)


#: the tokens that can start an operand (so an AND between two operands may be left out)
_STARTS = frozenset({_WORD, _PHRASE, _OPEN, _NOT, _NEG, _FIELD, _EXACT})
#: what may follow ``field:``
_FIELD_OPERANDS = frozenset({_WORD, _PHRASE, _OPEN, _EXACT})

Needs = Sequence[frozenset[Atom]] | None

# the operations of a shape's program (see _Shape); each is a tuple whose first item is one
# of these, and whose other items are token indices and the like
_TERM, _LANG, _ALL, _ANY, _WITHIN, _NEGATE, _MOVE = range(7)
Op = tuple[int, ...] | tuple[int, int, bool, str | None, bool]


class _Shape:
    """The grammar, run over the kinds of a query's tokens (and the names of its fields):
    what it makes is not the tree but a *program* that builds it from the tokens (``_run``),
    in postfix order. Queries of the same shape (the same kinds of tokens in the same order,
    the same fields) have the same program whatever their words, and a large rule set has a
    few hundred shapes: each is parsed once (``_program``).

    A term is made where the grammar reaches its word, so the program's term and ``lang:``
    operations come in the order of the query, as the terms did when the parser built the
    tree as it went: the first bad word is the one reported. A syntax error raised here is
    reported after the words before it are checked (``_first_error``).
    """

    __slots__ = ("depth", "i", "kinds", "near", "ops", "texts")

    def __init__(self, kinds: list[Token], texts: list[str]) -> None:
        self.kinds = kinds
        self.texts = texts
        self.i = 0
        self.depth = 0
        self.ops: list[Op] = []
        self.near = False

    def unexpected(self, cols: list[int]) -> QueryError:
        i = self.i
        if self.kinds[i] is _END:
            return QueryError("unexpected end of query", cols[i])
        return QueryError(f'unexpected "{self.texts[i]}"', cols[i])

    def parse(self, cols: list[int]) -> None:
        self.parse_or(None, cols)
        if self.kinds[self.i] is not _END:
            raise self.unexpected(cols)

    def parse_or(self, field: str | None, cols: list[int]) -> None:
        first = self.i
        self.parse_and(field, cols)
        count = 1
        while self.kinds[self.i] is _OR:
            self.i += 1
            self.parse_and(field, cols)
            count += 1
        if count > 1:
            self.ops.append((_ANY, count, first))

    def parse_and(self, field: str | None, cols: list[int]) -> None:
        kinds = self.kinds
        first = self.i
        self.parse_near(field, cols)
        count = 1
        while True:
            kind = kinds[self.i]
            if kind is _AND:
                self.i += 1
            elif kind not in _STARTS:
                break
            self.parse_near(field, cols)
            count += 1
        if count > 1:
            self.ops.append((_ALL, count, first))

    def parse_near(self, field: str | None, cols: list[int]) -> None:
        self.parse_unary(field, cols)
        while self.kinds[self.i] is _NEAR:
            op = self.i
            self.i += 1
            self.parse_unary(field, cols)
            self.ops.append((_WITHIN, op))
            self.near = True

    def parse_unary(self, field: str | None, cols: list[int]) -> None:
        kind = self.kinds[self.i]
        if kind is not _NOT and kind is not _NEG:
            self.parse_primary(field, cols)
            return
        op = self.i
        self.i += 1
        self.enter(op, cols)
        self.parse_unary(field, cols)
        self.depth -= 1
        self.ops.append((_NEGATE, op))

    def enter(self, op: int, cols: list[int]) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError("query is nested too deeply", cols[op])

    # the grammar's primary rule (field, exact word, group, word) with its error messages in
    # place: split up, the order in which the alternatives are tried would no longer be visible
    def parse_primary(self, field: str | None, cols: list[int]) -> None:
        i = self.i
        kind = self.kinds[i]
        if kind is _WORD or kind is _PHRASE:
            self.i = i + 1
            self.ops.append((_TERM, i, kind is _PHRASE, field, False))
        elif kind is _FIELD:
            self.parse_field(cols)
        elif kind is _EXACT:
            self.i = i + 1
            if self.kinds[i + 1] is not _WORD and self.kinds[i + 1] is not _PHRASE:
                raise QueryError(_EXACT_ALONE, cols[i])
            self.i = i + 2
            self.ops.append((_TERM, i + 1, self.kinds[i + 1] is _PHRASE, field, True))
            self.ops.append((_MOVE, i))
        elif kind is _OPEN:
            self.i = i + 1
            self.enter(i, cols)
            self.parse_or(field, cols)
            self.depth -= 1
            if self.kinds[self.i] is not _CLOSE:
                if self.kinds[self.i] is _END:
                    raise QueryError('missing ")" for this "("', cols[i])
                raise self.unexpected(cols)
            self.i += 1
        else:
            raise self.unexpected(cols)


    def parse_field(self, cols: list[int]) -> None:
        i = self.i
        name = self.texts[i]
        self.i = i + 1
        if name == LANG_FIELD:
            self.i = i + 2
            if self.kinds[i + 1] is not _WORD:
                raise QueryError(_LANG_NEEDS_CODE, cols[i + 1])
            self.ops.append((_LANG, i, i + 1))
            return
        if self.kinds[i + 1] not in _FIELD_OPERANDS:
            raise self.unexpected(cols)
        self.parse_primary(name, cols)
        self.ops.append((_MOVE, i))


_LANG_NEEDS_CODE = 'lang: needs a language code such as "de" or "pt-BR"'
#: each shape parsed (see _Shape): its program, whether its queries are yet to be checked
#: for what may not stand in a NEAR, how many queries of it were parsed, and its builder
#: (``_builder``, made for the ``_BUILD_FROM``-th query of the shape: writing and compiling
#: one costs as much as running the program for a few dozen queries, and a shape of one
#: query has no use for it); emptied when it grows past _MAX_SHAPES (a large rule set has
#: hundreds)
_PROGRAMS: dict[object, _Program] = {}
_MAX_SHAPES = 20_000
_BUILD_FROM = 16


class _Program:
    """A shape's program (``ops``), whether its queries are yet to be checked for what may
    not stand in a NEAR (``near``), and the number of its queries run (``uses``) until its
    builder (``build``) is made."""

    __slots__ = ("build", "near", "ops", "uses")

    def __init__(self, ops: tuple[Op, ...], near: bool) -> None:
        self.ops = ops
        self.near = near
        self.uses = 0
        self.build: Builder | None = None

    def run(self, texts: list[str], cols: list[int]) -> tuple[Node, Needs]:
        """The tree and requirement sets of the query of this shape whose tokens have
        ``texts`` and ``cols``."""
        build = self.build
        if build is None:
            self.uses += 1
            if self.uses < _BUILD_FROM:
                return _run(self.ops, texts, cols)
            build = self.build = _builder(self.ops)
        return build(texts, cols)


def _program(kinds: list[Token], texts: list[str], cols: list[int]) -> _Program:
    """The program of the shape of the tokens. Raises :class:`QueryError` for a syntax
    error: the first bad word before it, if any."""
    key: object = tuple(kinds)
    if _FIELD in kinds:
        key = (key, *(text for kind, text in zip(kinds, texts, strict=True) if kind is _FIELD))
    found = _PROGRAMS.get(key)
    if found is not None:
        return found
    shape = _Shape(kinds, texts)
    try:
        shape.parse(cols)
    except QueryError:
        _first_error(shape.ops, kinds, texts, cols)
        raise
    if len(_PROGRAMS) >= _MAX_SHAPES:
        _PROGRAMS.clear()
    found = _PROGRAMS[key] = _Program(tuple(shape.ops), shape.near)
    return found


def _first_error(ops: list[Op], kinds: list[Token], texts: list[str], cols: list[int]) -> None:
    """Raises the error of the first bad word or language code of ``ops`` (the words before a
    syntax error), if any."""
    for op in ops:
        if op[0] == _TERM:
            _term(op[2], texts[op[1]], op[3], op[4], cols[op[1]])
        elif op[0] == _LANG and not _LANG_CODE.fullmatch(texts[op[2]]):
            raise QueryError(_LANG_NEEDS_CODE, cols[op[2]])


def _run(ops: tuple[Op, ...], texts: list[str], cols: list[int]) -> tuple[Node, Needs]:  # noqa: C901
    """The tree the program ``ops`` builds from the tokens' texts and columns, and its
    requirement sets (see ``monitor.rules.needs``), combined as each node is built."""
    nodes: list[Node] = []
    needs: list[Needs] = []
    for op in ops:
        code = op[0]
        if code == _TERM:
            term, term_needs_ = _term(op[2], texts[op[1]], op[3], op[4], cols[op[1]])
            nodes.append(term)
            needs.append(term_needs_)
        elif code == _ALL:
            count = op[1]
            items = tuple(nodes[-count:])
            subs = needs[-count:]
            del nodes[-count:], needs[-count:]
            nodes.append(And(items, cols[op[2]]))
            needs.append(and_needs(subs))
        elif code == _ANY:
            count = op[1]
            items = tuple(nodes[-count:])
            subs = needs[-count:]
            del nodes[-count:], needs[-count:]
            nodes.append(Or(items, cols[op[2]]))
            needs.append(or_needs(subs))
        elif code == _WITHIN:
            right, left = nodes.pop(), nodes.pop()
            right_needs, left_needs = needs.pop(), needs.pop()
            nodes.append(Near(left, right, int(texts[op[1]][len(NEAR_SLASH):]), cols[op[1]]))
            needs.append(and_needs((left_needs, right_needs)))
        elif code == _NEGATE:
            child = nodes.pop()
            needs.pop()
            # NOT NOT x is x: keeping it would hide x's terms from the candidate filter
            if isinstance(child, Not):
                nodes.append(child.child)
                needs.append(needs_of(child.child))
            else:
                nodes.append(Not(child, cols[op[1]]))
                needs.append(None)
        elif code == _MOVE:
            # a field or = before a term: the term is where they are
            top = nodes[-1]
            if isinstance(top, Term):
                nodes[-1] = Term(top.alts, top.field, top.label, cols[op[1]])
        else:
            code_text = texts[op[2]]
            if not _LANG_CODE.fullmatch(code_text):
                raise QueryError(_LANG_NEEDS_CODE, cols[op[2]])
            lang = language_code(code_text)
            nodes.append(Lang(lang, cols[op[1]]))
            needs.append(lang_needs(lang))
    return nodes[0], needs[0]


Builder = Callable[[list[str], list[int]], tuple[Node, Needs]]

#: each node made as its frozen dataclass's ``__init__`` makes it (the object, then each
#: slot set through its descriptor), without the cost of ``object.__setattr__`` per field:
#: a large rule set makes hundreds of thousands. What the generated builders (``_builder``)
#: and ``_term`` see of the node classes:
_NODE_SLOTS = {And: ("children", "col"), Or: ("children", "col"), Not: ("child", "col"),
               Near: ("left", "right", "distance", "col"), Term: ("alts", "field", "label", "col"),
               Query: ("text", "root", "needs")}
for _cls, _slots in _NODE_SLOTS.items():
    assert tuple(f.name for f in fields(_cls)) == _slots, f"{_cls.__name__} changed: update _NODE_SLOTS"
_BUILDER_GLOBALS: dict[str, object] = {
    "_new": object.__new__, "_term": None, "_negate": None, "_moved": None, "_lang": None,
    "and_needs": and_needs, "or_needs": or_needs, "NEAR_CUT": len(NEAR_SLASH),
    **{cls.__name__: cls for cls in _NODE_SLOTS},
    **{f"_{cls.__name__}_{name}": getattr(cls, name).__set__ for cls, slots in _NODE_SLOTS.items() for name in slots},
}

_new = object.__new__
_query_text, _query_root, _query_needs = (getattr(Query, name).__set__ for name in _NODE_SLOTS[Query])
_term_alts, _term_field, _term_label, _term_col = (getattr(Term, name).__set__ for name in _NODE_SLOTS[Term])


def _new_term(alts: tuple[tuple[Unit, ...], ...], field: str | None, label: str, col: int) -> Term:
    """``Term(alts, field, label, col)``, faster."""
    term: Term = _new(Term)
    _term_alts(term, alts)
    _term_field(term, field)
    _term_label(term, label)
    _term_col(term, col)
    return term


def _made(cls: type, *values: str) -> str:
    """Python that makes a node of ``cls`` from the expressions ``values`` (see _NODE_SLOTS)."""
    name = cls.__name__
    sets = "".join(f"; _{name}_{slot}(node, {value})" for slot, value in zip(_NODE_SLOTS[cls], values, strict=True))
    return f"node = _new({name}){sets}"


def _builder(ops: tuple[Op, ...]) -> Builder:
    """A function that builds the tree of the program ``ops`` from the tokens' texts and
    columns, with its requirement sets (see ``monitor.rules.needs``) combined as each node
    is built: the program, written out as Python once per shape, so that a query of a known
    shape runs no loop over its operations (a large rule set has hundreds of shapes and
    100 000 queries)."""
    lines = ["def build(texts, cols):"]
    stack: list[int] = []  # the values the program's operations leave, as variable numbers
    for number, op in enumerate(ops):
        code = op[0]
        if code == _TERM:
            lines.append(f"    n{number}, s{number} = _term({op[2]!r}, texts[{op[1]}], {op[3]!r}, {op[4]!r}, "
                         f"cols[{op[1]}])")
        elif code in (_ALL, _ANY):
            count = op[1]
            items = stack[-count:]
            del stack[-count:]
            nodes = "".join(f"n{item}, " for item in items)
            needs = "".join(f"s{item}, " for item in items)
            lines.append(f"    {_made(And if code == _ALL else Or, f'({nodes})', f'cols[{op[2]}]')}; n{number} = node")
            lines.append(f"    s{number} = {'and_needs' if code == _ALL else 'or_needs'}(({needs}))")
        elif code == _WITHIN:
            right, left = stack.pop(), stack.pop()
            distance = f"int(texts[{op[1]}][NEAR_CUT:])"
            lines.append(f"    {_made(Near, f'n{left}', f'n{right}', distance, f'cols[{op[1]}]')}; n{number} = node")
            lines.append(f"    s{number} = and_needs((s{left}, s{right}))")
        elif code == _NEGATE:
            child = stack.pop()
            lines.append(f"    n{number}, s{number} = _negate(n{child}, cols[{op[1]}])")
        elif code == _MOVE:
            # a field or = before a term: the term is where they are
            lines.append(f"    n{stack[-1]} = _moved(n{stack[-1]}, cols[{op[1]}])")
            continue
        else:
            lines.append(f"    n{number}, s{number} = _lang(texts[{op[2]}], cols[{op[2]}], cols[{op[1]}])")
        stack.append(number)
    lines.append(f"    return n{stack[0]}, s{stack[0]}")
    space = dict(_BUILDER_GLOBALS, _term=_term, _negate=_negate, _moved=_moved, _lang=_lang)
    # the source is made above from the program's operation codes and token indices alone
    # (and field names, which the lexer took from QUERY_FIELDS): no text of a query
    exec("\n".join(lines), space)  # noqa: S102
    build: Builder = space["build"]  # type: ignore[assignment]
    return build


def _negate(child: Node, col: int) -> tuple[Node, Needs]:
    # NOT NOT x is x: keeping it would hide x's terms from the candidate filter
    if isinstance(child, Not):
        return child.child, needs_of(child.child)
    return Not(child, col), None


def _moved(node: Node, col: int) -> Node:
    return _new_term(node.alts, node.field, node.label, col) if isinstance(node, Term) else node


def _lang(code: str, code_col: int, col: int) -> tuple[Node, Needs]:
    if not _LANG_CODE.fullmatch(code):
        raise QueryError(_LANG_NEEDS_CODE, code_col)
    lang = language_code(code)
    return Lang(lang, col), lang_needs(lang)


@lru_cache(maxsize=200_000)
def _term(phrase: bool, text: str, field: str | None, exact: bool, col: int) -> tuple[Term, Needs]:
    """The term (at column ``col``) and requirement sets of a word or phrase: one object
    for every term of the same text at the same column (terms are immutable; a large rule
    set repeats its words, often at the start of its queries)."""
    try:
        alts, label, needs = _term_parts(phrase, text, field, exact)
    except QueryError as exc:
        raise QueryError(exc.message, col + exc.column - 1) from None
    return _new_term(alts, field, label, col), needs


@lru_cache(maxsize=200_000)
def _term_parts(
    phrase: bool, text: str, field: str | None, exact: bool
) -> tuple[tuple[tuple[Unit, ...], ...], str, tuple[frozenset[Atom], ...]]:
    """The alternatives, label and requirement sets of a word or phrase (limited to
    ``field``; ``exact``: written after ``=``): made once for every term of the same text
    (a large rule set repeats its words). Raises :class:`QueryError` with a column counted
    from the token's (1: the token's first character)."""
    if phrase:
        units: list[Unit] = []
        for word in text.split():
            word_units, _ = _word_units(word, 1, Mode.CASE if exact else Mode.EXACT)
            units.extend(word_units)
        if not units:
            raise QueryError("empty phrase", 1)
        alts = _alts(tuple(units), None)
        return alts, sys.intern(f'"{text}"'), term_needs(alts, field)
    units_, alias = _word_units(text, 1, Mode.CASE if exact else Mode.LEMMA)
    if not units_:
        raise QueryError(f'no letters or digits in "{text}"', 1)
    # labels are shared, as ``ast.unit`` shares words: a large rule set repeats its words
    alts = _alts(units_, alias)
    return alts, sys.intern(text), term_needs(alts, field)


#: a requirement set as a tuple, one object for every query with that set (a large rule set
#: repeats them): less memory, and the index files each distinct set once
_need_tuple = lru_cache(maxsize=200_000)(tuple)


@lru_cache(maxsize=200_000)
def _alts(units: tuple[Unit, ...], alias: Unit | None) -> tuple[tuple[Unit, ...], ...]:
    """A term's alternatives, one object for every term of the same words: a large rule
    set repeats its words, the evaluation of a story memoises occurrences by this object
    (rules sharing a word look it up once), and fewer containers make garbage collection
    passes shorter."""
    return (units,) if alias is None else (units, (alias,))


def _word_units(word: str, col: int, mode: Mode) -> tuple[tuple[Unit, ...], Unit | None]:
    """The units of one query word, and the unit of its joined form when it is a compound."""
    try:
        return _word_units_at(word, mode)
    except QueryError as exc:
        raise QueryError(exc.message, col + exc.column - 1) from None


@lru_cache(maxsize=65_536)
def _word_units_at(word: str, mode: Mode) -> tuple[tuple[Unit, ...], Unit | None]:
    plain = _PLAIN_WORD.fullmatch(word)
    if plain is not None and (not plain[2] or (mode != Mode.CASE and len(plain[1]) >= MIN_PREFIX)):
        # one piece that splits into nothing else: what ``_split_word`` makes of it
        core = plain[1]
        if plain[2]:
            return (unit(Mode.PREFIX, core.lower()),), None
        return (_unit(core, mode),), None
    return _split_word(word, mode)


def _split_word(word: str, mode: Mode) -> tuple[tuple[Unit, ...], Unit | None]:
    # columns of errors raised here are relative to the word (1-based); invisible characters
    # are absent from a query word as from a story's (a word pasted from a page may hold a
    # soft hyphen), and a column counts the characters a reader sees
    word = visible(word)
    prefix = word.endswith(WILDCARD)
    core = word[:-1] if prefix else word
    star = core.find(WILDCARD)
    if star >= 0:
        raise QueryError("* is only allowed at the end of a word", star + 1)
    if prefix and mode == Mode.CASE:
        raise QueryError('"=" and "*" cannot be combined', 1)
    pieces: list[str] = []
    alias: str | None = None
    chunks = CHUNK_RE.findall(core)
    for chunk in chunks:
        parts, compound = split_chunk(chunk)
        pieces.extend(p for _, _, p in parts)
        if compound and len(chunks) == 1 and len(parts) <= 6:
            alias = "".join(p for _, _, p in parts)
    if prefix and (not pieces or not core or not core[-1].isalnum()):
        raise QueryError("* must follow a letter or digit", len(word))
    units = [_unit(p, mode) for p in pieces]
    alias_unit = _unit(alias, mode) if alias is not None else None
    if prefix:
        last = fold(pieces[-1])
        if len(last) < MIN_PREFIX:
            raise QueryError(f"a wildcard needs at least {MIN_PREFIX} letters before *", 1)
        units[-1] = unit(Mode.PREFIX, last)
        if alias is not None:
            alias_unit = unit(Mode.PREFIX, fold(alias))
    return tuple(units), alias_unit


def _unit(word: str, mode: Mode) -> Unit:
    if mode == Mode.LEMMA:
        return unit(mode, word.lower())
    if mode == Mode.CASE:
        return unit(mode, word)
    return unit(mode, fold(word))


# -- validation ------------------------------------------------------------------------------


def _positional(node: Node) -> bool:
    if isinstance(node, Term):
        return node.field != LANG_FIELD
    if isinstance(node, Or):
        return all(_positional(c) for c in node.children)
    return isinstance(node, Near)


def _check(node: Node) -> None:
    if isinstance(node, And | Or):
        for child in node.children:
            _check(child)
    elif isinstance(node, Not):
        _check(node.child)
    elif isinstance(node, Near):
        for side in (node.left, node.right):
            inner = side.child if isinstance(side, Not) else side
            if not _positional(inner):
                what = {And: "AND", Lang: "lang:", Not: "NOT"}.get(type(_culprit(inner)), "this")
                raise QueryError(f"{what} cannot be used inside NEAR (only words, phrases, OR and NEAR)",
                                 _culprit(inner).col)
            _check(inner)
        if isinstance(node.left, Not) and isinstance(node.right, Not):
            raise QueryError("NEAR needs a positive word on at least one side", node.col)


def _culprit(node: Node) -> Node:
    if isinstance(node, Or):
        for child in node.children:
            if not _positional(child):
                return _culprit(child)
    return node


def _check_positive(node: Node) -> None:
    if isinstance(node, Or):
        for child in node.children:
            if needs_of(child) is None:
                raise QueryError("this OR branch has no positive term (NOT alone would match almost "
                                 "every story)", child.col)
    raise QueryError("the query has no positive term (NOT alone would match almost every story)", node.col)


def parse_query(query: str) -> Query:
    """Parse and validate a watch-rule query.

    Returns the :class:`~monitor.rules.ast.Query`. Raises :class:`~monitor.errors.QueryError`
    (message and 1-based column) for a syntax error, an unknown field, a misplaced
    operator, a rule without any positive term, or a query over the size limits.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query is longer than {MAX_QUERY_CHARS} characters", MAX_QUERY_CHARS + 1)
    if not query.strip():
        raise QueryError("empty query", 1)
    kinds, texts, cols = _lex(query)
    program = _program(kinds, texts, cols)
    root, needs = program.run(texts, cols)
    if program.near:
        _check(root)  # only a NEAR can break what it checks
        # what it checks (the kinds of the nodes around each NEAR) is the shape's: it holds for
        # every query of the shape once it held for one
        program.near = False
    if needs is None:
        _check_positive(root)  # raises, pointing at the branch without a positive term
        raise QueryError("the query has no positive term", 1)
    query_: Query = _new(Query)
    _query_text(query_, query)
    _query_root(query_, root)
    _query_needs(query_, tuple(map(_need_tuple, needs)))
    return query_
