"""Spike rules: an alert when another rule suddenly matches far more stories than it usually does.

A spike rule (``spike: {rule: NAME, factor: 3, window: 1h}``) has no query. Every check
(:class:`SpikeWatch`, a scheduler job) counts the stories rule NAME matched in the last
``window`` and in the ``baseline`` before it, from the stored history (``rule_matches``),
and judges (:func:`spiking`):

* the usual number in a window is the baseline's count scaled to one window; while the
  history is younger than :func:`learning_span` there is no usual number yet, and no spike;
* a spike begins when the window holds at least ``min_matches`` stories and at least
  ``factor`` times the usual number; it alerts once, with the window's top stories (copies
  of one story counted once, most sources first);
* it ends when the window falls under half of that bar (so a count hovering at the bar
  does not alert again and again); the next one alerts again.

The state (when the spike under way began) is a ``meta`` row written in the transaction
that writes the alert, so a restart neither repeats nor loses one; the alert's key is made
of the rule and the window the check fell in, so two instances checking at once write one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from monitor.config import RuleSettings, SpikeSettings
from monitor.identity.keys import idempotency_key
from monitor.models import MessageKind
from monitor.store import repo
from monitor.store.history import SpikeCounts, SpikeStory
from monitor.store.payload import AlertPayload, NoticePayload, RuleEvidence

if TYPE_CHECKING:
    from monitor.daemon.runtime import Runtime

log = logging.getLogger("monitor.daemon")

#: a spike under way ends when the window's count falls under this share of the bar that began it
END_SHARE = 0.5


def learning_span(spike: SpikeSettings) -> float:
    """How much history (seconds before the window) a spike rule needs before it judges: a
    day, or four windows when that is longer, but never more than its baseline."""
    return min(spike.baseline, max(4 * spike.window, 86400.0))


def usual(counts: SpikeCounts, spike: SpikeSettings) -> float | None:
    """The rule's usual number of stories in one window, from the baseline; None while the
    stored history is too young to say (:func:`learning_span`)."""
    if counts.span < learning_span(spike):
        return None
    return counts.before * spike.window / counts.span


def bar(counts: SpikeCounts, spike: SpikeSettings) -> float | None:
    """The count at which a spike begins (None: still learning)."""
    expected = usual(counts, spike)
    if expected is None:
        return None
    return max(float(spike.min_matches), spike.factor * expected)


def spiking(counts: SpikeCounts, spike: SpikeSettings, under_way: bool) -> bool:
    """Whether the rule spikes: its window reaches the bar, or, for a spike ``under_way``,
    still holds at least :data:`END_SHARE` of it."""
    needed = bar(counts, spike)
    if needed is None:
        return False
    return counts.current >= (needed * END_SHARE if under_way else needed)


def _span(seconds: float) -> str:
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.1f} days"


def spike_note(rule: RuleSettings, counts: SpikeCounts) -> str:
    """What a spike alert says: how many stories, against how many usually, over what."""
    spike = rule.spike
    assert spike is not None
    expected = usual(counts, spike) or 0.0
    usually = f"{counts.current / expected:.1f} times its usual {expected:.1f}"
    ratio = usually if expected > 0 else "it usually matches none"
    return (
        f"Spike of '{spike.rule}' (rule '{rule.name}'): {counts.current} stories in the last "
        f"{_span(spike.window)}, {ratio} (from the {_span(counts.span)} before).\n"
        "Top stories:"
    )


def spike_rows(
    rule: RuleSettings,
    targets: Sequence[tuple[str, Sequence[str]]],
    counts: SpikeCounts,
    found: Sequence[SpikeStory],
    now: float,
) -> list[repo.OutboxRow]:
    """The outbox rows of a spike of ``rule`` beginning at ``now``: one per destination of
    its ``targets`` (each target's name and destination ids)."""
    spike = rule.spike
    assert spike is not None
    items = tuple(
        AlertPayload(
            title=s.title + (f" ({s.sources} sources)" if s.sources > 1 else ""),
            url=s.url,
            source=s.source,
            published=s.published,
            rules=(RuleEvidence(spike.rule),),
        )
        for s in found
    )
    payload = NoticePayload(note=spike_note(rule, counts), items=items)
    subject = f"spike:{int(now // spike.window)}"
    return [
        repo.OutboxRow(
            key=idempotency_key(rule.name, subject, dest),
            kind=MessageKind.SUMMARY,
            rule=rule.name,
            target=name,
            dest=dest,
            payload=payload,
            due_at=now,
            urgent=rule.urgent,
        )
        for name, dests in targets
        for dest in dests
    ]


def check_interval(rules: Sequence[RuleSettings]) -> float:
    """How often spikes are checked: a sixth of the shortest window, between 1 and 5 minutes."""
    windows = [r.spike.window for r in rules if r.spike is not None]
    return min(300.0, max(60.0, min(windows) / 6)) if windows else 300.0


class SpikeWatch:
    """Checks every enabled spike rule and writes the alert of a spike that begins."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def check(self) -> int:
        """One check of each spike rule (a failing one is logged and the others still run);
        returns how many outbox rows were written."""
        from monitor.daemon.runtime import spike_rules

        written = 0
        for rule in spike_rules(self.rt.config):
            try:
                written += await self._check(rule)
            except Exception:
                log.exception("spike rule '%s': check failed; it runs again at the next check", rule.name)
        if written:
            self.rt.outbox_changed.set()
        return written

    async def _check(self, rule: RuleSettings) -> int:
        rt = self.rt
        spike = rule.spike
        assert spike is not None
        now = rt.clock.timestamp()
        targets = [
            (name, [dest.id for dest in rt.targets[name].destinations])
            for name in rt.config.rule_targets(rule)
            if name in rt.targets
        ]

        def judge(counts: SpikeCounts, since: float | None) -> bool:
            return spiking(counts, spike, since is not None)

        def plan(counts: SpikeCounts, found: Sequence[SpikeStory]) -> list[repo.OutboxRow]:
            return spike_rows(rule, targets, counts, found, now)

        counts, since, written = await rt.store.spike_turn(
            rule.name, spike.rule, now=now, window=spike.window, baseline=spike.baseline, top=spike.top,
            judge=judge, plan=plan,
        )
        if written:  # this check began the spike (another instance's check writes nothing)
            rt.metrics.spikes.labels(rule.name).inc()
            log.warning("spike: %s", spike_note(rule, counts).splitlines()[0])
        elif since is None and counts.current and usual(counts, spike) is None:
            log.debug("spike rule '%s': learning (%.0f s of history)", rule.name, counts.span)
        return written
