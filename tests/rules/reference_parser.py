"""The query parser and requirement sets as they were before the table-driven rewrite
(``monitor/rules/parser.py`` and ``monitor/rules/needs.py`` of commit 956d4b6, kept
verbatim but for imports): the reference tests/rules/test_parser_reference.py compares the
parser with, query by query (trees, requirement sets, errors and their columns).

Do not change it to follow the parser: it is what the parser must keep answering.
"""

# ruff: noqa
# mypy: ignore-errors
from __future__ import annotations

# ---- needs.py

from functools import lru_cache
from itertools import pairwise, product

from monitor.rules.ast import And, Lang, Mode, Node, Not, Or, Term, Unit
from monitor.rules.encoding import (
    FIELD_OF,
    FIELD_TAGS,
    FOLD_ATOM,
    LANG_ATOM,
    LEMMA_ATOM,
    PAIR_ATOM,
    PREFIX_ATOM,
    Atom,
    Field,
    pair_text,
)
from monitor.rules.text import fold

#: at most this many alternative requirement sets are derived from an AND of ORs
_MAX_NEEDS = 32
# members bound as module globals: reading ``Mode.X`` costs several times a global, and a
# large rule set makes hundreds of thousands of atoms
_LEMMA, _PREFIX = Mode.LEMMA, Mode.PREFIX
#: the units whose consecutive words are compared by their folds, so must occur as a pair
_FOLDED = (Mode.EXACT, Mode.CASE)
#: the field a term's field name requires its words in: only a field with features of its
#: own can be required of a story; a word of any other field (or none) is required anywhere
_REQUIRED_FIELD: dict[str | None, Field | None] = {
    name: field if field in FIELD_TAGS else None for name, field in FIELD_OF.items()}
#: an atom shared by every rule with that requirement, as ``ast.unit`` shares words: a large
#: rule set repeats its words, and an atom per rule would be a tuple per rule
_atom_of = lru_cache(maxsize=200_000)(Atom)


def _atom(u: Unit, field: Field | None) -> Atom:
    mode = u.mode
    if mode == _LEMMA:
        return _atom_of(LEMMA_ATOM, u.text, field)
    if mode == _PREFIX:
        return _atom_of(PREFIX_ATOM, u.text, None)
    return _atom_of(FOLD_ATOM, fold(u.text), field)


def _alt_atoms(alt: tuple[Unit, ...], field: str | None) -> frozenset[Atom]:
    required = _REQUIRED_FIELD.get(field)
    atoms = {_atom(u, required) for u in alt}
    # consecutive words compared by their folds (quoted, or exact case) must occur as a pair
    atoms.update(_atom_of(PAIR_ATOM, pair_text(fold(a.text), fold(b.text)), None) for a, b in pairwise(alt)
                 if a.mode in _FOLDED and b.mode in _FOLDED)
    return frozenset(atoms)


def needs_of(node: Node) -> list[frozenset[Atom]] | None:
    """Alternative atom sets, one of which is fully present whenever ``node`` matches;
    None when ``node`` can match a story without any particular word (e.g. ``NOT x``)."""
    if isinstance(node, Term):
        return [_alt_atoms(alt, node.field) for alt in node.alts]
    if isinstance(node, Lang):
        return [frozenset({_atom_of(LANG_ATOM, node.code, None)})]
    if isinstance(node, Not):
        return None
    if isinstance(node, Or):
        out: list[frozenset[Atom]] = []
        for child in node.children:
            sub = needs_of(child)
            if sub is None:
                return None
            out.extend(s for s in sub if s not in out)
        return out
    children = node.children if isinstance(node, And) else (node.left, node.right)
    subs = sorted((s for s in map(needs_of, children) if s is not None), key=len)
    if not subs:
        return None
    acc: list[frozenset[Atom]] = [frozenset()]
    for sub in subs:
        if len(acc) * len(sub) > _MAX_NEEDS:
            continue  # dropping a conjunct keeps the condition necessary, just looser
        acc = [a | b for a, b in product(acc, sub)]
    return acc


# ---- parser.py

import re
import sys
from dataclasses import dataclass
from functools import lru_cache

from monitor.errors import QueryError
from monitor.rules.ast import And, Lang, Mode, Near, Node, Not, Or, Query, Term, Unit, unit
from monitor.rules.encoding import LANG_FIELD, NEAR_SLASH, QUERY_FIELDS, WILDCARD, Token, language_code
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

_SPACE = frozenset(" \t\r\n\f\v\u00a0")
_RUN = re.compile(r'[^\s()"“”]+')
#: opening quote → closing quote
_QUOTES = {'"': '"', "“": "”", "”": "”"}
_BRACKETS = frozenset({_OPEN, _CLOSE})
#: the tokens a query spells as themselves, by spelling
_SPELLED = {str(t): t for t in (_OPEN, _CLOSE, _AND, _OR, _NOT)}
_WORD_OPERATORS = frozenset({_AND, _OR, _NOT})
#: after ``field:``, a character that starts an operand rather than a word taken as written
_NOT_LITERAL = frozenset({_OPEN, _EXACT, *_QUOTES})
_EXACT_ALONE = '"=" must be followed by a word or a quoted phrase'
_NEAR_DISTANCE = re.compile(rf"{re.escape(NEAR_SLASH)}(\d+)")
_FIELD_NAME = re.compile(r"([A-Za-z]+):")
_LANG_CODE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


@dataclass(slots=True)
class _Tok:
    kind: Token
    text: str
    col: int
    num: int = 0


# one pass over the characters of every query: 100 000 rules must compile in seconds, and a
# helper call per character was measured at ~40 % of lexing
def _lex(query: str) -> list[_Tok]:  # noqa: C901
    toks: list[_Tok] = []
    i, n = 0, len(query)
    literal_next = False  # the word after "field:" is taken as written
    while i < n:
        c = query[i]
        col = i + 1
        if c in _SPACE:
            literal_next = False
            i += 1
        elif c in _BRACKETS:
            toks.append(_Tok(_SPELLED[c], c, col))
            literal_next = False
            i += 1
        elif c in _QUOTES:
            close = query.find(_QUOTES[c], i + 1)
            if c == '"' and close < 0:
                close = query.find("”", i + 1)
            if close < 0:
                raise QueryError("unterminated quote", col)
            toks.append(_Tok(_PHRASE, query[i + 1 : close], col))
            literal_next = False
            i = close + 1
        else:
            m_run = _RUN.match(query, i)
            j = m_run.end() if m_run else i + 1
            run = query[i:j]
            if literal_next:
                toks.append(_Tok(_WORD, run, col))
                literal_next = False
                i = j
                continue
            if run in _WORD_OPERATORS:
                toks.append(_Tok(_SPELLED[run], run, col))
                i = j
                continue
            if run == _NEAR or run.startswith(NEAR_SLASH):
                m = _NEAR_DISTANCE.fullmatch(run)
                if not m:
                    raise QueryError("NEAR needs a distance in words, like NEAR/10", col)
                distance = int(m.group(1))
                if distance > MAX_DISTANCE:
                    raise QueryError(f"NEAR distance must be at most {MAX_DISTANCE}", col)
                toks.append(_Tok(_NEAR, run, col, distance))
                i = j
                continue
            if c == _NEG:
                if j == i + 1 and (j >= n or query[j] in _SPACE or query[j] == _CLOSE):
                    raise QueryError('nothing to negate after "-"', col)
                toks.append(_Tok(_NEG, c, col))
                i += 1
                continue
            if c == _EXACT:
                if j == i + 1 and (j >= n or query[j] not in _QUOTES):
                    raise QueryError(_EXACT_ALONE, col)
                toks.append(_Tok(_EXACT, c, col))
                i += 1
                continue
            m = _FIELD_NAME.match(run)
            if m:
                name = m.group(1).lower()
                if name not in QUERY_FIELDS:
                    raise QueryError(f'unknown field "{m.group(1)}" (fields: {", ".join(QUERY_FIELDS)})', col)
                end = i + m.end()
                if end >= n or query[end] in _SPACE or query[end] == _CLOSE:
                    raise QueryError(f'nothing after "{m.group(0)}"', col)
                toks.append(_Tok(_FIELD, name, col))
                literal_next = query[end] not in _NOT_LITERAL
                i = end
                continue
            toks.append(_Tok(_WORD, run, col))
            i = j
    toks.append(_Tok(_END, "", n + 1))
    return toks


def _describe(tok: _Tok) -> str:
    return "unexpected end of query" if tok.kind is _END else f'unexpected "{tok.text}"'


#: the tokens that can start an operand (so an AND between two operands may be left out)
_STARTS = frozenset({_WORD, _PHRASE, _OPEN, _NOT, _NEG, _FIELD, _EXACT})
_NEGATIONS = frozenset({_NOT, _NEG})
#: what may follow ``field:``
_FIELD_OPERANDS = frozenset({_WORD, _PHRASE, _OPEN, _EXACT})
_WORDS = frozenset({_WORD, _PHRASE})


class _Parser:
    def __init__(self, query: str) -> None:
        self.toks = _lex(query)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.parse_or(None)
        if self.tok.kind is not _END:
            raise QueryError(_describe(self.tok), self.tok.col)
        return node

    def parse_or(self, field: str | None) -> Node:
        first = self.tok
        items = [self.parse_and(field)]
        while self.tok.kind is _OR:
            self.take()
            items.append(self.parse_and(field))
        return items[0] if len(items) == 1 else Or(tuple(items), first.col)

    def parse_and(self, field: str | None) -> Node:
        first = self.tok
        items = [self.parse_near(field)]
        while True:
            if self.tok.kind is _AND:
                self.take()
            elif self.tok.kind not in _STARTS:
                break
            items.append(self.parse_near(field))
        return items[0] if len(items) == 1 else And(tuple(items), first.col)

    def parse_near(self, field: str | None) -> Node:
        left = self.parse_unary(field)
        while self.tok.kind is _NEAR:
            op = self.take()
            right = self.parse_unary(field)
            left = Near(left, right, op.num, op.col)
        return left

    def parse_unary(self, field: str | None) -> Node:
        if self.tok.kind in _NEGATIONS:
            op = self.take()
            self.enter(op)
            child = self.parse_unary(field)
            self.depth -= 1
            # NOT NOT x is x: keeping it would hide x's terms from the candidate filter
            return child.child if isinstance(child, Not) else Not(child, op.col)
        return self.parse_primary(field)

    def enter(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError("query is nested too deeply", tok.col)

    # the grammar's primary rule (field, exact word, group, word) with its error messages in
    # place: split up, the order in which the alternatives are tried would no longer be visible
    def parse_primary(self, field: str | None) -> Node:  # noqa: C901
        tok = self.tok
        if tok.kind is _FIELD:
            self.take()
            if tok.text == LANG_FIELD:
                value = self.take()
                if value.kind is not _WORD or not _LANG_CODE.fullmatch(value.text):
                    raise QueryError('lang: needs a language code such as "de" or "pt-BR"', value.col)
                return Lang(language_code(value.text), tok.col)
            if self.tok.kind not in _FIELD_OPERANDS:
                raise QueryError(_describe(self.tok), self.tok.col)
            node = self.parse_primary(tok.text)
            return _relocate(node, tok.col)
        if tok.kind is _EXACT:
            self.take()
            if self.tok.kind not in _WORDS:
                raise QueryError(_EXACT_ALONE, tok.col)
            return _relocate(self.term(self.take(), field, exact=True), tok.col)
        if tok.kind is _OPEN:
            self.take()
            self.enter(tok)
            node = self.parse_or(field)
            self.depth -= 1
            if self.tok.kind is not _CLOSE:
                if self.tok.kind is _END:
                    raise QueryError('missing ")" for this "("', tok.col)
                raise QueryError(_describe(self.tok), self.tok.col)
            self.take()
            return node
        if tok.kind in _WORDS:
            return self.term(self.take(), field, exact=False)
        raise QueryError(_describe(tok), tok.col)

    def term(self, tok: _Tok, field: str | None, exact: bool) -> Term:
        if tok.kind is _PHRASE:
            units: list[Unit] = []
            for word in tok.text.split():
                word_units, _ = _word_units(word, tok.col, Mode.CASE if exact else Mode.EXACT)
                units.extend(word_units)
            if not units:
                raise QueryError("empty phrase", tok.col)
            return Term(_alts(tuple(units), None), field, sys.intern(f'"{tok.text}"'), tok.col)
        units_, alias = _word_units(tok.text, tok.col, Mode.CASE if exact else Mode.LEMMA)
        if not units_:
            raise QueryError(f'no letters or digits in "{tok.text}"', tok.col)
        # labels are shared, as ``ast.unit`` shares words: a large rule set repeats its words
        return Term(_alts(units_, alias), field, sys.intern(tok.text), tok.col)


@lru_cache(maxsize=200_000)
def _alts(units: tuple[Unit, ...], alias: Unit | None) -> tuple[tuple[Unit, ...], ...]:
    """A term's alternatives, one object for every term of the same words: a large rule
    set repeats its words, the evaluation of a story memoises occurrences by this object
    (rules sharing a word look it up once), and fewer containers make garbage collection
    passes shorter."""
    return (units,) if alias is None else (units, (alias,))


def _relocate(node: Node, col: int) -> Node:
    if isinstance(node, Term):
        return Term(node.alts, node.field, node.label, col)
    return node


def _word_units(word: str, col: int, mode: Mode) -> tuple[tuple[Unit, ...], Unit | None]:
    """The units of one query word, and the unit of its joined form when it is a compound."""
    try:
        return _word_units_at(word, mode)
    except QueryError as exc:
        raise QueryError(exc.message, col + exc.column - 1) from None


@lru_cache(maxsize=65_536)
def _word_units_at(word: str, mode: Mode) -> tuple[tuple[Unit, ...], Unit | None]:
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
    root = _Parser(query).parse()
    _check(root)
    needs = needs_of(root)
    if needs is None:
        _check_positive(root)  # raises, pointing at the branch without a positive term
        raise QueryError("the query has no positive term", 1)
    return Query(query, root, tuple(tuple(need) for need in needs))
