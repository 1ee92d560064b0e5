"""The matcher's shortcuts give the same answers as the slow, obvious ways."""

from __future__ import annotations

from lemminflect import Lemmatizer, getAllLemmas

from monitor.rules.text import english_lemmas


def test_english_lemmas_equal_lemminflect_get_all_lemmas() -> None:
    lemmatizer = Lemmatizer()
    table = list(lemmatizer._getLemmaDict())
    words = table[::7] + list(lemmatizer._getOverridesDict()) + ["went", "leaves", "analyses", "xyzzy", "'s"]
    differ = [w for w in words
              if sorted(english_lemmas(w.lower())) != sorted(x for v in getAllLemmas(w.lower()).values() for x in v)]
    assert differ == []
    assert "go" in english_lemmas("went")
    assert english_lemmas("xyzzy") == []
