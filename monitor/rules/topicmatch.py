"""Topic rules (``about:``) scored together: one embedding per story, one matrix product.

A :class:`TopicIndex` holds every topic rule's description as one row of a matrix (unit
vectors from :mod:`monitor.rules.topics`). For a story, :meth:`TopicIndex.scores` embeds
:func:`~monitor.rules.topics.story_text` once and multiplies: one similarity per rule, so
10 000 topic rules cost one (10 000 × 256) · (256) product, well under a millisecond.

Only for a rule that passes does :class:`StoryEvidence` look further: the sentence of the
story's lead most similar to the description, with the words of it closest to the
description marked, which becomes the alert's snippet. The sentences of a story are
embedded once, however many rules it matches, and the words of a sentence once.

The matrix is pickled with the matcher (the compiled-rule cache); the model is not: it is
loaded again, once per process, by name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from monitor.models import Snippet, TopicScore
from monitor.rules.topics import STORY_TEXT_CHARS, EmbeddingModel, load_model, story_text

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: the similarity a topic rule needs when it sets no ``threshold`` (calibrated on the
#: labelled sample described in docs/rules.md, "Topic rules")
DEFAULT_THRESHOLD = 0.3
#: the snippet of a topic match is one sentence, cut to about this many characters
_SNIPPET_CHARS = 300
#: at most this many words of the best sentence are marked as closest to the description
_MARKED_WORDS = 3
#: ... and only those at least this similar to it on their own
_MARK_FROM = 0.25
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’»)]*\s+")
_WORD = re.compile(r"\w[\w'’-]*\w|\w", re.UNICODE)


@dataclass(frozen=True)
class TopicRule:
    """One rule's topic part: its description and the similarity it needs."""

    name: str
    about: str
    threshold: float


@dataclass
class TopicIndex:
    """The topic rules of a rule set, their descriptions embedded as rows of ``vectors``."""

    rules: tuple[TopicRule, ...]
    model_name: str
    vectors: NDArray[np.float32]
    thresholds: NDArray[np.float32]
    _model: EmbeddingModel | None = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, rules: Sequence[TopicRule], model_name: str | None = None) -> TopicIndex:
        """``rules`` with their descriptions embedded by ``model_name`` (default model).
        Raises :class:`~monitor.errors.TopicModelError` when the model cannot be loaded."""
        model = load_model(model_name)
        vectors = model.embed([r.about for r in rules]) if rules else np.zeros((0, model.dim), np.float32)
        thresholds = np.array([r.threshold for r in rules], dtype=np.float32)
        return cls(tuple(rules), model.name, vectors, thresholds, model)

    def __getstate__(self) -> dict[str, object]:
        # the model is a process-wide singleton, loaded again by name after unpickling
        return {"rules": self.rules, "model_name": self.model_name, "vectors": self.vectors,
                "thresholds": self.thresholds, "_model": None}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    @property
    def model(self) -> EmbeddingModel:
        if self._model is None:
            self._model = load_model(self.model_name)
        return self._model

    def story_vector(self, title: str, text: str) -> NDArray[np.float32]:
        """The unit vector of a story (the one embedding a story gets)."""
        row: NDArray[np.float32] = self.model.embed([story_text(title, text)])[0]
        return row

    def scores(self, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        """The similarity of every rule's description to the story ``vector``, in rule order."""
        out: NDArray[np.float32] = self.vectors @ vector
        return out

    def explain(self, title: str, text: str) -> StoryEvidence:
        """What explains this story's scores: its lead's sentences, each embedded once (for
        every rule that asks, see :meth:`score`)."""
        return StoryEvidence(self.model, title, text)

    def score(self, r: int, similarity: float, evidence: StoryEvidence) -> tuple[TopicScore, Snippet]:
        """The explanation of rule ``r`` having ``similarity`` with the story of ``evidence``:
        the score and the snippet (its best sentence, words marked)."""
        rule = self.rules[r]
        sentence, sentence_similarity, spans = evidence.best(self.vectors[r])
        score = TopicScore(round(float(similarity), 4), rule.threshold, sentence, round(sentence_similarity, 4))
        return score, topic_snippet(score, spans)


class StoryEvidence:
    """The sentences of one story's lead and the words of each, embedded when first needed
    and then shared by every rule the story matches."""

    def __init__(self, model: EmbeddingModel, title: str, text: str) -> None:
        self.model = model
        self.sentences = sentences(title, text)
        self._vectors: NDArray[np.float32] | None = None
        self._words: dict[int, tuple[list[tuple[int, int]], NDArray[np.float32]]] = {}

    def best(self, about: NDArray[np.float32]) -> tuple[str, float, list[tuple[int, int]]]:
        """The sentence most similar to the description vector ``about``, its similarity,
        and the spans of the (at most three) words of it closest to ``about``."""
        if not self.sentences:
            return "", 0.0, []
        if self._vectors is None:
            self._vectors = self.model.embed(self.sentences)
        sims = self._vectors @ about
        best = int(np.argmax(sims))
        sentence = self.sentences[best]
        found = self._words.get(best)
        if found is None:
            words = [(m.start(), m.end()) for m in _WORD.finditer(sentence) if len(m.group()) > 2]
            vectors = self.model.embed([sentence[a:b] for a, b in words])
            found = self._words[best] = (words, vectors)
        words, vectors = found
        spans: list[tuple[int, int]] = []
        if words:
            word_sims = vectors @ about
            ranked = sorted(range(len(words)), key=lambda i: (-float(word_sims[i]), i))
            spans = sorted(words[i] for i in ranked[:_MARKED_WORDS] if word_sims[i] >= _MARK_FROM)
        return sentence, float(sims[best]), spans


def topic_snippet(score: TopicScore, spans: Sequence[tuple[int, int]]) -> Snippet:
    """The snippet of a topic match: the similarity, then the best sentence with ``spans``
    (offsets into the sentence) marked."""
    prefix = f"(similarity {score.similarity:.2f}) "
    shift = len(prefix)
    return Snippet(prefix + score.sentence, tuple((a + shift, b + shift) for a, b in spans))


def sentences(title: str, text: str) -> list[str]:
    """The sentences of the story's lead (the text :func:`story_text` judges it by, title
    excluded), each cut to the snippet's length; the title alone when the text has none."""
    lead = story_text("", text)
    out = []
    for raw in _SENTENCE_END.split(lead[: STORY_TEXT_CHARS + 200]):
        part = raw.strip()
        if len(_WORD.findall(part)) < 3:
            continue
        if len(part) > _SNIPPET_CHARS:
            cut = part.rfind(" ", 0, _SNIPPET_CHARS)
            part = part[: cut if cut > _SNIPPET_CHARS // 2 else _SNIPPET_CHARS] + " …"
        out.append(part)
    return out or ([title.strip()] if title.strip() else [])
