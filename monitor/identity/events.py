"""News events: different write-ups of one event (not copies of one text) told apart from
stories that only share a person, a place or a topic.

Syndicated copies share their sentences (:mod:`monitor.identity.clusters` finds them); two
outlets writing up one event share their *facts*: the names of the people, places and
organisations involved, the figures, and the rare words of what happened ("plague",
"hibernation", "guilty"). A story's :class:`EventProfile` is those salient terms of its
title and lead, each weighted by how rare the word is in news text (wordfreq's lists, the
rates :mod:`monitor.rules.frequency` reads, handed in as a function so that this module
stays pure) and by where it occurs (title terms count double); multiword capitalised names
("Julian Assange", "Inner Mongolia") are terms of their own, so a shared full name weighs
more than two shared common first names. Two profiles compare by cosine similarity.

An :class:`Event` keeps the summed profile of its write-ups (trimmed to
:data:`EVENT_TERMS` terms): a story joins the event whose profile it is most similar to at
or above the threshold, within the window, else starts its own. :data:`THRESHOLD` was
calibrated with ``benchmarks/events.py`` on the labelled set in ``tests/data/events/`` (see
that script for the numbers). Everything is deterministic and costs a few hundred
microseconds a story.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

#: cosine similarity at or above which a write-up joins an event (benchmarks/events.py)
THRESHOLD = 0.25
#: the words of the text read after the title: the lead says who, what, where and when
LEAD_WORDS = 120
#: the most terms a profile keeps (the heaviest): bounds storage and comparison
PROFILE_TERMS = 48
#: the most terms an event's summed profile keeps
EVENT_TERMS = 96
#: a word occurring more often than this per word of news text says nothing about an event
COMMON_RATE = 10**-4.2
#: title terms weigh this much more than the lead's
TITLE_BOOST = 2.0
#: a capitalised name of several words weighs this much more than the sum of its words
NAME_BOOST = 1.5
#: the weight of a figure ("12.9bn", "787", "55-year-old"): rare as a string, common as a kind
NUMBER_WEIGHT = 1.5

_TOKEN = re.compile(r"\d[\d.,]*(?:[a-z%]+)?|[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_SITE_SEPARATOR = re.compile(r"\s+[|\-–—·•»]\s+")
_SENTENCE_END = re.compile(r"[.!?]['\"”’)]*\s+")
#: words that start a sentence capitalised but are never a name's first word
_FUNCTION = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "he",
        "she",
        "they",
        "we",
        "i",
        "you",
        "his",
        "her",
        "their",
        "our",
        "my",
        "your",
        "in",
        "on",
        "at",
        "of",
        "for",
        "to",
        "from",
        "by",
        "with",
        "and",
        "or",
        "but",
        "as",
        "if",
        "when",
        "while",
        "after",
        "before",
        "since",
        "mr",
        "mrs",
        "ms",
        "dr",
        "gov",
        "sen",
        "rep",
        "president",
    ]
)


def fold(word: str) -> str:
    """Case- and accent-insensitive form of ``word`` (``Bogotá`` → ``bogota``)."""
    folded = word.casefold().replace("’", "'")
    if folded.isascii():
        return folded
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


def _stem(word: str) -> str:
    """A light English plural fold (``rabbits`` → ``rabbit``, ``companies`` → ``company``);
    enough for two outlets' wordings of one fact, never a full stemmer."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@dataclass(frozen=True, slots=True)
class EventProfile:
    """The salient terms of one write-up (or of an event's write-ups summed), each with its
    weight; ``norm`` is the vector's length, so that :func:`similarity` is a cosine."""

    terms: Mapping[str, float]
    norm: float

    @classmethod
    def of(cls, weights: Mapping[str, float], limit: int = PROFILE_TERMS) -> EventProfile:
        """The profile of the ``limit`` heaviest of ``weights`` (ties: alphabetical, so the
        same weights always keep the same terms)."""
        kept = sorted(((w, t) for t, w in weights.items() if w > 0), key=lambda x: (-x[0], x[1]))[:limit]
        terms = {t: round(w, 4) for w, t in kept}
        return cls(terms, math.sqrt(sum(w * w for w in terms.values())))

    def to_json(self) -> dict[str, float]:
        """The terms and weights, for the store."""
        return dict(self.terms)

    @classmethod
    def from_json(cls, data: Mapping[str, float]) -> EventProfile:
        """Read back :meth:`to_json`; raises ValueError for anything but term → number."""
        terms: dict[str, float] = {}
        for term, weight in data.items():
            if not isinstance(term, str) or not isinstance(weight, int | float):
                raise ValueError("an event profile maps terms to weights")
            terms[term] = float(weight)
        return cls(terms, math.sqrt(sum(w * w for w in terms.values())))


def similarity(a: EventProfile, b: EventProfile) -> float:
    """Cosine similarity of two profiles, 0.0 (nothing shared) to 1.0."""
    if not a.norm or not b.norm:
        return 0.0
    small, large = (a.terms, b.terms) if len(a.terms) <= len(b.terms) else (b.terms, a.terms)
    dot = sum(w * large[t] for t, w in small.items() if t in large)
    return dot / (a.norm * b.norm)


RateOf = Callable[[str], float]


def lead(text: str, words: int = LEAD_WORDS) -> str:
    """The first ``words`` words of ``text`` (whole sentences' worth, roughly)."""
    parts = text.split(maxsplit=words)
    return " ".join(parts[:words])


def headline(title: str) -> str:
    """``title`` without the site's name around it (" | Reuters", "- 9to5Mac", "Opinion | "):
    a part of at most four words at either end of a separated title. The site's name would
    make every two stories of one site alike."""
    parts = _SITE_SEPARATOR.split(title.strip())
    while len(parts) > 1 and len(parts[-1].split()) <= 4:
        parts.pop()
    while len(parts) > 1 and len(parts[0].split()) <= 2:
        parts.pop(0)
    return " ".join(parts)


def profile(title: str, text: str, rate_of: RateOf, *, lead_words: int = LEAD_WORDS) -> EventProfile:
    """The :class:`EventProfile` of a story: the salient terms of ``title`` and the first
    ``lead_words`` words of ``text``. ``rate_of`` gives a folded word's occurrences per word
    of news text (never zero; an unlisted word gets the lists' floor)."""
    weights: dict[str, float] = {}
    for part, boost in ((headline(title), TITLE_BOOST), (lead(text, lead_words), 1.0)):
        for term, weight in _terms(part, rate_of):
            weights[term] = weights.get(term, 0.0) + weight * boost
    # repeated terms add up, but a term said five times is not five times the evidence
    return EventProfile.of({t: math.log1p(w) * 2.0 for t, w in weights.items()})


def lead_sentences(
    text: str, rate_of: RateOf, *, lead_words: int = LEAD_WORDS
) -> list[tuple[str, frozenset[str]]]:
    """The sentences of the lead of ``text`` (its first ``lead_words`` words), each with its
    salient terms: what a follow-up can quote as a write-up's new details."""
    out = []
    parts = _SENTENCE_END.split(lead(text, lead_words))
    if len(text.split(maxsplit=lead_words)) > lead_words and parts:
        parts.pop()  # cut off mid-sentence by the lead's end
    for part in parts:
        sentence = part.strip()
        if len(sentence.split()) >= 4:
            out.append((sentence, frozenset(term for term, _ in _terms(sentence, rate_of))))
    return out


def _word_weight(folded: str, rate_of: RateOf) -> float:
    rate = rate_of(folded)
    if rate >= COMMON_RATE:
        return 0.0
    return math.log10(COMMON_RATE / rate)


def _terms(text: str, rate_of: RateOf) -> Iterable[tuple[str, float]]:
    """(term, weight) of each salient word, figure and multiword name of ``text``."""
    for sentence in _SENTENCE_END.split(unicodedata.normalize("NFKC", text)):
        name: list[tuple[str, float]] = []
        for match in _TOKEN.finditer(sentence):
            raw = match.group()
            if raw[0].isdigit():
                yield from _name(name)
                name = []
                figure = raw.rstrip(".,")
                if len(figure) > 1 or not figure.isdigit():
                    yield "#" + fold(figure), NUMBER_WEIGHT
                continue
            folded = fold(raw)
            word = _stem(folded)
            weight = _word_weight(folded, rate_of)
            if weight:
                yield word, weight
            if raw[0].isupper() and folded not in _FUNCTION:
                name.append((word, max(weight, 0.5)))
            else:
                yield from _name(name)
                name = []
        yield from _name(name)


def _name(words: Sequence[tuple[str, float]]) -> Iterable[tuple[str, float]]:
    """A capitalised name of two or more words as one term (its words counted already)."""
    if len(words) >= 2:
        yield "_".join(w for w, _ in words), NAME_BOOST * sum(weight for _, weight in words) / len(words)


# ---------------------------------------------------------------------------- events


@dataclass(slots=True)
class Event:
    """One event: the summed profile of its write-ups and when it began and was last seen."""

    id: str
    profile: EventProfile
    first_at: float
    last_at: float
    size: int = 1

    def add(self, story: EventProfile, at: float) -> None:
        """Fold ``story``, seen at ``at``, into the event."""
        self.profile = merge(self.profile, story)
        self.last_at = max(self.last_at, at)
        self.size += 1


def merge(event: EventProfile, story: EventProfile) -> EventProfile:
    """The profile of an event after ``story`` joined it: the sum of both, normalised so that
    each write-up counts alike however long it is, trimmed to :data:`EVENT_TERMS` terms."""
    summed: dict[str, float] = {}
    for prof in (event, story):
        if not prof.norm:
            continue
        for term, weight in prof.terms.items():
            summed[term] = summed.get(term, 0.0) + weight / prof.norm
    return EventProfile.of(summed, EVENT_TERMS)


def best_event(
    story: EventProfile, events: Iterable[Event], *, at: float, window: float, threshold: float = THRESHOLD
) -> tuple[Event | None, float]:
    """The event ``story`` (seen at ``at``) belongs to: the most similar of ``events`` that
    began no more than ``window`` seconds before ``at``, at or above ``threshold`` (ties:
    the earlier event, then the smaller id). Returns (None, best score) when none is."""
    best: tuple[float, float, str] | None = None
    found: Event | None = None
    top = 0.0
    for event in events:
        if at - event.first_at > window:
            continue
        score = similarity(story, event.profile)
        top = max(top, score)
        if score < threshold:
            continue
        key = (-score, event.first_at, event.id)
        if best is None or key < best:
            best, found = key, event
    return found, top


@dataclass(slots=True)
class EventGrouper:
    """Online grouping of a stream of stories into events (benchmarks, tests and the CLI; the
    daemon decides in the store's transaction with :func:`best_event` on stored events)."""

    window: float
    threshold: float = THRESHOLD
    events: list[Event] = field(default_factory=list)

    def add(self, story_id: str, prof: EventProfile, at: float) -> str:
        """The id of the event ``prof`` joins (a new event gets ``story_id`` as its id)."""
        self.events = [e for e in self.events if at - e.first_at <= self.window]
        event, _ = best_event(prof, self.events, at=at, window=self.window, threshold=self.threshold)
        if event is None:
            self.events.append(Event(story_id, prof, at, at))
            return story_id
        event.add(prof, at)
        return event.id


def new_details(
    sentences: Sequence[tuple[str, frozenset[str]]], story: EventProfile, event: EventProfile, limit: int = 2
) -> list[str]:
    """The sentences of a later write-up (``sentences``, its lead's, with their terms) that say
    most of what ``event`` did not hold yet: the salient terms of ``story`` new to the event
    (a new figure, a new name), weighed as in ``story``. At most ``limit`` sentences, in the
    order they were written; none when nothing is new."""
    fresh = {t: w for t, w in story.terms.items() if t not in event.terms}
    scored = []
    for position, (text, terms) in enumerate(sentences):
        gain = sum(fresh.get(t, 0.0) for t in terms)
        if gain > 0:
            scored.append((-gain, position, text))
    best = sorted(scored)[:limit]
    return [text for _, _, text in sorted(best, key=lambda x: x[1])]
