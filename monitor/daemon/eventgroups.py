"""One alert per event (``group: event``): what a matched write-up brings to the recording
transaction, and the pure decision that transaction asks for.

:func:`candidate` runs on the CPU thread when a poll's alerts are planned (once per story,
whatever number of rules and notifiers group it); :func:`choose` runs inside
:meth:`monitor.store.facade.Store.record_poll`'s transaction, on the events the store read
there (:mod:`monitor.store.events`), so that the decision sees what every instance recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from monitor.config import EventSettings
from monitor.identity.events import (
    Event,
    EventProfile,
    RateOf,
    best_event,
    lead_sentences,
    merge,
    new_details,
    profile,
)
from monitor.models import Story
from monitor.store.events import Choice, EventCandidate, LeadSentence, StoredEvent


@cache
def _rate_of(lang: str) -> RateOf:
    """How often a folded word occurs in news text of ``lang`` (wordfreq's lists, read once)."""
    from monitor.rules.frequency import rates, word_rate
    from monitor.rules.text import lemma_language

    table = rates(lemma_language(lang))
    return lambda word: word_rate(word, table)


def story_profile(story: Story) -> tuple[EventProfile, list[tuple[str, frozenset[str]]]]:
    """The event profile of ``story`` (title and lead) and its lead's sentences with their terms."""
    rate_of = _rate_of(story.lang or "en")
    text = story.text or story.summary
    return profile(story.title, text, rate_of), lead_sentences(text, rate_of)


def candidate(
    rule: str, settings: EventSettings, found: tuple[EventProfile, list[tuple[str, frozenset[str]]]]
) -> EventCandidate:
    """What the write-up whose profile and lead are ``found`` brings for ``rule`` grouped as ``settings`` says."""
    prof, sentences = found
    return EventCandidate(
        rule=rule,
        profile=dict(prof.terms),
        sentences=tuple(LeadSentence(text, terms) for text, terms in sentences),
        window=settings.window,
        follow_up=settings.follow_up,
        threshold=settings.threshold,
    )


def choose(cand: EventCandidate, recent: Sequence[StoredEvent], now: float) -> Choice:
    """The event of ``recent`` (the rule's events within the window) the write-up ``cand``
    belongs to, by :func:`monitor.identity.events.best_event`; the profile that event has
    with it (or the new event's); and the sentences of its lead new to the event. A stored
    profile that cannot be read counts as an event with no terms (nothing joins it)."""
    story = EventProfile.of(cand.profile, len(cand.profile))
    events = [Event(str(e.id), _stored_profile(e.profile), e.first_at, e.last_at, e.stories) for e in recent]
    found, _ = best_event(story, events, at=now, window=cand.window, threshold=cand.threshold)
    if found is None:
        return Choice(None, json.dumps(story.to_json(), sort_keys=True))
    event = next(e for e in recent if str(e.id) == found.id)
    sentences = [(s.text, s.terms) for s in cand.sentences]
    details = new_details(sentences, story, found.profile)
    merged = merge(found.profile, story)
    return Choice(event, json.dumps(merged.to_json(), sort_keys=True), tuple(details))


@lru_cache(maxsize=1024)
def _stored_profile(text: str) -> EventProfile:
    # cached by the stored JSON: the events of a busy rule are read at every poll that
    # matches it, and their profiles change only when a write-up joins them (at most about
    # 14 MB, measured: 1024 profiles of 96 terms and their JSON)
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return EventProfile.from_json(data)
    except ValueError:
        return EventProfile({}, 0.0)


@dataclass(frozen=True, slots=True)
class Grouped:
    """Where ``newsmonitor events`` put one story: the event (named by its first story's id),
    whether the story started it, the best similarity to an earlier event, and what it added."""

    id: str
    event: str
    started: bool
    score: float
    details: tuple[str, ...] = ()


def group_stories(stories: Iterable[tuple[str, Story, float]], settings: EventSettings) -> Iterator[Grouped]:
    """Group ``stories`` ((id, story, seen at) in the order they were seen) into events as the
    daemon does for one rule with ``settings``, yielding where each went: what ``newsmonitor
    events`` shows, to try a threshold on one's own stories."""
    events: list[Event] = []
    for story_id, story, at in stories:
        prof, sentences = story_profile(story)
        events = [e for e in events if at - e.first_at <= settings.window]
        found, score = best_event(prof, events, at=at, window=settings.window, threshold=settings.threshold)
        if found is None:
            events.append(Event(story_id, prof, at, at))
            yield Grouped(story_id, story_id, True, round(score, 3))
            continue
        details = tuple(new_details(sentences, prof, found.profile))
        found.add(prof, at)
        yield Grouped(story_id, found.id, False, round(score, 3), details)
