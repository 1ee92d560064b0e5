"""From new stories to outbox rows: syndication clusters, rule matches, routing, digests, floods.

Pure CPU work (no I/O); the pipeline runs it on the runtime's CPU thread so it never
blocks the event loop.
"""

from __future__ import annotations

from monitor.config import SourceSettings
from monitor.daemon.runtime import Runtime
from monitor.identity.keys import idempotency_key
from monitor.models import Match, MessageKind, Story
from monitor.store import repo
from monitor.store.payload import AlertPayload, NoticePayload


def plan_alerts(
    rt: Runtime,
    src: SourceSettings,
    stories: list[Story],
    now: float,
    listed: int,
    found: list[tuple[Story, list[Match]]],
) -> list[repo.OutboxRow]:
    settings = rt.config.settings
    max_age = settings.defaults.max_age
    flood = len(stories) > settings.flood.threshold and len(stories) > settings.flood.fraction * max(
        listed, 1
    )
    rows: list[repo.OutboxRow] = []
    flood_hits: dict[str, list[tuple[int, Story, list[Match]]]] = {}
    for index, story in enumerate(stories):
        if story.published and story.published.timestamp() < now - max_age:
            continue
        matches = rt.matcher.match(story)
        if not matches:
            continue
        found.append((story, matches))
        for match in matches:
            rt.metrics.matches.labels(match.rule).inc()
        if flood:
            for target in _targets_for(rt, matches):
                flood_hits.setdefault(target, []).append((index, story, matches))
            continue
        rows.extend(_rows_for_story(rt, story, index, matches, now))
    for target_name, hits in flood_hits.items():
        rows.extend(_flood_rows(rt, src, target_name, hits, len(stories), now))
    return rows


def _targets_for(rt: Runtime, matches: list[Match]) -> list[str]:
    names: list[str] = []
    for match in matches:
        for t in rt.config.rule_targets(rt.rule_by_name[match.rule]):
            if t not in names:
                names.append(t)
    return names


def _rows_for_story(
    rt: Runtime, story: Story, index: int, matches: list[Match], now: float
) -> list[repo.OutboxRow]:
    rows = []
    subject = story.cluster or story.key
    for match in matches:
        rule = rt.rule_by_name[match.rule]
        for target_name in rt.config.rule_targets(rule):
            target = rt.targets[target_name]
            due, digest = now, None
            spec = rule.digest or target.settings.digest
            if spec:
                from monitor.notify.schedule import parse_digest

                due, digest = target.next_digest(parse_digest(spec), now), spec
            elif not rule.urgent:
                quiet_end = target.quiet_until(now)
                if quiet_end is not None:
                    due, digest = quiet_end, "quiet"
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
                    )
                )
    return rows


def _flood_rows(
    rt: Runtime,
    src: SourceSettings,
    target_name: str,
    hits: list[tuple[int, Story, list[Match]]],
    total: int,
    now: float,
) -> list[repo.OutboxRow]:
    target = rt.targets[target_name]
    shown = hits[:10]
    note = (
        f"{total} new stories from '{src.name}' in one poll (a site redesign or lost state?); "
        f"{len(hits)} matched your rules. Showing {len(shown)}; all are recorded and none will alert again."
    )
    payload = NoticePayload(note=note, items=tuple(AlertPayload.from_story(s, m) for _, s, m in shown))
    subject = f"flood:{src.name}:{int(now)}"
    return [
        repo.OutboxRow(
            key=idempotency_key("(flood)", subject, dest.id),
            kind=MessageKind.SUMMARY,
            rule="(flood)",
            target=target_name,
            dest=dest.id,
            payload=payload,
            due_at=now,
        )
        for dest in target.destinations
    ]


# ---------------------------------------------------------------------------- clustering

Dedup = tuple[str, bytes | None, str | None]


def assign_clusters(rt: Runtime, stories: list[Story], now: float, by_text: bool) -> list[Dedup]:
    # priming skips the text signatures (about 1 ms each): stories that never alert only need
    # their titles to catch a later copy elsewhere
    return [_assign_cluster(rt, story, now, by_text) for story in stories]


def _assign_cluster(rt: Runtime, story: Story, now: float, by_text: bool = True) -> Dedup:
    """Put ``story`` in the cluster of a near-identical story seen within the window, or its own."""
    index = rt.cluster_index
    if index is None or not rt.config.settings.cluster.enabled:
        story.cluster = story.key
        return (story.key, None, None)
    from monitor.identity.clusters import text_signature, title_key

    sig = text_signature(story.text) if by_text and len(story.text) > 200 else None
    tkey = title_key(story.title)
    story.cluster = index.find(sig, tkey, now) or story.key
    index.add(story.cluster, sig, tkey, now)
    return (story.cluster, sig.to_bytes() if sig is not None else None, tkey)
