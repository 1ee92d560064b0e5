"""Notification targets resolved from the config: each named notifier and its destinations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from monitor.config import Config, NotifierSettings
from monitor.identity.keys import destination_id

if TYPE_CHECKING:
    # imported when the targets are built (templates, schedules), not when this module loads
    from monitor.notify.render import Renderer
    from monitor.notify.schedule import DigestSchedule, QuietHours


@dataclass(slots=True)
class Destination:
    """One apprise URL of a notifier (the unit of delivery, retries and backoff)."""

    id: str
    url: str
    target: str


@dataclass(slots=True)
class Target:
    """A named notifier with its delivery options."""

    name: str
    settings: NotifierSettings
    timezone: str
    renderer: Renderer
    destinations: list[Destination] = field(default_factory=list)
    #: the notifier's own digest schedule and quiet hours, if it has them
    digest: DigestSchedule | None = None
    quiet: QuietHours | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_email(self) -> bool:
        return any(d.url.split("://", 1)[0].lower() in ("mailto", "mailtos") for d in self.destinations)

    def quiet_until(self, now: float) -> float | None:
        """When quiet hours end if they are active at ``now`` (epoch seconds), else None."""
        if self.quiet is None:
            return None
        when = datetime.fromtimestamp(now, UTC)
        if not self.quiet.active(when):
            return None
        return float(self.quiet.ends_after(when).timestamp())

    def next_digest(self, spec: DigestSchedule, now: float) -> float:
        """When the next digest of ``spec`` goes out after ``now`` (epoch seconds), in the target's zone."""
        when = datetime.fromtimestamp(now, UTC)
        return float(spec.next_after(when, self.zone).timestamp())


def build_targets(config: Config) -> dict[str, Target]:
    """Every notifier of ``config`` as a :class:`Target` (templates and schedules compiled)."""
    from monitor.notify.render import Renderer
    from monitor.notify.schedule import parse_digest, parse_quiet

    targets: dict[str, Target] = {}
    for name, spec in config.settings.notifiers.items():
        tz = spec.timezone or config.settings.timezone
        targets[name] = Target(
            name=name,
            settings=spec,
            timezone=tz,
            renderer=Renderer(fmt=spec.format, timezone=tz, template_path=spec.template),
            destinations=[Destination(id=destination_id(u), url=u, target=name) for u in spec.urls],
            digest=parse_digest(spec.digest) if spec.digest else None,
            quiet=parse_quiet(spec.quiet, tz) if spec.quiet else None,
        )
    return targets
