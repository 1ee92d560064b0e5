"""Query parameters that change on every poll: learned per source, left out of story identity.

Some sites write the visitor's session into every link (``?sid=9f3k2m7q1x8c``,
``?jsessionid=...``), so the same story comes back under a new URL at each poll. A
parameter is learned as *volatile* for a source when the previous listing and this one
show :data:`MIN_EVIDENCE` or more stories under links that differ in that parameter's
value alone: the same host, path, other parameters and title, the old link no longer
listed and the new one not listed before, and both values made up
(:func:`~monitor.identity.keys.looks_made_up`: ``?id=124`` is no session).

A parameter that tells two stories of one listing apart (the same host, path and other
parameters, different titles: ``/article?id=123`` and ``/article?id=124``) is an article
id and is never volatile, whatever the polls show.

Pure functions on plain values: the pipeline passes the links and titles of the previous
and the current listing and stores what is learned with the source.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from monitor.identity.keys import looks_made_up, normalise_title

#: stories whose links must have changed in the same parameter, and in it alone, between two
#: polls for it to be learned: a session rewrites every link of a listing at once, while a
#: story replaced by another of the same title on the same page changes one link
MIN_EVIDENCE = 2


@dataclass(frozen=True, slots=True)
class Sighting:
    """A story as one listing showed it: its (normalised) link and its title."""

    url: str
    title: str


@dataclass(frozen=True, slots=True)
class Learned:
    """What two listings say about the query parameters of a source's links."""

    #: parameters whose value alone changed for at least MIN_EVIDENCE stories
    volatile: frozenset[str]
    #: parameters that tell two stories of one listing apart: never volatile
    distinguishing: frozenset[str]

    def applied_to(self, known: Iterable[str]) -> list[str]:
        """``known`` volatile parameters with these learned and the distinguishing ones
        forgotten, sorted."""
        return sorted((set(known) | self.volatile) - self.distinguishing)


@dataclass(frozen=True, slots=True)
class _Shape:
    """A link taken apart: host and path, and its query parameters (each named once)."""

    base: str
    params: dict[str, str]
    title: str

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.params)


def _shape(sighting: Sighting) -> _Shape | None:
    """``sighting``'s link taken apart, or None when it has no query or names a parameter twice."""
    try:
        parts = urlsplit(sighting.url)
    except ValueError:
        return None
    pieces = [p.partition("=") for p in parts.query.split("&") if p]
    params = {name: value for name, _, value in pieces}
    if not params or len(params) != len(pieces):
        return None
    return _Shape(parts.netloc.lower() + parts.path, params, normalise_title(sighting.title))


def distinguishing(listing: Sequence[Sighting]) -> frozenset[str]:
    """The parameters that tell two stories of ``listing`` apart: two links with the same
    host, path and other parameters and different titles differ in it."""
    groups: defaultdict[tuple[str, frozenset[str]], list[_Shape]] = defaultdict(list)
    for shape in map(_shape, listing):
        if shape is not None:
            groups[(shape.base, shape.names)].append(shape)
    found: set[str] = set()
    for (_, names), shapes in groups.items():
        if len(shapes) < 2:
            continue
        for name in names - found:
            # the links alike but for ``name``: the titles under its different values
            alike: defaultdict[tuple[tuple[str, str], ...], dict[str, set[str]]] = defaultdict(dict)
            for shape in shapes:
                rest = tuple(sorted((n, v) for n, v in shape.params.items() if n != name))
                alike[rest].setdefault(shape.params[name], set()).add(shape.title)
            if any(_tell_apart(titles) for titles in alike.values()):
                found.add(name)
    return frozenset(found)


def _tell_apart(titles_by_value: dict[str, set[str]]) -> bool:
    """Whether two different values of a parameter carry different titles."""
    if len(titles_by_value) < 2:
        return False
    every = set().union(*titles_by_value.values())
    return len(every) > 1


def learn_volatile(
    previous: Sequence[Sighting], current: Sequence[Sighting], *, min_evidence: int = MIN_EVIDENCE
) -> Learned:
    """What the links of a source's ``previous`` listing and its ``current`` one say (see
    the module docstring): the parameters that changed alone in links of at least
    ``min_evidence`` stories, and those that tell stories of either listing apart."""
    apart = distinguishing(previous) | distinguishing(current)
    gone = _by_page_and_title(previous, {s.url for s in current})
    came = _by_page_and_title(current, {s.url for s in previous})
    evidence: Counter[str] = Counter()
    for page, shapes in came.items():
        olds = gone.get(page, [])
        # one link gone and one come for the page and title: the same story, unless several
        # stories of one title on one page were replaced at once (which came from which?)
        if len(shapes) != 1 or len(olds) != 1:
            continue
        new, old = shapes[0], olds[0]
        differ = [n for n in new.params if new.params[n] != old.params[n]]
        if len(differ) == 1 and looks_made_up(new.params[differ[0]]) and looks_made_up(old.params[differ[0]]):
            evidence[differ[0]] += 1
    volatile = frozenset(n for n, count in evidence.items() if count >= min_evidence and n not in apart)
    return Learned(volatile, apart)


def _by_page_and_title(
    listing: Sequence[Sighting], other: set[str]
) -> dict[tuple[str, frozenset[str], str], list[_Shape]]:
    """The titled links of ``listing`` with a query that are not among ``other``, by host and
    path, parameter names and title."""
    out: defaultdict[tuple[str, frozenset[str], str], list[_Shape]] = defaultdict(list)
    for sighting in listing:
        shape = _shape(sighting)
        if shape is not None and shape.title and sighting.url not in other:
            out[(shape.base, shape.names, shape.title)].append(shape)
    return out
