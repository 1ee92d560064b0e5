"""Table definitions (SQLAlchemy Core). Changes go through a migration in :mod:`monitor.store.migrations`."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from monitor.models import MessageKind, OutboxStatus

metadata = MetaData()

#: poll state and health of each source (keyed by the source's name in the YAML)
sources = Table(
    "sources",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("url_hash", String(64), nullable=False),
    Column("primed_at", Float),
    Column("last_poll_at", Float),
    Column("last_ok_at", Float),
    Column("failing_since", Float),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_http_status", Integer),  # status of the last failed poll when the server answered 4xx/5xx
    Column("next_poll_at", Float),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("content_hash", String(64)),
    Column("new_story_times", Text),  # JSON list of epoch seconds, for adaptive intervals
    Column("listed_ids", Text),  # JSON list of the story ids the source listed at its last parse
    Column("polls", Integer, nullable=False, default=0),
    Column("stories_total", Integer, nullable=False, default=0),
    # the kind of error of the last failed poll (FetchError.kind, "parse_error" ...), None when it worked
    Column("last_error_kind", String(40)),
    # successful polls in a row whose listing held no story (a 304 counts as the listing before it)
    Column("empty_polls", Integer, nullable=False, default=0, server_default="0"),
    # when a poll last recorded a new story (the listing last changed), epoch seconds
    Column("last_new_story_at", Float),
    # JSON list of the query parameters learned to change on every poll (session ids), left out of identity
    Column("volatile_params", Text),
    # the instance polling the source now and until when (a lease: see monitor.store.cluster)
    Column("lease_owner", String(100)),
    Column("lease_until", Float),
    # the instance that recorded the source's last poll
    Column("polled_by", String(100)),
)

#: every story ever recorded (seen), until retention prunes it
stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(200), nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("url", Text, nullable=False, default=""),
    Column("published", Float),
    Column("first_seen", Float, nullable=False),
    Column("last_listed", Float, nullable=False),
    Column("cluster", String(64)),
    Column("signature", LargeBinary),
    Column("title_key", Text),
    Index("ix_stories_last_listed", "last_listed"),
    Index("ix_stories_cluster", "cluster"),
    Index("ix_stories_first_seen", "first_seen"),
)

#: identity keys → story; a story is seen when any of its keys is here
story_keys = Table(
    "story_keys",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("story_id", Integer, nullable=False),
    # 0: recorded with the story (kept as long as it is); 1: found later, at most so many a story
    Column("alias", Integer, nullable=False, default=0, server_default="0"),
    # when a listing last named the story by this key (aliases listed least recently go first)
    Column("listed_at", Float),
    Index("ix_story_keys_story", "story_id"),
)

#: the sources that listed a story after the one that recorded it (``stories.source``), so
#: that a rule limited to a source runs once on a story that source lists later
story_listers = Table(
    "story_listers",
    metadata,
    Column("story_id", Integer, primary_key=True),
    Column("source", String(200), primary_key=True),
)

#: the transactional outbox: one row per (rule, story or cluster, destination)
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("kind", String(10), nullable=False, default=MessageKind.ALERT),  # alert, summary or health
    Column("rule", String(200), nullable=False),
    Column("target", String(200), nullable=False),
    Column("dest", String(64), nullable=False),  # hash of the apprise URL, never the URL
    Column("story_id", Integer),
    Column("cluster", String(64)),
    Column("status", String(10), nullable=False, default=OutboxStatus.PENDING),  # an OutboxStatus
    Column("urgent", Integer, nullable=False, default=0),
    Column("digest", String(100)),  # what the row waits for: a digest schedule spec, "quiet" or "throttle"
    Column("payload", Text, nullable=False),  # JSON of a store.payload type: what the message shows
    Column("created_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),  # send attempts (what `outbox` shows as tries)
    # failed sends while the destination worked (the message fails on its own): the poison count
    Column("solo_failures", Integer, nullable=False, default=0),
    Column("first_failed_at", Float),
    Column("last_error", Text),
    Column("sent_at", Float),
    # while status is 'sending': when the claim of the send in flight ends (epoch seconds)
    Column("lease_until", Float),
    # sends whose outcome was unknown (no answer in time, or cut off by a crash): they may have arrived
    Column("unknowns", Integer, nullable=False, default=0, server_default="0"),
    # a follow-up: the event (events.id) whose next follow-up the row waits for; None otherwise
    Column("event", Integer),
    UniqueConstraint("key", name="uq_outbox_key"),
    Index("ix_outbox_status_dest", "status", "dest", "next_attempt_at"),
)

#: per-destination delivery state (backoff is per destination, so one dead target never delays others)
destinations = Table(
    "destinations",
    metadata,
    Column("dest", String(64), primary_key=True),
    Column("target", String(200), nullable=False),
    Column("failures", Integer, nullable=False, default=0),
    Column("blocked_until", Float),
    Column("last_success_at", Float),
    Column("last_error", Text),
    Column("sent_log", Text),  # JSON list of recent send times (throttle)
    Column("last_digest_at", Float),
    # the instance delivering to the destination now and until when (one at a time, cluster-wide)
    Column("lease_owner", String(100)),
    Column("lease_until", Float),
)

#: the live instances sharing the database: each one's heartbeat and what it runs
instances = Table(
    "instances",
    metadata,
    Column("id", String(100), primary_key=True),  # host:pid:random, new at each start
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("config_hash", String(64), nullable=False),
    Column("version", String(40), nullable=False, default=""),
    # at the last heartbeat: source leases held, and how late its polls ran (seconds, p-max of the last minute)
    Column("leases", Integer, nullable=False, default=0, server_default="0"),
    Column("lag", Float, nullable=False, default=0.0, server_default="0"),
)

#: MinHash LSH band keys of recent stories' signatures (shared by the instances of a
#: PostgreSQL store, so that two copies of a wire story polled by different instances are one cluster)
lsh_bands = Table(
    "lsh_bands",
    metadata,
    Column("band", String(64), nullable=False),  # band number and the band's hash
    Column("story_id", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_lsh_bands_band", "band"),
    Index("ix_lsh_bands_at", "at"),
)

#: the history's part of a recorded story (its ``stories`` row holds the rest: title, link,
#: source, dates): the language and the text rules searched, zlib-compressed UTF-8
#: (:mod:`monitor.store.history`); deleted with its story
story_texts = Table(
    "story_texts",
    metadata,
    Column("story_id", Integer, primary_key=True, autoincrement=False),
    Column("lang", String(35)),
    Column("text", LargeBinary, nullable=False),
)

#: every match of a rule on a story, as the daemon found it when a poll recorded the story
#: (or a seen story a source listed for the first time); pruned after ``retention``
rule_matches = Table(
    "rule_matches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(200), nullable=False),
    Column("story_id", Integer, nullable=False),
    Column("source", String(200), nullable=False),  # the source whose poll matched it
    Column("matched_at", Float, nullable=False),
    Index("ix_rule_matches_rule_at", "rule", "matched_at"),
    Index("ix_rule_matches_at", "matched_at"),
)

#: how each outbox row ended (sent, dead or cancelled) and when: the alerts a user got, kept
#: after the outbox row is pruned until ``retention``; the destination only as its hash
alert_history = Table(
    "alert_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),  # the outbox row's idempotency key
    Column("kind", String(10), nullable=False),  # a MessageKind
    Column("rule", String(200), nullable=False),
    Column("target", String(200), nullable=False),
    Column("dest", String(64), nullable=False),  # hash of the apprise URL, never the URL
    Column("story_id", Integer),
    Column("cluster", String(64)),
    Column("outcome", String(10), nullable=False),  # an OutboxStatus: sent, dead or cancelled
    Column("at", Float, nullable=False),
    Column("error", Text),  # why it is dead or cancelled, redacted
    Index("ix_alert_history_at", "at"),
    Index("ix_alert_history_rule_at", "rule", "at"),
)

#: news events of the rules grouped by event (``group: event``): different write-ups of one
#: event within a window make one alert, later ones follow-ups (:mod:`monitor.store.events`)
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(200), nullable=False),
    Column("first_at", Float, nullable=False),  # when its first write-up was recorded
    Column("last_at", Float, nullable=False),  # when its latest write-up was recorded
    Column("profile", Text, nullable=False),  # JSON: the salient terms of its write-ups, weighted
    Column("stories", Integer, nullable=False, default=1),  # write-ups folded into it
    Column("told_at", Float, nullable=False),  # when its alert was due
    Column("follow_up_at", Float),  # when its latest follow-up is (or was) due; None: none yet
    Index("ix_events_rule_first", "rule", "first_at"),
    Index("ix_events_last", "last_at"),
)

#: the write-ups (stories, or syndication clusters) of each event, one row per rule and subject
event_members = Table(
    "event_members",
    metadata,
    Column("rule", String(200), primary_key=True),
    Column("subject", String(300), primary_key=True),  # the story's cluster, else its key
    Column("event_id", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_event_members_event", "event_id"),
)

#: small key/value facts: schema version, last health notice times, sources' listing notes
meta = Table(
    "meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text),
)
