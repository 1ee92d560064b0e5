"""Other languages' lemmas come from simplemma's streamed dictionaries (``LOW_MEMORY_LEMMAS``),
never from the decoded ones, which cost a daemon 100-625 MiB per language it meets; and
the streamed ones give the lemmas the decoded ones give."""

from __future__ import annotations

import pytest
import simplemma
from simplemma import lemmatizer as simplemma_lemmatizer
from simplemma.strategies.dictionaries import DefaultDictionaryFactory, StreamDictionaryFactory

from monitor.rules import text as rules_text
from monitor.rules.text import word_keys

#: inflected forms and their dictionary lemmas, folded (what ``word_keys`` adds to the fold)
_FORMS = [("häusern", "de", "haus"), ("gingen", "de", "gehen"), ("élections", "fr", "election"),
          ("ciudades", "es", "ciudad"), ("городах", "ru", "город"), ("cidades", "pt", "cidade")]


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The languages each kind of simplemma dictionary is asked for."""
    asked: dict[str, list[str]] = {"decoded": [], "streamed": []}
    for kind, factory in (("decoded", DefaultDictionaryFactory), ("streamed", StreamDictionaryFactory)):
        original = factory.get_dictionary

        def spy(self: object, lang: str, *, _kind: str = kind, _original: object = original) -> object:
            asked[_kind].append(lang)
            return _original(self, lang)  # type: ignore[operator]

        monkeypatch.setattr(factory, "get_dictionary", spy)
    return asked


def test_other_languages_are_lemmatised_from_the_streamed_dictionaries(loaded: dict[str, list[str]]) -> None:
    # both caches of lemmas, so that each form is looked up in a dictionary now: ours, and
    # simplemma's lemmatisers', which remember the forms earlier tests of this process met
    word_keys.cache_clear()
    simplemma_lemmatizer._legacy_lemmatizer_for.cache_clear()
    for form, lang, lemma in _FORMS:
        assert lemma in word_keys(form, lang), (form, lang)
    assert loaded["decoded"] == []
    assert set(loaded["streamed"]) == {lang for _, lang, _ in _FORMS}
    assert rules_text.LOW_MEMORY_LEMMAS


@pytest.mark.parametrize("lang", ["de"])
def test_streamed_and_decoded_dictionaries_agree(lang: str) -> None:
    """On forms of the language (and forms it does not know), the lemma is the same either way."""
    forms = [form for form, of, _ in _FORMS if of == lang] + ["Bundestag", "unbekanntewortform", "москве", "zz"]
    for form in forms:
        assert simplemma.lemmatize(form, lang=lang, low_memory=True) == simplemma.lemmatize(form, lang=lang)
