"""The parts of a match's evidence rewritten for speed give what the first forms did: the
snippets of marks (hits with their sentences, chosen in C-level passes) are
``make_snippets``'s, and a hit's character offsets (found by bisection on chunk starts) are
those of a walk over the field's chunks."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import Hit, Snippet, Story
from monitor.rules.document import StoryDoc
from monitor.rules.snippets import MAX_CHARS, Sentences, StorySnippets, _window, make_snippets
from monitor.rules.text import END, PARTS, START

_SENTENCES = ["Acme won.", "Mr. Smith left Acme!", "Board members met… Acme", "U.S. talks end.", "Then\nmore"]
_TERMS = ["acme", "board", "smith", "talks"]


def _text(picks: list[int]) -> str:
    return " ".join(_SENTENCES[p % len(_SENTENCES)] for p in picks)


def _hits(text: str, choices: list[tuple[int, int, int]]) -> list[Hit]:
    """Hits in text order: word-like spans of ``text``, some long enough to run past the end
    of their sentence (a phrase across it), with one of a few terms each."""
    spans = sorted({(s % len(text), min(len(text), s % len(text) + 1 + w)) for s, w, _ in choices})
    return [Hit(_TERMS[t % len(_TERMS)], "text", i, s, e) for i, ((s, e), (_, _, t)) in enumerate(
        zip(spans, choices, strict=False))]


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=8),
       st.lists(st.tuples(st.integers(0, 400), st.integers(0, 30), st.integers(0, 3)), min_size=1, max_size=12),
       st.integers(1, 3))
def test_snippets_of_marks_are_those_of_make_snippets(picks: list[int], choices: list[tuple[int, int, int]],
                                                      limit: int) -> None:
    text = _text(picks)
    title = "Acme board"
    hits = [Hit("acme", "title", 0, 0, 4), *_hits(text, choices)]
    texts = {"title": title, "text": text}
    for some in (hits, hits[1:], hits[:2], hits[1:3]):
        snippets = StorySnippets(texts)
        # the columns of the hits' marks: place, character span, term
        places = [snippets.place(h.field, h.start, h.end) for h in some]
        spans = [(h.start, h.end) for h in some]
        terms = [h.term for h in some]
        expected = make_snippets(texts, some, limit, sentences=Sentences())
        assert snippets.of_marks(places, spans, terms, limit) == expected  # type: ignore[arg-type]
        # a story's second look at the same hits
        assert snippets.of_marks(places, spans, terms, limit) == expected  # type: ignore[arg-type]


def _reference_char_spans(doc: StoryDoc) -> dict[tuple[int, int], tuple[int, int]]:
    """(field, word position) → the character offsets of that word, by walking the chunks."""
    out = {}
    for f, fd in enumerate(doc.fields):
        position = offset = 0
        for chunk in fd.chunks:
            for part in fd.cache.chunks[chunk][PARTS]:
                out[(f, position)] = (offset + part[START], offset + part[END])
                position += 1
            offset += len(chunk) + 1
    return out


def test_character_offsets_are_those_of_a_walk_of_the_chunks() -> None:
    rng = random.Random(1404)
    words = ["Acme", "U.S.", "semi-conductor", "—", "don't", "(board)", "A.B.C.", "e-mail", "x", "3.5%", "“Quoted”",
             "re-re-elected", "...", "—Smith", "Mr."]
    for n in range(60):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
        story = Story(source="s", url=f"https://news.example/{n}", title=rng.choice(words) + " title", text=text,
                      lang="en")
        doc = StoryDoc(story)
        expected = _reference_char_spans(doc)
        for (f, p), (start, _) in expected.items():
            fd = doc.fields[f]
            for q in range(p, p + 3):
                if (f, q) in expected:
                    assert fd.char_span(p, q) == (start, expected[(f, q)][1]), (text, p, q)


def _window_reference(text: str, begin: int, end: int, hits: list[tuple[int, int]], field: str) -> Snippet:
    """``snippets._window`` before its one-hit form: the window of any number of hits."""
    if end - begin > MAX_CHARS:
        first = min(s for s, _ in hits)
        start = max(begin, first - 80)
        if start > begin:
            space = text.find(" ", start, first)
            start = space + 1 if space >= 0 else start
        stop = min(end, start + MAX_CHARS - 2)
        if stop < end:
            space = text.rfind(" ", start, stop)
            stop = space if space > start else stop
        lead = "…" if start > begin else ""
        tail = "…" if stop < end else ""
        body, shift, limit = text[start:stop], start - len(lead), stop
    else:
        lead = tail = ""
        body, shift, limit = text[begin:end], begin, end
    spans = tuple(sorted([(s - shift, e - shift) for s, e in hits if s >= shift + len(lead) and e <= limit]))
    return Snippet(lead + body + tail, spans, field)


def test_the_window_of_one_hit_is_the_window_of_any_number() -> None:
    """``_window`` of one hit (written out without the generator, list and sort) and of
    several give what the one form for any number did, in short and long sentences, with the
    hit anywhere (also past the end of its sentence, a phrase across it)."""
    rng = random.Random(1919)
    for _ in range(3000):
        words = rng.choices(["a", "word", "longer-words", "—", "x" * 40, "end."], k=rng.randint(1, 160))
        text = rng.choice([" ", "  "]).join(words)
        begin = rng.randrange(len(text))
        end = rng.randint(begin + 1, len(text))
        hits = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            start = rng.randint(begin, end - 1)
            hits.append((start, min(len(text), start + rng.randint(1, 30))))
        assert _window(text, begin, end, hits, "text") == _window_reference(text, begin, end, hits, "text")
