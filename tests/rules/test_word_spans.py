"""``FieldDoc.word_spans`` (all of a word's keys looked up at once) is what looking up each
key with ``FieldDoc.spans`` and merging the spans gives, in fields of one-word chunks, of
joined chunks (``e-mail``, ``don't``) and of both, whatever was looked up before."""

from __future__ import annotations

import random

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules.document import Span, StoryDoc
from monitor.rules.encoding import WordForm
from monitor.rules.text import word_keys
from tests.support.matching import random_story

_WORDS = ["study", "studies", "studied", "minister", "ministers", "ran", "run", "running", "left", "leave",
          "e-mail", "e-mails", "don't", "U.S.", "—", "(study)", "studies,", "mail", "talks", "talk.", "data"]


def _reference(doc: StoryDoc, f: int, keys: tuple[str, ...]) -> list[Span]:
    """Each key of the field's features looked up alone, the spans merged."""
    feats = doc.field_feats[f]
    found: set[Span] = set()
    for k in keys:
        if k in feats:
            found.update(doc.fields[f].spans(k, k, WordForm.KEYS))
    return sorted(found)


def _random_story(rng: random.Random, i: int) -> Story:
    """A story of up to 60 words of ``_WORDS`` and a title of up to 6."""
    return random_story(rng, i, _WORDS, 60, 6)


def test_word_spans_is_each_keys_spans_merged() -> None:
    rng = random.Random(1919)
    looked = 0
    for i in range(150):
        story = _random_story(rng, i)
        text = story.text
        doc, other = StoryDoc(story), StoryDoc(story)
        words = rng.sample(["study", "studies", "minister", "ministers", "run", "running", "leave", "left", "mail",
                            "talk", "talks", "data", "u.s.", "absent"], 8)
        for word in words:
            keys = word_keys(word, doc.lang)
            for f, fd in enumerate(doc.fields):
                # (``other`` looks up its keys alone first: what either finds first is kept)
                expected = _reference(other, f, keys)
                assert fd.word_spans(keys, doc.field_feats[f]) == expected, (text, word)
                looked += bool(expected)
    assert looked > 300


def test_word_spans_in_a_field_with_notes_is_that_of_a_field_without() -> None:
    """A story made with a matcher's notes looks a word's chunks up among the placed ones
    (no dictionary of the field's chunks made): it finds the spans a story without notes
    finds, for the keys the notes keep."""
    rules = ["study", "minister", "run", "leave", "mail", "talks", "data", "u.s.", "studies NEAR/3 data",
             "e-mail", "title:talk"]
    matcher = Matcher.compile([RuleSpec(f"r{i}", q) for i, q in enumerate(rules)])
    rng = random.Random(2020)
    looked = 0
    for i in range(150):
        story = _random_story(rng, i)
        text = story.text
        # (made twice: a story of new chunks makes the dictionary to note them)
        matcher._doc(story)
        doc, plain = matcher._doc(story), StoryDoc(story)
        words = rng.sample(["study", "studies", "minister", "ministers", "run", "running", "leave", "left", "mail",
                            "talk", "talks", "data", "u.s.", "e-mail", "absent"], 8)
        for word in words:
            keys = word_keys(word, doc.lang)
            for f, fd in enumerate(doc.fields):
                feats = doc.field_feats[f]
                expected = _reference(plain, f, tuple(k for k in keys if k in feats))
                assert fd.word_spans(keys, feats) == expected, (text, word)
                looked += bool(expected)
        # the fast path was taken: no field made its dictionary of chunks
        assert all(fd.noted is not None and fd._distinct is None for fd in doc.fields if fd.text)
    assert looked > 300


def test_word_occs_is_word_spans_as_occurrences() -> None:
    """``FieldDoc.word_occs`` (the evidence's path, one chunk written out) gives the spans of
    ``word_spans`` as occurrences of the field, in fields with and without notes, whatever
    was looked up before (each doc asked in its own random order)."""
    rules = ["study", "minister", "run", "leave", "mail", "talks", "data", "u.s.", "e-mail", "title:talk"]
    matcher = Matcher.compile([RuleSpec(f"r{i}", q) for i, q in enumerate(rules)])
    rng = random.Random(2121)
    found = 0
    for i in range(200):
        story = _random_story(rng, i)
        matcher._doc(story)
        for doc, other in ((matcher._doc(story), matcher._doc(story)), (StoryDoc(story), StoryDoc(story))):
            words = rng.sample(["study", "studies", "minister", "ministers", "run", "running", "leave", "left",
                                "mail", "talk", "talks", "data", "u.s.", "e-mail", "absent"], 8)
            for word in words:
                keys = word_keys(word, doc.lang)
                for f, fd in enumerate(doc.fields):
                    feats = doc.field_feats[f]
                    spans = other.fields[f].word_spans(keys, other.field_feats[f])
                    assert fd.word_occs(keys, feats, f) == [(f, s, e) for s, e in spans], (story.text, word)
                    found += bool(spans)
    assert found > 500
