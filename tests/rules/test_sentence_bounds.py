"""The sentences of hits found near them (``sentence_bounds``, ``StorySnippets.places``) are
those of splitting the whole text (``sentence_starts``)."""

from __future__ import annotations

import random
from bisect import bisect_right

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.rules import snippets
from monitor.rules.encoding import FIELD_NAMES, TEXT
from monitor.rules.snippets import Place, StorySnippets, _trimmed, sentence_bounds, sentence_starts

_ALPHABET = ".!?…\"'”’)]\n (“‘[aZ1_é\t\u00a0Mr"
_WORDS = ["The", "minister", "said", "U.S.", "Mr.", "Jan.", "end.", "why?", "now!", "so…", "1.5", "(note)",
          "\"Quoted.\"", "J.", "e.g.", "well.\n", "\n\n", "it’s", "...", "Next", "42", "a", "  ", "\t", "”", "x.)",
          "Dr.\n", "?!", "…\"", "k."]
_FIELD = FIELD_NAMES[TEXT]


def _bounds(starts: list[int], text: str, position: int) -> tuple[int, int]:
    """The reference: the sentence starts around ``position``, of all the text split."""
    i = bisect_right(starts, position) - 1
    return starts[i], starts[i + 1] if i + 1 < len(starts) else len(text)


def _texts(seed: int, count: int) -> list[str]:
    """Seeded texts of prose words and of marks, blanks and quotes, some longer than the
    reach of ``sentence_bounds`` back (sentences of a thousand characters)."""
    rng = random.Random(seed)
    texts = []
    for n in range(count):
        words = rng.choices(_WORDS, k=rng.randint(0, 400))
        if n % 5 == 0:
            # long sentences: runs of words without a mark
            words = [w if rng.random() < 0.02 else "word" for w in words]
        texts.append(" ".join(words))
        texts.append("".join(rng.choices(_ALPHABET, k=rng.randint(0, 120))))
    return texts


@pytest.mark.parametrize("back", [1, 2, 5, 256])
def test_sentence_bounds_at_every_position_equal_the_split(back: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the reach back (short: the search starts at every offset of the text, on a
    mark, a quote or a blank as well), the bounds of splitting the whole text."""
    monkeypatch.setattr(snippets, "_BACK", back)
    for text in _texts(8080 + back, 150 if back > 5 else 40):
        starts = sentence_starts(text)
        for position in range(len(text) + 1):
            assert sentence_bounds(text, position) == _bounds(starts, text, position), (text, position)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=60))
@example("1.? 1")
@example("Mr.\n\nA. B! C… \"D.\" E")
@example("a?! B")
def test_sentence_bounds_of_any_text_equal_the_split(text: str) -> None:
    starts = sentence_starts(text)
    back = snippets._BACK
    try:
        for snippets._BACK in (1, 3, back):
            for position in range(len(text)):
                assert sentence_bounds(text, position) == _bounds(starts, text, position)
    finally:
        snippets._BACK = back


def _reference_places(text: str, spans: list[tuple[int, int]]) -> list[Place]:
    """``StorySnippets.places`` as it was: every sentence of the text found first."""
    starts = sentence_starts(text)
    out = []
    for start, end in spans:
        begin, finish = _bounds(starts, text, start)
        trimmed = _trimmed(text, begin, finish, 0)
        out.append((_FIELD, trimmed[0], max(trimmed[1], end)))
    return out


@pytest.mark.parametrize("back", [3, 256])
def test_places_equal_those_of_the_split_text(back: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Spans in text order (as a story's hits come: near each other, far apart, past a
    sentence's end) and out of order: the places of splitting the whole text, equal places
    one object."""
    monkeypatch.setattr(snippets, "_BACK", back)
    rng = random.Random(4242 + back)
    for text in _texts(9191, 200):
        if not text:
            continue
        for _ in range(4):
            count = rng.choice([1, 2, 5, 30, 100])
            starts = [rng.randrange(len(text)) for _ in range(count)]
            if rng.random() < 0.8:
                starts.sort()
            spans = [(s, min(len(text), s + rng.choice([1, 3, 8, 40]))) for s in starts]
            story = StorySnippets({_FIELD: text})
            got = story.places(_FIELD, spans)
            assert got == _reference_places(text, spans), (text, spans)
            by_value = {}
            for place in got:
                assert by_value.setdefault(place, place) is place
            # a second call (places already known) gives the same
            assert story.places(_FIELD, spans[::-1]) == got[::-1]


def test_a_long_text_without_a_sentence_end_takes_few_searches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Looking back twice as far each time: a hit near the end of ~1 MB with no sentence end
    before it costs a handful of searches, not one for every ``_BACK`` characters (which made
    such a text quadratic: ~0.26 s a hit at 200 KB)."""
    calls = []
    search = snippets._search_end

    def counted(text: str, at: int) -> object:
        calls.append(at)
        return search(text, at)

    monkeypatch.setattr(snippets, "_search_end", counted)
    text = "word " * 200_000 + "end. More here"
    position = len(text) - 20
    assert sentence_bounds(text, position) == (0, len(text) - len("More here"))
    assert len(calls) <= 20
