"""From new stories to outbox rows: syndication clusters, rule matches, routing, digests, floods.

Pure CPU work on plain values (no I/O, no runtime); the pipeline runs it on the runtime's
CPU thread so it never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monitor.config import Config, EventSettings, FloodSettings, RuleSettings
from monitor.daemon.targets import Target
from monitor.identity.keys import idempotency_key
from monitor.models import Match, MessageKind, Story
from monitor.rules import Matcher
from monitor.store import repo
from monitor.store.payload import AlertPayload, NoticePayload

if TYPE_CHECKING:
    # imported when clustering starts (numpy and friends), not when the daemon module loads
    from monitor.identity.clusters import ClusterIndex


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """What turns matched stories into outbox rows: one value per running configuration."""

    matcher: Matcher
    #: the enabled rules by name
    rules: Mapping[str, RuleSettings]
    #: rule name → the notifiers it alerts, in the order the config gives them
    routes: Mapping[str, Sequence[str]]
    targets: Mapping[str, Target]
    #: a story published longer ago than this (seconds) never alerts
    max_age: float
    flood: FloodSettings
    #: (rule, notifier) pairs whose alerts are one per event (``group: event`` on either)
    grouped: frozenset[tuple[str, str]] = frozenset()
    #: rule name → how its write-ups are grouped into events (rules with a grouped pair)
    events: Mapping[str, EventSettings] = field(default_factory=dict)

    @classmethod
    def from_config(
        cls, config: Config, rules: Sequence[RuleSettings], matcher: Matcher, targets: Mapping[str, Target]
    ) -> AlertPolicy:
        """The policy of ``config`` for its enabled ``rules``, compiled into ``matcher``."""
        grouped = frozenset(
            (r.name, t) for r in rules for t in config.rule_targets(r) if config.groups_events(r, t)
        )
        return cls(
            matcher=matcher,
            rules={r.name: r for r in rules},
            routes={r.name: tuple(config.rule_targets(r)) for r in rules},
            targets=targets,
            max_age=config.settings.defaults.max_age,
            flood=config.settings.flood,
            grouped=grouped,
            events={rule: config.event_settings(r) for r in rules for rule, _ in grouped if rule == r.name},
        )

    def targets_for(self, matches: Sequence[Match]) -> list[str]:
        """The notifiers any of ``matches`` alerts, each once, in order of first mention."""
        names: list[str] = []
        for match in matches:
            for name in self.routes[match.rule]:
                if name not in names:
                    names.append(name)
        return names


@dataclass(frozen=True, slots=True)
class AlertPlan:
    """What the new stories of one poll make: outbox rows and the stories that matched."""

    rows: list[repo.OutboxRow] = field(default_factory=list)
    #: each matching story with the rules it matched (logs, ``once --dry-run``, metrics)
    matched: list[tuple[Story, list[Match]]] = field(default_factory=list)


def plan_alerts(
    stories: Sequence[Story],
    policy: AlertPolicy,
    *,
    source: str,
    listed: int,
    now: float,
    relisted: Sequence[tuple[Story, frozenset[str]]] = (),
) -> AlertPlan:
    """The outbox rows for ``stories``, the new stories of one poll of ``source`` (which
    listed ``listed`` stories in all), at ``now`` (epoch seconds).

    ``relisted`` holds the seen stories ``source`` lists for the first time, each with the
    only rules that may alert it now (see :mod:`monitor.daemon.relisted`); here they count
    as new stories.

    A story published more than ``policy.max_age`` before ``now`` never alerts. Each rule
    a story matches alerts every destination of each of its notifiers: due at ``now``, or
    held for a digest (the rule's, else the notifier's) or until quiet hours end (urgent
    rules ignore quiet hours). A flood (more new stories than ``flood.threshold`` and than
    ``flood.fraction`` of the listing) makes one summary per notifier instead. Row
    ``story_index`` is the story's position in ``stories`` (then ``relisted``). Pure:
    nothing is written.
    """
    entries = [*((story, None) for story in stories), *relisted]
    flood = len(entries) > policy.flood.threshold and len(entries) > policy.flood.fraction * max(listed, 1)
    rows: list[repo.OutboxRow] = []
    matched: list[tuple[Story, list[Match]]] = []
    flood_hits: dict[str, list[tuple[int, Story, list[Match]]]] = {}
    for index, (story, only) in enumerate(entries):
        matches = _matches(policy, story, only, now)
        if not matches:
            continue
        matched.append((story, matches))
        if flood:
            for target in policy.targets_for(matches):
                flood_hits.setdefault(target, []).append((index, story, matches))
            continue
        rows.extend(_rows_for_story(policy, story, index, matches, now))
    for target_name, hits in flood_hits.items():
        rows.extend(_flood_rows(policy.targets[target_name], source, hits, len(entries), now))
    return AlertPlan(rows, matched)


def _matches(policy: AlertPolicy, story: Story, only: frozenset[str] | None, now: float) -> list[Match]:
    """The rules ``story`` matches, of ``only`` (None: of every rule); none when it is too old."""
    if story.published and story.published.timestamp() < now - policy.max_age:
        return []
    matches = policy.matcher.match(story)
    return matches if only is None else [m for m in matches if m.rule in only]


def _due(rule: RuleSettings, target: Target, now: float) -> tuple[float, str | None]:
    """When an alert of ``rule`` to ``target`` is due, and the digest it waits for (None: at once)."""
    spec = rule.digest or target.settings.digest
    if spec:
        from monitor.notify.schedule import parse_digest

        return target.next_digest(parse_digest(spec), now), spec
    if not rule.urgent:
        quiet_end = target.quiet_until(now)
        if quiet_end is not None:
            return quiet_end, "quiet"
    return now, None


def _rows_for_story(
    policy: AlertPolicy, story: Story, index: int, matches: list[Match], now: float
) -> list[repo.OutboxRow]:
    rows = []
    subject = story.cluster or story.key
    found = None
    for match in matches:
        rule = policy.rules[match.rule]
        for target_name in policy.routes[rule.name]:
            target = policy.targets[target_name]
            due, digest = _due(rule, target, now)
            event = None
            if (rule.name, target_name) in policy.grouped:
                # once per story, however many rules and notifiers group it
                from monitor.daemon import eventgroups

                found = found or eventgroups.story_profile(story)
                event = eventgroups.candidate(rule.name, policy.events[rule.name], found)
            for dest in target.destinations:
                rows.append(
                    repo.OutboxRow(
                        key=idempotency_key(rule.name, subject, dest.id),
                        kind=MessageKind.ALERT,
                        rule=rule.name,
                        target=target_name,
                        dest=dest.id,
                        payload=AlertPayload.from_story(story, [match]),
                        due_at=due,
                        urgent=rule.urgent,
                        digest=digest,
                        cluster=subject,
                        story_index=index,
                        event_candidate=event,
                    )
                )
    return rows


def _flood_rows(
    target: Target,
    source: str,
    hits: list[tuple[int, Story, list[Match]]],
    total: int,
    now: float,
) -> list[repo.OutboxRow]:
    shown = hits[:10]
    note = (
        f"{total} new stories from '{source}' in one poll (a site redesign or lost state?); "
        f"{len(hits)} matched your rules. Showing {len(shown)}; all are recorded and none will alert again."
    )
    payload = NoticePayload(note=note, items=tuple(AlertPayload.from_story(s, m) for _, s, m in shown))
    subject = f"flood:{source}:{int(now)}"
    return [
        repo.OutboxRow(
            key=idempotency_key("(flood)", subject, dest.id),
            kind=MessageKind.SUMMARY,
            rule="(flood)",
            target=target.name,
            dest=dest.id,
            payload=payload,
            due_at=now,
        )
        for dest in target.destinations
    ]


# ---------------------------------------------------------------------------- clustering

#: what the database keeps of a story's clustering: (cluster, text signature, title key)
Dedup = tuple[str, bytes | None, str | None]


def assign_clusters(index: ClusterIndex | None, stories: list[Story], now: float, by_text: bool) -> list[Dedup]:
    """Put each story in the cluster of a near-identical story seen within the index's window,
    or in its own; sets ``story.cluster`` and adds the story to ``index``.

    ``index`` None (clustering off) makes every story its own cluster. ``by_text`` False
    skips the text signatures (about 1 ms each): priming stories never alert, so their
    titles are enough to catch a later copy elsewhere. Returns one :data:`Dedup` per story.
    """
    return [_assign_cluster(index, story, now, by_text) for story in stories]


def _assign_cluster(index: ClusterIndex | None, story: Story, now: float, by_text: bool) -> Dedup:
    if index is None:
        story.cluster = story.key
        return (story.key, None, None)
    from monitor.identity.clusters import text_signature, title_key

    sig = text_signature(story.text) if by_text and len(story.text) > 200 else None
    tkey = title_key(story.title)
    story.cluster = index.find(sig, tkey, now) or story.key
    index.add(story.cluster, sig, tkey, now)
    return (story.cluster, sig.to_bytes() if sig is not None else None, tkey)
