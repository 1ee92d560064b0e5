"""The named encodings agree with each other and with the words they must never collide with."""

from __future__ import annotations

import pytest

from monitor.rules.encoding import (
    ALL_FIELDS,
    ALWAYS,
    FIELD_NAMES,
    FIELD_OF,
    FIELD_TAGS,
    FOLD_ATOM,
    LANG_ATOM,
    LANG_TAG,
    LAST_TAG,
    LEMMA_ATOM,
    PAIR_ATOM,
    PREFIX_ATOM,
    PREFIX_TAG,
    QUERY_FIELDS,
    SOURCE,
    SURFACE_TAG,
    TEXT,
    TITLE,
    URL,
    Atom,
    language_code,
    pair_of,
    pair_text,
)
from monitor.rules.text import FOLD, KEYS, analyse_words


def test_fields_are_the_indices_of_their_names() -> None:
    assert (TITLE, TEXT, SOURCE, URL) == ALL_FIELDS == tuple(range(len(FIELD_NAMES)))
    assert [FIELD_NAMES[f] for f in ALL_FIELDS] == ["title", "text", "source", "url"]
    assert [FIELD_OF[name] for name in FIELD_NAMES] == list(ALL_FIELDS)
    assert set(QUERY_FIELDS) == {*FIELD_NAMES, "lang"}


def test_stored_values_are_plain_so_the_collector_can_forget_them() -> None:
    # a tuple of plain strings, ints and None is untracked by the collector once it has
    # seen it; an enum member inside would keep every atom and occurrence tracked
    kinds = (LEMMA_ATOM, FOLD_ATOM, PREFIX_ATOM, LANG_ATOM, PAIR_ATOM)
    assert len(set(kinds)) == len(kinds)
    assert all(type(k) is str for k in kinds)
    assert all(type(f) is int for f in ALL_FIELDS)


def test_tags_are_distinct_and_below_every_word() -> None:
    tags = [SURFACE_TAG, PREFIX_TAG, LANG_TAG, *FIELD_TAGS.values()]
    assert len(set(tags)) == len(tags)
    assert all(len(tag) == 1 and tag <= LAST_TAG for tag in tags)
    assert ALWAYS not in tags
    # the first characters of folds and keys of words in several scripts
    text = "Éclair 3D ünïcode ørsted Ωmega 東京 ภาษา _x'y"
    for part in analyse_words(text):
        for word in (part[FOLD], *part[KEYS]):
            assert word[:1] > LAST_TAG, word


def test_field_tags_cover_the_small_fields_only() -> None:
    assert set(FIELD_TAGS) == {TITLE, SOURCE, URL}


def test_pair_text_round_trips() -> None:
    atom = Atom(PAIR_ATOM, pair_text("rare", "earths"))
    assert pair_of(atom) == ("rare", "earths")


@pytest.mark.parametrize(("tag", "code"),
                         [("pt_BR", "pt"), ("de-AT", "de"), (" EN ", "en"), ("", ""), ("zh", "zh")])
def test_language_code_is_the_primary_subtag(tag: str, code: str) -> None:
    assert language_code(tag) == code
