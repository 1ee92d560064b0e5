"""plan_alerts: from new stories to outbox rows (pure, table-driven) and assign_clusters without an index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import Config, Settings
from monitor.daemon.alerts import AlertPolicy, assign_clusters, plan_alerts
from monitor.daemon.rulecache import compile_rules, rule_specs
from monitor.daemon.runtime import enabled_rules
from monitor.daemon.targets import build_targets
from monitor.models import Story
from monitor.store.payload import NoticePayload
from monitor.store.repo import OutboxRow

NOW = datetime(2026, 1, 1, 23, 0, tzinfo=UTC)  # inside the night notifier's quiet hours

SETTINGS = {
    "notifiers": {
        "chat": {"urls": ["json://127.0.0.1:1/chat"]},
        "desk": {"urls": ["json://127.0.0.1:1/a", "json://127.0.0.1:1/b"]},
        "night": {"urls": ["json://127.0.0.1:1/n"], "quiet": "22:00-07:00"},
        "morning": {"urls": ["json://127.0.0.1:1/m"], "digest": "daily at 08:00"},
    },
    "defaults": {"notify": ["chat"], "max_age": "7d"},
    "flood": {"threshold": 3, "fraction": 0.5},
    "rules": [
        {"name": "storm", "query": "storm"},
        {"name": "quake", "query": "earthquake", "notify": ["desk"]},
        {"name": "floods", "query": "flooding", "notify": ["night"]},
        {"name": "fire", "query": "wildfire", "notify": ["night"], "urgent": True},
        {"name": "rates", "query": "rates", "digest": "hourly"},
        {"name": "markets", "query": "markets", "notify": ["morning"]},
        {"name": "off", "query": "storm", "enabled": False},
    ],
}


@pytest.fixture(scope="module")
def policy() -> AlertPolicy:
    config = Config(Settings.model_validate(SETTINGS), "newsmonitor.yaml", [])
    rules = enabled_rules(config)
    return AlertPolicy.from_config(config, rules, compile_rules(rule_specs(rules)).matcher, build_targets(config))


def story(spec: str, n: int = 0) -> Story:
    """A new story from its title; a title ending in ``@Nd`` was published N days before NOW."""
    title, _, age = spec.partition(" @")
    published = NOW - timedelta(days=float(age.rstrip("d"))) if age else None
    return Story(source="wire", url=f"https://ex.com/{n}", title=title, published=published, keys=(f"url://ex.com/{n}",))


def summary(row: OutboxRow) -> str:
    """``kind rule>target due digest #story``: due is "now" or the UTC time of day."""
    due = "now" if row.due_at == NOW.timestamp() else datetime.fromtimestamp(row.due_at, UTC).strftime("%H:%M")
    index = "-" if row.story_index is None else row.story_index
    return f"{row.kind} {row.rule}>{row.target} {due} {row.digest or '-'} #{index}"


STORMS = ["Storm one", "Storm two", "Storm three", "Storm four"]
FLOOD_CHAT, FLOOD_DESK = "summary (flood)>chat now - #-", "summary (flood)>desk now - #-"

# (new stories of one poll, stories the listing held, the outbox rows planned)
PLANS = [
    ("no rule matches", ["Cabinet meets"], 1, []),
    ("the default notifier", ["Storm hits the coast"], 1, ["alert storm>chat now - #0"]),
    ("every destination of the notifier", ["Earthquake in Chile"], 1, ["alert quake>desk now - #0"] * 2),
    ("two rules, one story", ["Storm and earthquake"], 1, ["alert storm>chat now - #0", *["alert quake>desk now - #0"] * 2]),
    ("quiet hours hold it", ["Flooding in the valley"], 1, ["alert floods>night 07:00 quiet #0"]),
    ("urgent ignores quiet hours", ["Wildfire spreads"], 1, ["alert fire>night now - #0"]),
    ("the rule's digest", ["Rates rise"], 1, ["alert rates>chat 00:00 hourly #0"]),
    ("the notifier's digest", ["Markets fall"], 1, ["alert markets>morning 08:00 daily at 08:00 #0"]),
    ("older than max_age", ["Storm hits the coast @8d"], 1, []),
    ("within max_age", ["Storm hits the coast @6d"], 1, ["alert storm>chat now - #0"]),
    ("story index among all new stories", ["Cabinet meets", "Storm hits"], 2, ["alert storm>chat now - #1"]),
    ("at the flood threshold: alerts", STORMS[:3], 3, [f"alert storm>chat now - #{i}" for i in range(3)]),
    ("a flood: one summary", STORMS, 4, [FLOOD_CHAT]),
    ("a flood: a summary per notifier", ["Storm", "Storm", "Earthquake", "Storm"], 4, [FLOOD_CHAT, FLOOD_DESK, FLOOD_DESK]),
    ("few of a long listing: no flood", STORMS, 10, [f"alert storm>chat now - #{i}" for i in range(4)]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "titles", "listed", "rows"), PLANS, ids=[c[0] for c in PLANS])
def test_plan_alerts(policy: AlertPolicy, case: str, titles: list[str], listed: int, rows: list[str]) -> None:
    stories = [story(title, n) for n, title in enumerate(titles)]
    plan = plan_alerts(stories, policy, source="wire", listed=listed, now=NOW.timestamp())
    assert [summary(row) for row in plan.rows] == rows


def test_a_flood_still_lists_every_match_and_says_what_happened(policy: AlertPolicy) -> None:
    stories = [story(title, n) for n, title in enumerate([*STORMS, "Cabinet meets"])]
    plan = plan_alerts(stories, policy, source="wire", listed=5, now=NOW.timestamp())
    assert [(s.title, [m.rule for m in matches]) for s, matches in plan.matched] == [
        (title, ["storm"]) for title in STORMS
    ]
    (row,) = plan.rows
    assert isinstance(row.payload, NoticePayload)
    assert row.payload.note.startswith("5 new stories from 'wire' in one poll")
    assert [item.title for item in row.payload.items] == STORMS


def test_rows_of_one_cluster_share_their_idempotency_key(policy: AlertPolicy) -> None:
    first, second = story("Storm hits the coast", 1), story("Storm hits the coast again", 2)
    first.cluster = second.cluster = "url://ex.com/1"
    plan = plan_alerts([first, second], policy, source="wire", listed=2, now=NOW.timestamp())
    assert [row.cluster for row in plan.rows] == ["url://ex.com/1"] * 2
    assert plan.rows[0].key == plan.rows[1].key  # the outbox keeps one of them


def test_without_an_index_every_story_is_its_own_cluster() -> None:
    stories = [story("Storm hits the coast", 1), story("Storm hits the coast", 2)]
    assert assign_clusters(None, stories, NOW.timestamp(), True) == [
        ("url://ex.com/1", None, None),
        ("url://ex.com/2", None, None),
    ]
    assert [s.cluster for s in stories] == ["url://ex.com/1", "url://ex.com/2"]


# (new stories, seen stories listed for the first time with the only rules that may run, rows planned)
RELISTED = [
    ("only the rules given", [], [("Storm and earthquake", {"quake"})], ["alert quake>desk now - #0"] * 2),
    ("no rule given: nothing", [], [("Storm hits", set())], []),
    ("rows count on after the new stories", ["Cabinet meets"], [("Storm hits", {"storm"})], ["alert storm>chat now - #1"]),
    ("too old still never alerts", [], [("Storm hits @8d", {"storm"})], []),
    ("they count towards a flood", STORMS[:2], [(s, {"storm"}) for s in STORMS[2:]], [FLOOD_CHAT]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "titles", "relisted", "rows"), RELISTED, ids=[c[0] for c in RELISTED])
def test_plan_alerts_for_stories_listed_again(
    policy: AlertPolicy, case: str, titles: list[str], relisted: list[tuple[str, set[str]]], rows: list[str]
) -> None:
    stories = [story(title, n) for n, title in enumerate(titles)]
    again = [(story(title, 10 + n), frozenset(rules)) for n, (title, rules) in enumerate(relisted)]
    plan = plan_alerts(stories, policy, source="wire", listed=4, now=NOW.timestamp(), relisted=again)
    assert [summary(row) for row in plan.rows] == rows
