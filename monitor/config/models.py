"""The typed settings of the YAML file (pydantic models), and where files live by default.

:mod:`monitor.config` loads and validates a file into these; the rest of the daemon only
reads them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from monitor.config.durations import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]
FullText = bool | Literal["auto"]

# what a source polls with when neither it nor defaults: says otherwise
DEFAULT_INTERVAL = 900.0
DEFAULT_FULL_TEXT: FullText = "auto"
DEFAULT_ROBOTS = True


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class HttpSettings(_Model):
    """Limits of the one HTTP client."""

    timeout: Duration = 60.0
    connect_timeout: Duration = 10.0
    read_timeout: Duration = 30.0
    max_bytes: int = Field(default=10 * 2**20, gt=0)
    max_redirects: int = Field(default=5, ge=0, le=20)
    per_host: int = Field(default=2, ge=1, le=64)
    host_delay: Duration = 0.0
    concurrency: int = Field(default=64, ge=1, le=10000)
    article_per_host: int = Field(default=2, ge=1, le=64)
    proxy: str | None = None
    #: a PEM file of extra CA certificates to trust besides the system's (intranet feeds, a
    #: TLS-inspecting proxy)
    ca_file: str | None = None
    #: hosts whose links only redirect to the publisher (feed proxies, link shorteners): the
    #: link is followed so the story's identity is the publisher's URL
    redirectors: list[str] = Field(
        default_factory=lambda: [
            "feedproxy.google.com",
            "feeds.feedburner.com",
            "news.google.com",
            "t.co",
            "bit.ly",
            "ow.ly",
            "dlvr.it",
            "trib.al",
            "buff.ly",
            "lnkd.in",
            "rss.app",
            "flip.it",
            "tinyurl.com",
            "apple.co",
        ]
    )


class Defaults(_Model):
    """Values every source and rule inherits unless it sets its own."""

    interval: Duration = DEFAULT_INTERVAL
    min_interval: Duration | None = None
    max_interval: Duration | None = None
    notify: list[str] = Field(default_factory=list)
    full_text: FullText = DEFAULT_FULL_TEXT
    max_age: Duration = 7 * 86400.0
    robots: bool = DEFAULT_ROBOTS

    def resolve(self, source: SourceSettings) -> SourceSettings:
        """``source`` with every option its entry leaves out taken from these defaults.

        Afterwards the source's own fields are what the daemon polls with:

        - ``interval``, ``robots``, ``full_text``: the entry's value, else the default;
        - ``min_interval``: the floor of adaptive polling, or None when the source polls at a
          fixed interval (it sets its own ``interval:``, or no floor is set anywhere);
        - ``max_interval``: the ceiling of adaptive polling, or None for four times the
          larger of interval and floor.

        A zero ``min_interval`` or ``max_interval`` counts as unset, as it always has. The
        result keeps ``model_fields_set`` of ``source`` (the keys its entry wrote), so checks
        can still tell a written value from an inherited one, and resolving again changes
        nothing. Loading a file resolves every source; call this for a source built apart
        from a file (``test-source URL``).
        """
        written = source.model_fields_set
        fixed = "interval" in written
        values = dict(source)
        values.update(
            interval=source.interval if fixed else self.interval,
            robots=source.robots if "robots" in written else self.robots,
            full_text=source.full_text if "full_text" in written else self.full_text,
            min_interval=None if fixed else (source.min_interval or self.min_interval or None),
            max_interval=source.max_interval or self.max_interval or None,
        )
        return SourceSettings.model_construct(set(written), **values)


#: how a rule's alerts are grouped: one per story (copies of one wire story are one story
#: already), or one per event (different write-ups of one event; see EventSettings)
Grouping = Literal["story", "event"]


class EventSettings(_Model):
    """How write-ups of one event are grouped (``group: event``): the default under
    ``events:``, a rule's own under its ``event:``."""

    #: how long after an event's first write-up a later one still joins it
    window: Duration = 24 * 3600.0
    #: the least time between two messages about one event (its alert, then its follow-ups)
    follow_up: Duration = 2 * 3600.0
    #: similarity of a write-up to an event (0 to 1) at or above which it joins the event;
    #: measured with benchmarks/events.py (monitor.identity.events.THRESHOLD)
    threshold: float = 0.25

    @field_validator("window")
    @classmethod
    def _window(cls, value: float) -> float:
        # the window bounds what is compared and kept: at least the time outlets take to
        # catch up with a story, at most a week
        if not 600 <= value <= 7 * 86400:
            raise ValueError("the window must be between 10m and 7d")
        return value

    @field_validator("follow_up")
    @classmethod
    def _follow_up(cls, value: float) -> float:
        if not 60 <= value <= 7 * 86400:
            raise ValueError("the follow-up interval must be between 1m and 7d")
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold(cls, value: float) -> float:
        if not 0 < value <= 1:
            raise ValueError("the threshold is a similarity above 0 and at most 1 (default 0.25)")
        return value


class NotifierSettings(_Model):
    """A named notification target: one or more apprise URLs and how messages are shaped."""

    urls: list[str] = Field(min_length=1)
    format: Literal["text", "markdown", "html"] = "text"
    timezone: str | None = None
    quiet: str | None = None
    digest: str | None = None
    max_per_hour: int | None = Field(default=None, gt=0)
    template: str | None = None
    #: ``event``: every rule's alerts to this notifier are grouped by event (as a rule's ``group``)
    group: Grouping = "story"


#: source options an entry may leave out (or write as null) to take the value under defaults:
INHERITED = ("interval", "min_interval", "max_interval", "full_text", "robots")


class SourceSettings(_Model):
    """One news source: a feed or a section page.

    Loading resolves the options an entry leaves out from ``defaults:`` (see
    :meth:`Defaults.resolve`), so the daemon reads ``interval``, ``robots``, ``full_text``,
    ``min_interval`` and ``max_interval`` here and nowhere else.
    """

    name: str = Field(min_length=1)
    feed: str | None = None
    page: str | None = None
    interval: Duration = DEFAULT_INTERVAL
    min_interval: Duration | None = None
    max_interval: Duration | None = None
    enabled: bool = True
    tags: list[str] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    full_text: FullText = DEFAULT_FULL_TEXT
    links: str | None = None
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    alert_on_first_poll: bool = False
    robots: bool = DEFAULT_ROBOTS
    allow_networks: list[str] = Field(default_factory=list)
    outlet: str | None = None
    #: overrides ``health.stale_after`` for this source (0: never stale)
    stale_after: Duration | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_inherits(cls, data: object) -> object:
        # `robots: null` has always meant "as in defaults:": leave the key out, so that it
        # is not among the written keys and Defaults.resolve fills it in
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if not (key in INHERITED and value is None)}
        return data

    @property
    def url(self) -> str:
        return self.feed or self.page or ""

    @property
    def kind(self) -> str:
        return "feed" if self.feed else "page"


class SpikeSettings(_Model):
    """When a spike rule alerts: another rule's matches in the last ``window`` are at least
    ``factor`` times its usual number in a window (from the stored matches of the
    ``baseline`` before it) and at least ``min_matches``."""

    rule: str = Field(min_length=1)
    factor: float = Field(default=3.0, gt=1, le=1000)
    window: Duration = Field(default=3600.0, ge=300, le=7 * 86400)
    baseline: Duration = Field(default=7 * 86400.0, ge=3600, le=365 * 86400)
    min_matches: int = Field(default=5, ge=1)
    top: int = Field(default=5, ge=1, le=50)

    @model_validator(mode="after")
    def _baseline_longer(self) -> SpikeSettings:
        if self.baseline < 2 * self.window:
            raise ValueError(
                f"baseline ({self.baseline:g} s) must be at least twice the window ({self.window:g} s): "
                "the usual rate is measured over several windows before the one judged"
            )
        return self


class RuleSettings(_Model):
    """One watch rule: a ``query``, a topic (``about``), or both (both must hold then); or a
    ``spike`` of another rule's matches."""

    name: str = Field(min_length=1)
    #: empty: the rule has no keyword part (it has ``about``, or is a spike rule; check.py makes sure)
    query: str = ""
    #: what the stories are about, in a few words: matched by meaning (issue 17)
    about: str | None = None
    #: the similarity to ``about`` a story needs (None: the calibrated default)
    threshold: float | None = None
    #: instead of a query: alert when another rule's matches suddenly rise
    spike: SpikeSettings | None = None
    notify: list[str] | None = None
    sources: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    urgent: bool = False
    digest: str | None = None
    enabled: bool = True
    #: ``event``: one alert per event, later write-ups folded into follow-ups (every notifier)
    group: Grouping = "story"
    #: this rule's event grouping, instead of the file's ``events:``
    event: EventSettings | None = None

    @model_validator(mode="after")
    def _spike_alone(self) -> RuleSettings:
        if self.spike is not None:
            if self.query or self.about is not None:
                raise ValueError(
                    "a rule has either query:/about: (matched against stories) or spike: (counts another "
                    "rule's matches), not both"
                )
            if self.sources or self.tags:
                raise ValueError("a spike rule counts the matches of its spike.rule: set sources/tags there")
            if self.group != "story" or self.event is not None:
                raise ValueError(
                    "a spike rule sends one message per spike: group: and event: belong to rules with a query"
                )
        return self

    @property
    def matches_stories(self) -> bool:
        """Whether this rule is matched against stories (a query or a topic), not a spike of another rule."""
        return self.spike is None

    @property
    def shown(self) -> str:
        """What the rule matches, in one line: its query, its topic, or both; for a spike rule,
        the rule whose matches it counts."""
        if self.spike is not None:
            return f"spike of {self.spike.rule}"
        topic = f"about: {self.about}" if self.about else ""
        return f"{self.query} + {topic}" if self.query and topic else self.query or topic

    @field_validator("query")
    @classmethod
    def _query_given(cls, value: str) -> str:
        # only a written `query:` is validated: a rule with `about:` alone leaves it out
        if not value.strip():
            raise ValueError("must not be empty (leave the key out for a rule with about: alone)")
        return value

    @field_validator("about")
    @classmethod
    def _about_given(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) < 2:
            raise ValueError("must describe the topic in a few words, e.g. 'export controls on rare earths'")
        return value

    @field_validator("threshold")
    @classmethod
    def _threshold_range(cls, value: float | None) -> float | None:
        if value is not None and not 0 < value < 1:
            raise ValueError("must be a similarity between 0 and 1 (exclusive); the default is 0.3")
        return value


class DeliverySettings(_Model):
    """How the outbox is drained."""

    retry_base: Duration = 30.0
    retry_cap: Duration = 3600.0
    dead_after: Duration = 7 * 86400.0
    #: the socket connect and read timeout of one send; the send ends a little after it
    timeout: Duration = 30.0
    poison_attempts: int = Field(default=8, ge=1)
    #: sends with no answer (outcome unknown: each may have arrived) before a message is dead
    unknown_attempts: int = Field(default=3, ge=1)


class FloodSettings(_Model):
    """When one poll yields too many new stories, send one summary instead."""

    threshold: int = Field(default=50, ge=1)
    fraction: float = Field(default=0.5, gt=0, le=1)


class ClusterSettings(_Model):
    """Syndicated-story clustering."""

    enabled: bool = True
    window: Duration = 48 * 3600.0


class InstancesSettings(_Model):
    """Several instances sharing one PostgreSQL database (issue 16; a SQLite file has one)."""

    #: how long a poll may hold its source before another instance may take it (the longest poll, and more)
    source_lease: Duration = Field(default=300.0, gt=0)
    #: how long a delivery round holds its destination at least (each send's claim extends it)
    delivery_lease: Duration = Field(default=60.0, gt=0)
    #: how often each instance writes its membership row; silent for 3 beats, it is not listed as live
    heartbeat: Duration = Field(default=15.0, gt=0)
    #: ``cluster``: ``http.per_host``, ``http.host_delay`` and robots.txt Crawl-delay hold per site for
    #: all the instances together (two or three statements per request); ``instance``: for each alone
    politeness: Literal["cluster", "instance"] = "cluster"


class HealthSettings(_Model):
    """The daemon's notices about itself."""

    notify: list[str] | None = None
    source_failures: int = Field(default=3, ge=1)
    pending_after: Duration = 3600.0
    throttle: Duration = 3600.0
    #: successful polls in a row listing no story that make a source ``empty``
    empty_after: int = Field(default=3, ge=1)
    #: a source listing no new story for longer than this is ``stale``; None or 0: never
    #: (a source's own ``stale_after`` overrides it)
    stale_after: Duration | None = None

    def stale_after_for(self, source: SourceSettings) -> float | None:
        """How long ``source`` may list no new story before it is ``stale`` (None: never)."""
        value = source.stale_after if source.stale_after is not None else self.stale_after
        return value or None


class WebSettings(_Model):
    """The dashboard, JSON API, Atom feeds and metrics endpoint, and the bounds of its server."""

    listen: str | None = None
    #: every route but /healthz needs it (``${NEWSMONITOR_TOKEN}``); None: no authentication,
    #: allowed only on a loopback address
    token: str | None = None
    #: how often the dashboard's pages refresh themselves (seconds; 0: never)
    refresh: Duration = Field(default=30.0, ge=0)
    #: more ``Host`` names to answer to besides the listen address (and, on loopback, localhost)
    hosts: list[str] = Field(default_factory=list)
    #: connections open at once (also never more than a quarter of RLIMIT_NOFILE)
    max_connections: int = Field(default=100, ge=1, le=10000)
    #: a request line and headers must be complete this long after they start
    header_timeout: Duration = Field(default=5.0, gt=0)
    #: a request (its body and our answer) must be done this long after its headers
    request_timeout: Duration = Field(default=30.0, gt=0)
    #: a keep-alive connection may wait this long for its next request
    idle_timeout: Duration = Field(default=5.0, gt=0)


class Settings(_Model):
    """The whole configuration file."""

    database: str | None = None
    timezone: str = "UTC"
    retention: Duration = 90 * 86400.0
    allow_networks: list[str] = Field(default_factory=list)
    http: HttpSettings = Field(default_factory=HttpSettings)
    defaults: Defaults = Field(default_factory=Defaults)
    notifiers: dict[str, NotifierSettings] = Field(default_factory=dict)
    health: HealthSettings = Field(default_factory=HealthSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    flood: FloodSettings = Field(default_factory=FloodSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    instances: InstancesSettings = Field(default_factory=InstancesSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    sources: list[SourceSettings] = Field(default_factory=list)
    rules: list[RuleSettings] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        check_zone(value)
        return value

    @model_validator(mode="after")
    def _resolve_sources(self) -> Settings:
        # once, here, so every validated file (and every reload) hands the daemon sources
        # whose options are final
        self.sources = [self.defaults.resolve(source) for source in self.sources]
        return self


class Config:
    """A validated configuration: the settings plus where they came from and any warnings."""

    def __init__(self, settings: Settings, path: str, warnings: list[str]) -> None:
        self.settings = settings
        self.path = path
        self.warnings = warnings
        #: what the file's rules: section validated to, when the next read of the file may
        #: take it as it is (a ``monitor.config.rulesection.CheckedRules``; read it with
        #: ``checked_rules_of``, this layer cannot name the type)
        self.checked_rules: Any = None

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL; a SQLite file in the XDG state dir by default."""
        if self.settings.database:
            return self.settings.database
        return "sqlite:///" + str(state_dir() / "newsmonitor.db")

    def source_interval(self, source: SourceSettings) -> float:
        """Seconds between polls of ``source``: its own ``interval``, resolved from defaults at load."""
        return source.interval

    def rule_targets(self, rule: RuleSettings) -> list[str]:
        return rule.notify if rule.notify is not None else self.settings.defaults.notify

    def event_settings(self, rule: RuleSettings) -> EventSettings:
        """How ``rule``'s write-ups are grouped into events: its own ``event:``, else ``events:``."""
        return rule.event or self.settings.events

    def groups_events(self, rule: RuleSettings, notifier: str) -> bool:
        """Whether ``rule``'s alerts to ``notifier`` are one per event (``group: event`` on
        either)."""
        target = self.settings.notifiers.get(notifier)
        return rule.group == "event" or (target is not None and target.group == "event")

    def health_targets(self) -> list[str]:
        h = self.settings.health.notify
        return list(self.settings.notifiers) if h is None else h


def state_dir() -> Path:
    """``$XDG_STATE_HOME/newsmonitor`` (``~/.local/state/newsmonitor``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "newsmonitor"


def default_config_path() -> str:
    """``$NEWSMONITOR_CONFIG``, else ``./newsmonitor.yaml``, else the XDG config dir."""
    env = os.environ.get("NEWSMONITOR_CONFIG")
    if env:
        return env
    local = Path("newsmonitor.yaml")
    if local.exists():
        return str(local)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return str(Path(base) / "newsmonitor" / "config.yaml")


def check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as UTC or Europe/Nairobi"
        ) from None
