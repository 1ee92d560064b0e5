"""The named encodings agree with each other and with the words they must never collide with."""

from __future__ import annotations

import pytest

from monitor.rules.encoding import (
    ALWAYS,
    FIELD_NAMES,
    FIELD_OF,
    FIELD_TAGS,
    LANG_TAG,
    LAST_TAG,
    PREFIX_TAG,
    QUERY_FIELDS,
    SURFACE_TAG,
    Atom,
    AtomKind,
    Field,
    language_code,
    pair_of,
    pair_text,
)
from monitor.rules.text import analyse_words


def test_field_names_are_the_enum_names_in_index_order() -> None:
    assert tuple(f.name.lower() for f in Field) == FIELD_NAMES
    assert [FIELD_OF[name] for name in FIELD_NAMES] == list(Field)
    assert set(QUERY_FIELDS) == {*FIELD_NAMES, "lang"}


def test_tags_are_distinct_and_below_every_word() -> None:
    tags = [SURFACE_TAG, PREFIX_TAG, LANG_TAG, *FIELD_TAGS.values()]
    assert len(set(tags)) == len(tags)
    assert all(len(tag) == 1 and tag <= LAST_TAG for tag in tags)
    assert ALWAYS not in tags
    # the first characters of folds and keys of words in several scripts
    text = "Éclair 3D ünïcode ørsted Ωmega 東京 ภาษา _x'y"
    for part in analyse_words(text):
        for word in (part.fold, *part.keys):
            assert word[:1] > LAST_TAG, word


def test_field_tags_cover_the_small_fields_only() -> None:
    assert set(FIELD_TAGS) == {Field.TITLE, Field.SOURCE, Field.URL}


def test_pair_text_round_trips() -> None:
    atom = Atom(AtomKind.PAIR, pair_text("rare", "earths"))
    assert pair_of(atom) == ("rare", "earths")


@pytest.mark.parametrize(("tag", "code"), [("pt_BR", "pt"), ("de-AT", "de"), (" EN ", "en"), ("", ""), ("zh", "zh")])
def test_language_code_is_the_primary_subtag(tag: str, code: str) -> None:
    assert language_code(tag) == code
