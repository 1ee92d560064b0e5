"""``FieldDoc.word_spans`` (all of a word's keys looked up at once) is what looking up each
key with ``FieldDoc.spans`` and merging the spans gives, in fields of one-word chunks, of
joined chunks (``e-mail``, ``don't``) and of both, whatever was looked up before."""

from __future__ import annotations

import random

from monitor.models import Story
from monitor.rules.document import Span, StoryDoc
from monitor.rules.encoding import WordForm
from monitor.rules.text import word_keys

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


def test_word_spans_is_each_keys_spans_merged() -> None:
    rng = random.Random(1919)
    looked = 0
    for i in range(150):
        text = " ".join(rng.choices(_WORDS, k=rng.randint(0, 60)))
        title = " ".join(rng.choices(_WORDS, k=rng.randint(0, 6)))
        story = Story(source="wire", url=f"https://news.example/{i}", title=title, text=text)
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
