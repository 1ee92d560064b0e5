"""Seen stories a source lists for the first time, and the rules that run on them then.

A story is recorded once, by the first source that lists it: an aggregator often lists a
publisher's URL before the publisher's own feed does. A rule limited by ``sources:`` or
``tags:`` to the publisher must still run on it, once, when the publisher lists it. So
every source that lists a recorded story is remembered with it (the store's
``story_listers``; the recording source is ``stories.source``), and when a source lists a
story for the first time, the rules that accept that source and accepted none of the
sources that listed it before run on the story as this source lists it (its own title and
text, the article fetched when its ``full_text`` asks for it). Rules that ran before never
run again; the outbox's key on (rule, story or cluster, destination) keeps a retry of the
same poll from alerting twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from monitor.config import SourceSettings
from monitor.daemon.articles import build_story
from monitor.daemon.runtime import Runtime
from monitor.models import Story
from monitor.sources import Candidate


@dataclass(frozen=True, slots=True)
class Relisting:
    """A seen story listed by a source for the first time, and the rules to run on it."""

    story_id: int
    #: the story as this source lists it; ``cluster`` is the recorded story's
    story: Story
    #: the rules that accept this source and none of those that listed the story before
    rules: frozenset[str]


@dataclass(frozen=True, slots=True)
class FirstListings:
    """The seen stories a poll's source lists for the first time."""

    #: every one of them: the source becomes one of their listers
    ids: set[int] = field(default_factory=set)
    #: those that some rule runs on now
    relisted: list[Relisting] = field(default_factory=list)


async def first_listings(
    rt: Runtime,
    src: SourceSettings,
    entries: Mapping[int, tuple[Candidate | Story, Sequence[str]]],
    *,
    priming: bool,
) -> FirstListings:
    """Which of the seen stories ``entries`` (story id → how ``src`` lists it, with its keys)
    ``src`` lists for the first time, and the rules that run on them now (none while
    ``priming``). A story some rule runs on is built as a new one would be (its article
    fetched when ``src`` asks for full text). Nothing is written."""
    stored = await rt.store.first_listings(src.name, list(entries))
    if priming or not stored or not rt.matcher.limited:
        return FirstListings(set(stored))
    accepted: dict[str, frozenset[str]] = {}
    relisted: list[Relisting] = []
    for sid, listers in stored.items():
        rules = _accepting(rt, src.name, accepted) - _union(_accepting(rt, n, accepted) for n in listers.sources)
        if not rules:
            continue
        entry, keys = entries[sid]
        story = entry if isinstance(entry, Story) else await build_story(rt, src, entry, keys, need_text=True)
        story.cluster = listers.cluster or story.key
        relisted.append(Relisting(sid, story, rules))
    return FirstListings(set(stored), relisted)


def _accepting(rt: Runtime, name: str, cache: dict[str, frozenset[str]]) -> frozenset[str]:
    """The enabled rules that the source ``name`` may alert (a source no longer configured
    by its name alone)."""
    found = cache.get(name)
    if found is None:
        src = rt.sources.get(name)
        probe = Story(
            source=name,
            url="",
            title="",
            outlet=(src.outlet or name) if src else name,
            source_tags=tuple(src.tags) if src else (),
        )
        found = cache[name] = rt.matcher.accepting(probe)
    return found


def _union(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    return frozenset().union(*sets)
