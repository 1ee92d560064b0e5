"""The evidence (hits and snippets) of one story's keyword matches, built for all of them
when the first match's is read (see :meth:`~monitor.models.Match.later`).

Deciding which rules match takes a third of the work of a match, its evidence the rest; a
daemon reads the evidence of every match it alerts, and ``newsmonitor match`` prints it. So
the work is shared across the matches of the story: a hit is made once, with its character
offsets and the sentence its snippet comes from (a ``Mark``), whatever number of matches
report it; rules of the same term share their report; a list of hits is grouped into
sentences by C-level passes over marks, not by a call per hit. The offsets and sentences
of all the story's hits are found in one pass a field (``StoryReports._build``).
"""

from __future__ import annotations

import gc
import threading
from bisect import bisect_left
from itertools import chain
from operator import itemgetter

from monitor.models import Hit, Report
from monitor.rules.encoding import FIELD_NAMES
from monitor.rules.evaluate import Evaluation, Occ, Plan
from monitor.rules.snippets import Mark, StorySnippets

_new = object.__new__
_first = itemgetter(0)
# a hit is made without the frozen dataclass's ``__init__`` (five ``object.__setattr__``
# calls): its slots are set through their descriptors
_HIT_FIELDS = ("term", "field", "position", "start", "end")
_set_term, _set_field, _set_position, _set_start, _set_end = (getattr(Hit, name).__set__ for name in _HIT_FIELDS)
if tuple(Hit.__dataclass_fields__) != _HIT_FIELDS:  # pragma: no cover - a guard for whoever changes Hit
    raise ImportError(f"monitor.rules.reports makes hits of the fields {_HIT_FIELDS}: Hit has changed")


class StoryReports:
    """The reports of one story's keyword matches: ``report(plan)`` is the evidence of the
    match of the rule whose evaluation plan is ``plan``, one of ``plans``.

    The matcher appends the plan of each match to ``plans`` as it decides; when the first
    match's evidence is read, the reports of all of them are built in one pass
    (``_build``): a daemon and ``newsmonitor match`` read every match, and one pass finds
    the offsets and sentence of every hit of the story with a call per field, not per hit,
    and no call per match but its evidence's and its snippets'. (The tests hold the pass to
    the evidence of each rule's query walked as a tree, ``Evaluation.hits`` and
    ``make_snippets``.)

    Holds the story's evaluation, so the evidence is what it would have been if built at
    once, in whatever order and whenever the matches are read. A lock keeps two threads
    reading matches of the same story from building its reports twice.
    """

    __slots__ = ("_built", "_evaluation", "_lock", "_plans")

    def __init__(self, evaluation: Evaluation, plans: list[Plan]) -> None:
        self._evaluation = evaluation
        #: the plan of each match, its key (appended to as the matcher decides)
        self._plans = plans
        #: every match's report, by the id of its plan, once built (``_build``)
        self._built: dict[int, Report] | None = None
        self._lock = threading.Lock()

    def report(self, key: object) -> Report:
        """The hits and snippets of the match made with ``key``, the plan of its rule."""
        plan: Plan = key  # type: ignore[assignment]  # (``typing.cast`` is a call)
        built = self._built
        if built is not None:
            return built[id(plan)]
        # as in ``Matcher.match``: hundreds of short-lived, acyclic containers
        enabled = gc.isenabled()
        gc.disable()
        try:
            with self._lock:
                built = self._built
                if built is None:
                    built = self._built = self._build()
                return built[id(plan)]
        finally:
            if enabled:
                gc.enable()

    def _build(self) -> dict[int, Report]:
        """Every match's report, in one pass: the evidence of each, then the marks of every
        occurrence any of them reports (offsets and places a field at a time), then each
        report from its marks."""
        found = list(map(self._evaluation.shared_evidence_of, self._plans))
        # each (occurrence, label) reported, once, in text order (sorted by occurrence alone:
        # comparing the pairs costs more, and the order of the labels of an occurrence does
        # not matter): a field's run of them is cut at the first of the next field (an
        # occurrence ``(f + 1,)`` sorts before all of that field's), and its offsets and
        # places are found with a call each, an occurrence reported under two labels looked
        # up twice (rare), with no dictionary by occurrence between them
        items = sorted(set(chain.from_iterable(map(_first, found))), key=_first)
        fields = self._evaluation.doc.fields
        snippets = StorySnippets({name: fd.text for name, fd in zip(FIELD_NAMES, fields, strict=True)})
        marks: dict[tuple[Occ, str], Mark] = {}
        done = 0
        for f, name in enumerate(FIELD_NAMES):
            if done == len(items):
                break
            stop = bisect_left(items, (f + 1,), done, key=_first)
            if stop == done:
                continue
            these = items[done:stop]
            done = stop
            spans = fields[f].char_spans(map(_first, these))
            # a field with an occurrence has text: its hits have places
            for item, span, place in zip(these, spans, snippets.places(name, spans)):  # noqa: B905 - as long
                occ, label = item
                hit: Hit = _new(Hit)
                _set_term(hit, label)
                _set_field(hit, name)
                _set_position(hit, occ[1])
                _set_start(hit, span[0])
                _set_end(hit, span[1])
                marks[item] = (hit, place, span, label)  # type: ignore[assignment]
        out = _reports(found, marks, snippets)
        # by the id of each plan (kept alive by its match, until read, and by the matcher);
        # what the reports were built from is no longer needed (the matches keep this object
        # until each is read)
        built = dict(zip(map(id, self._plans), out, strict=True))
        self._evaluation = None  # type: ignore[assignment]
        self._plans = []
        return built


def _reports(found: list[tuple[tuple[tuple[Occ, str], ...], bool]], marks: dict[tuple[Occ, str], Mark],
             snippets: StorySnippets) -> list[Report]:
    """The report of each evidence of ``found`` (see ``Evaluation.shared_evidence_of``) from
    the marks of its hits: an evidence the evaluation keeps (a term's) is reported once."""
    mark = marks.__getitem__
    of_marks = snippets.of_marks
    alone = snippets.alone
    # (every evidence object stays alive in ``found`` meanwhile: no id is taken twice)
    same: dict[int, Report] = {}
    out: list[Report] = []
    append = out.append
    for evidence, kept in found:
        report = same.get(id(evidence)) if kept else None
        if report is None:
            count = len(evidence)
            if count == 2:
                # two hits (most matches of rules of two words): ``of_marks`` of two, with
                # the snippet of a hit alone cut once per story (see ``StorySnippets.alone``)
                one, other = mark(evidence[0]), mark(evidence[1])
                if one[1] == other[1]:
                    report = ((one[0], other[0]), of_marks((one[1], one[1]), (one[2], other[2]),
                                                           (one[3], other[3])))
                elif one[3] == other[3]:
                    report = ((one[0], other[0]), (alone(one),))
                else:
                    report = ((one[0], other[0]), (alone(one), alone(other)))
            elif count == 1:
                one = mark(evidence[0])
                report = ((one[0],), (alone(one),))
            elif evidence:
                # the marks' columns in one C-level pass, not a call per mark and column (no
                # ``strict``: a keyword argument costs a parse per call)
                hits, places, spans, terms = zip(*map(mark, evidence))  # noqa: B905 - marks are 4-tuples
                report = (hits, of_marks(places, spans, terms))
            else:
                report = ((), ())
            if kept:
                same[id(evidence)] = report
        append(report)
    return out
