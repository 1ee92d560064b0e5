"""A story prepared for matching: tokenised once, word positions built only when needed.

Construction does the cheap part every story needs (chunking the fields and collecting the
candidate-filter features from the shared chunk cache); the per-position tables that exact
evaluation and snippets need are built on first use, so a story no rule could match costs
one regex scan and a few set operations per field.
"""

from __future__ import annotations

from operator import itemgetter

from monitor.models import Story
from monitor.rules.text import CHUNK_RE, ChunkInfo, analyse_chunk, chunk_cache, lemma_language

#: searchable fields in the order hits are reported; title and text are the default fields
FIELD_NAMES = ("title", "text", "source", "url")
TITLE, TEXT, SOURCE, URL = range(4)
DEFAULT_FIELDS = (TITLE, TEXT)
FIELD_INDEX = {name: i for i, name in enumerate(FIELD_NAMES)}

Span = tuple[int, int]
_feats_of = itemgetter(2)


class FieldDoc:
    """One field of a story: its text, chunks, and lazily its word-position tables."""

    __slots__ = ("_by_fold", "_by_key", "_by_surface", "_cache", "_offsets", "lang", "text")

    def __init__(self, text: str, lang: str, cache: dict[str, ChunkInfo]) -> None:
        self.text = text
        self.lang = lang
        self._cache = cache
        self._by_key: dict[str, list[Span]] | None = None
        self._by_fold: dict[str, list[Span]] = {}
        self._by_surface: dict[str, list[Span]] = {}
        self._offsets: list[Span] = []

    def _build(self) -> dict[str, list[Span]]:
        by_key: dict[str, list[Span]] = {}
        by_fold = self._by_fold
        by_surface = self._by_surface
        offsets = self._offsets
        cache = self._cache
        lang = self.lang
        pos = 0
        for m in CHUNK_RE.finditer(self.text):
            chunk = m.group()
            info = cache.get(chunk)
            if info is None:
                info = cache[chunk] = analyse_chunk(chunk, lang)
            base = m.start()
            for a in info.aliases:
                span = (pos + a.first, pos + a.last)
                for k in a.keys:
                    by_key.setdefault(k, []).append(span)
                by_fold.setdefault(a.fold, []).append(span)
                by_surface.setdefault(a.surface, []).append(span)
            for p in info.parts:
                span = (pos, pos)
                for k in p.keys:
                    by_key.setdefault(k, []).append(span)
                by_fold.setdefault(p.fold, []).append(span)
                by_surface.setdefault(p.surface, []).append(span)
                offsets.append((base + p.start, base + p.end))
                pos += 1
        self._by_key = by_key
        return by_key

    @property
    def by_key(self) -> dict[str, list[Span]]:
        """Lemma key → word spans (start and end positions, inclusive), in text order."""
        return self._by_key if self._by_key is not None else self._build()

    @property
    def by_fold(self) -> dict[str, list[Span]]:
        """Fold → word spans."""
        if self._by_key is None:
            self._build()
        return self._by_fold

    @property
    def by_surface(self) -> dict[str, list[Span]]:
        """Surface (exact case) → word spans."""
        if self._by_key is None:
            self._build()
        return self._by_surface

    def char_span(self, start: int, end: int) -> Span:
        """Character offsets of the word positions ``start``..``end`` (inclusive)."""
        if self._by_key is None:
            self._build()
        return self._offsets[start][0], self._offsets[end][1]


class StoryDoc:
    """A story ready for the matcher: fields, lemmatiser language, and candidate features.

    ``feats`` holds every lemma key and fold of every field, plus ``"\\x03" + language``
    when the story's language is known; the matcher adds wildcard prefixes to it.
    """

    __slots__ = ("feats", "fields", "lang", "lang_code", "story")

    def __init__(self, story: Story) -> None:
        self.story = story
        self.lang = lemma_language(story.lang)
        self.lang_code = (story.lang or "").replace("_", "-").split("-", 1)[0].strip().lower()
        cache = chunk_cache(self.lang)
        source = story.source if not story.outlet or story.outlet == story.source else (
            f"{story.source}\n{story.outlet}")
        texts = (story.title or "", story.text or "", source or "", story.url or "")
        feats: set[str] = set()
        self.fields = tuple(FieldDoc(t, self.lang, cache) for t in texts)
        for text in texts:
            if not text:
                continue
            uniq = set(CHUNK_RE.findall(text))
            for chunk in uniq.difference(cache):
                cache[chunk] = analyse_chunk(chunk, self.lang)
            if uniq:
                feats.update(*map(_feats_of, map(cache.__getitem__, uniq)))
        if self.lang_code:
            feats.add("\x03" + self.lang_code)
        self.feats = feats
