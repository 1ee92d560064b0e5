"""The encodings of the rules package, named in one place.

Matching runs on plain strings, small ints and tuples, because C-level set and dict
operations on them keep a story's cost independent of the number of rules. This module
says what each such value means; no other module of ``monitor.rules`` spells a tag
character, an atom kind, a field index or a token kind.

Values that are kept in bulk (a field in every word occurrence, an atom kind in every
atom of every rule) are plain ints and strings under a ``NewType``: typed for mypy, free
at run time. An enum member would be an object the garbage collector tracks, and every
tuple holding one would stay tracked: with ``Field`` an ``IntEnum``, the benchmark's
1 000 common-word rules ran nine full collections instead of seven and matched 25 %
slower. Kinds that only pass through calls (``WordForm``, ``Token``) are enums.

Fields
    A story has four searchable fields. A :data:`Field` is a field's index in
    ``StoryDoc.fields``, which is also the order of hits and snippets; ``FIELD_NAMES``
    are their names in queries, hits and snippets.

Candidate-filter features (:data:`Feature`)
    A word key or fold is a feature as it is. Every other string feature starts with a
    tag character below any character a word can start with (``LAST_TAG`` is the
    highest), so the two never collide::

        SURFACE_TAG + surface     a word as written (only in ``LangCache.rev``, for =WORD)
        PREFIX_TAG + prefix       some word of the story starts with a rule's wildcard prefix
        LANG_TAG + code           the story's language (``language_code``)
        FIELD_TAGS[field] + word  a key or fold of a word of the title, source or URL
        ALWAYS                    a feature of every story

    Two words at consecutive positions are a :data:`Pair` of their folds.

Atoms (:class:`Atom`)
    What the candidate filter can test of a query with set lookups; see :data:`AtomKind`.

Query tokens (:class:`Token`)
    The kinds of token the query lexer produces.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple, NewType

#: a searchable field of a story: its index in ``StoryDoc.fields``, which is also the order
#: in which hits and snippets are reported
Field = NewType("Field", int)
TITLE = Field(0)
TEXT = Field(1)
SOURCE = Field(2)
URL = Field(3)
#: every field, in index order
ALL_FIELDS = (TITLE, TEXT, SOURCE, URL)
#: each field's name (in queries, hits and snippets), by index; literals, so that they are
#: the interned strings every other literal of these names is (dict lookups by identity)
FIELD_NAMES: tuple[str, ...] = ("title", "text", "source", "url")
#: a field by its name
FIELD_OF: dict[str, Field] = {name: f for f, name in zip(ALL_FIELDS, FIELD_NAMES, strict=True)}
#: the fields a term without ``field:`` searches
DEFAULT_FIELDS = (TITLE, TEXT)
#: ``lang:xx`` looks like a field in a query but tests the story's language
LANG_FIELD = "lang"
#: everything a query may write before ``:``
QUERY_FIELDS: tuple[str, ...] = (*FIELD_NAMES, LANG_FIELD)

#: two words at consecutive positions: their folds
Pair = tuple[str, str]
#: what the candidate filter looks up: a word key or fold (possibly tagged), or a pair
Feature = str | Pair
#: a candidate-filter feature of every story (no word is empty)
ALWAYS = ""
#: tag of a word's surface form in a language cache's reverse index
SURFACE_TAG = "\x01"
#: tag of a wildcard prefix that some word of the story starts with
PREFIX_TAG = "\x02"
#: tag of the story's language code
LANG_TAG = "\x03"
#: tags of the words of the fields small enough to have features of their own; a term of
#: another field (or of none) requires its words anywhere in the story
FIELD_TAGS: dict[Field, str] = {TITLE: "\x04", SOURCE: "\x05", URL: "\x06"}
#: the highest tag character: a feature whose first character is above it is a word
LAST_TAG = max(SURFACE_TAG, PREFIX_TAG, LANG_TAG, *FIELD_TAGS.values())


class WordForm(StrEnum):
    """Which normal form of a word a position lookup compares: a ``text.Part``'s (or
    ``text.Alias``'s) ``KEYS``, ``FOLD`` or ``SURFACE``."""

    KEYS = "keys"  # the query word is one of the word's lemma keys
    FOLD = "fold"  # the word's fold equals the query word
    SURFACE = "surface"  # the word as written equals the query word


#: what an :class:`Atom` requires of a story. The values are the letters of the earlier
#: tuple encoding: atoms that look equally selective are indexed in the same order as
#: before (``matcher._selectivity``).
AtomKind = NewType("AtomKind", str)
#: some inflection of the lower-case word (one of its keys) is present
LEMMA_ATOM = AtomKind("k")
#: that exact fold is present
FOLD_ATOM = AtomKind("f")
#: a word with that prefix is present
PREFIX_ATOM = AtomKind("p")
#: the story is in that language
LANG_ATOM = AtomKind("l")
#: two folds at consecutive word positions of one field (``pair_text``)
PAIR_ATOM = AtomKind("b")


class Atom(NamedTuple):
    """A requirement the candidate filter can test with set lookups. ``field`` is set for a
    LEMMA_ATOM or FOLD_ATOM whose word must be in one of the ``FIELD_TAGS`` fields."""

    kind: AtomKind
    text: str
    field: Field | None = None


#: between the two folds of a PAIR atom's text (no fold holds a space)
PAIR_SEPARATOR = " "


def pair_text(first: str, second: str) -> str:
    """The text of the PAIR atom requiring folds ``first`` and ``second`` at consecutive
    positions."""
    return f"{first}{PAIR_SEPARATOR}{second}"


def pair_of(atom: Atom) -> Pair:
    """The two folds of a PAIR atom (see :func:`pair_text`)."""
    first, second = atom.text.split(PAIR_SEPARATOR)
    return first, second


class Token(StrEnum):
    """Kinds of the query lexer's tokens. An operator's value is how a query spells it;
    the other kinds' values are only names."""

    OPEN = "("
    CLOSE = ")"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    NEAR = "NEAR"  # spelled NEAR/n
    NEG = "-"  # -word
    EXACT = "="  # =word, ="phrase"
    WORD = "word"
    PHRASE = "phrase"  # "quoted words"
    FIELD = "field"  # name:
    END = "end"


#: the query spelling of NEAR/n before its distance
NEAR_SLASH = f"{Token.NEAR}/"
#: after a query word: a wildcard (any word starting with it)
WILDCARD = "*"


def language_code(tag: str) -> str:
    """The primary subtag of a language tag, lower-case (``pt_BR`` → ``pt``, ``""`` → ``""``):
    what ``lang:`` compares with the story's and what ``LANG_TAG`` carries."""
    return tag.replace("_", "-").split("-", 1)[0].strip().lower()
