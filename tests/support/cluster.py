"""Several ``newsmonitor run`` processes sharing one PostgreSQL database, polling a feed farm.

The rig of the cluster test (``tests/integration/test_cluster.py``) and of
``benchmarks/cluster.py``: a :class:`~tests.support.farm.FeedFarm` on loopback, a webhook
receiver (apprise ``json://``) that notes when each message arrived, one YAML file for every
instance, and the instances themselves as real processes (:class:`DaemonProcess`), which the
caller may SIGKILL and start again. :func:`run_cluster` plays one scripted run and returns
what the farm and the receiver saw (:class:`ClusterRun`); the checks of the test are
functions of that record (:func:`double_polls`, :func:`unpolled_gaps`, ...), so the
benchmark can print them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import signal
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from monitor.demo.receiver import Received, Receiver
from tests.support.farm import MATCH_QUERY, FarmStory, FeedFarm, story_links
from tests.support.process import DaemonProcess
from tests.support.waiting import wait_for


@dataclass(frozen=True)
class ClusterPlan:
    """What one cluster run does; times are seconds after publishing starts."""

    sources: int = 200
    instances: int = 3
    interval: float = 15.0
    #: longer than the interval (a dead instance's poll in flight is not redone within one
    #: interval) and than the longest poll on a loaded machine
    source_lease: float = 30.0
    delivery_lease: float = 3.0
    delivery_timeout: float = 3.0
    heartbeat: float = 2.0
    change_rate: float = 0.1
    match_rate: float = 0.3
    #: how long the feeds publish
    publish: float = 30.0
    #: (instance index, SIGKILL at, start again at); ``None`` for the restart: never
    kills: tuple[tuple[int, float, float | None], ...] = ((1, 4.0, 12.0),)
    #: wire stories, each published at once on two feeds that publish nothing else
    wires: int = 8
    seed: int = 1
    #: how long after publishing stops every alert must have arrived
    settle: float = 60.0
    workers: int = 0


@dataclass
class Arrival:
    """A message the receiver got and when (``time.monotonic()``)."""

    at: float
    message: Received

    @property
    def links(self) -> set[str]:
        return story_links(self.message.body)


@dataclass
class ClusterRun:
    """What one run produced: the farm's record, the receiver's, and the instances' logs."""

    plan: ClusterPlan
    farm: FeedFarm
    arrivals: list[Arrival]
    #: when publishing started and stopped, and the instances were stopped (monotonic)
    published_from: float = 0.0
    published_until: float = 0.0
    stopped_at: float = 0.0
    #: (instance index, monotonic time) of each SIGKILL
    killed: list[tuple[int, float]] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    wires: dict[str, list[FarmStory]] = field(default_factory=dict)
    database_url: str = ""

    def copies(self) -> Counter[str]:
        """Story link → how many messages carried it."""
        return Counter(link for a in self.arrivals for link in a.links)

    def expected(self) -> list[FarmStory]:
        """The matching stories published (a wire story counts once, as its first copy)."""
        seen: set[str] = set()
        out = []
        for story in self.farm.published:
            if story.matching and (story.wire is None or story.wire not in seen):
                out.append(story)
                if story.wire is not None:
                    seen.add(story.wire)
        return out


def config(plan: ClusterPlan, farm: FeedFarm, hook: Receiver, database_url: str) -> str:
    """The one YAML file every instance reads."""
    data = {
        "database": database_url,
        "allow_networks": ["127.0.0.0/8"],
        "defaults": {"interval": f"{plan.interval:g}s", "notify": ["hook"], "full_text": False},
        "http": {"per_host": 8},
        "delivery": {"retry_base": "1s", "retry_cap": "2s", "timeout": f"{plan.delivery_timeout:g}s"},
        "instances": {
            "source_lease": f"{plan.source_lease:g}s",
            "delivery_lease": f"{plan.delivery_lease:g}s",
            "heartbeat": f"{plan.heartbeat:g}s",
        },
        "flood": {"threshold": 100000},
        "notifiers": {"hook": hook.url},
        "sources": [{"name": f"s{n}", "feed": farm.url(n)} for n in range(plan.sources)],
        "rules": [{"name": "rare-earths", "query": MATCH_QUERY}],
    }
    return yaml.safe_dump(data, sort_keys=False)


def _primed(database_url: str) -> int:
    import psycopg

    parts = urlsplit(database_url)
    with psycopg.connect(
        host=parts.hostname, port=parts.port, user=parts.username, dbname=parts.path.lstrip("/")
    ) as conn:
        row = conn.execute("SELECT count(*) FROM sources WHERE primed_at IS NOT NULL").fetchone()
    return int(row[0]) if row else 0


@dataclass
class Cluster:
    """A running cluster: the farm, the receiver (its arrivals), the instances and their config."""

    plan: ClusterPlan
    farm: FeedFarm
    hook: Receiver
    arrivals: list[Arrival]
    daemons: list[DaemonProcess]
    database_url: str


@contextlib.asynccontextmanager
async def cluster_up(
    plan: ClusterPlan, workdir: Path, database_url: str, *, quiet: set[int] | None = None
) -> AsyncIterator[Cluster]:
    """Start the farm (its ``quiet`` feeds publish only wire stories), the receiver and
    ``plan.instances`` daemons on ``database_url`` (an empty PostgreSQL database, migrated by
    whichever instance comes first); yield once every source is primed (not publishing yet);
    stop them all on the way out. Raises AssertionError when priming takes more than 3
    intervals and a minute."""
    farm = FeedFarm(
        plan.sources,
        seed=plan.seed,
        change_rate=plan.change_rate,
        match_rate=plan.match_rate,
        quiet=quiet or set(),
    )
    arrivals: list[Arrival] = []
    hook = Receiver(on_message=lambda m: arrivals.append(Arrival(time.monotonic(), m)))
    await farm.start()
    await hook.start()
    path = workdir / "cluster.yaml"
    path.write_text(config(plan, farm, hook, database_url))
    daemons = [
        DaemonProcess(path, workdir / f"instance{i}.log", workers=plan.workers) for i in range(plan.instances)
    ]
    try:
        await asyncio.gather(*(d.start(timeout=90) for d in daemons))
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + 3 * plan.interval + 60
        while await loop.run_in_executor(None, _primed, database_url) < plan.sources:
            assert time.monotonic() < deadline, "the sources were not all primed in time"
            await asyncio.sleep(0.5)
        yield Cluster(plan, farm, hook, arrivals, daemons, database_url)
    finally:
        await asyncio.gather(*(d.stop() for d in daemons if d.proc is not None))
        await hook.stop()
        await farm.stop()


async def run_cluster(plan: ClusterPlan, workdir: Path, database_url: str) -> ClusterRun:
    """Start a cluster (:func:`cluster_up`); publish for ``plan.publish`` seconds with the
    kills and restarts of the plan and ``plan.wires`` wire stories; wait (at most
    ``plan.settle``) until every matching story was delivered and a killed instance's
    sources were polled again; stop everything. Bounded: about 15 + 2 intervals + publish +
    settle seconds."""
    wire_pairs = [(2 * w, 2 * w + 1) for w in range(plan.wires)]
    quiet = {f for pair in wire_pairs for f in pair}
    async with cluster_up(plan, workdir, database_url, quiet=quiet) as up:
        farm, daemons = up.farm, up.daemons
        run = ClusterRun(plan, farm, up.arrivals, database_url=database_url)
        try:
            await _play(plan, up, run, wire_pairs)
        finally:
            await asyncio.gather(*(d.stop() for d in daemons if d.proc is not None))
            run.logs = [d.text() for d in daemons]
    return run


async def _play(plan: ClusterPlan, up: Cluster, run: ClusterRun, wire_pairs: list[tuple[int, int]]) -> None:
    farm, daemons = up.farm, up.daemons
    farm.publishing = True
    run.published_from = t0 = time.monotonic()
    events: list[tuple[float, str, int]] = []
    for index, kill_at, restart_at in plan.kills:
        events.append((kill_at, "kill", index))
        if restart_at is not None:
            events.append((restart_at, "start", index))
    for w in range(plan.wires):
        # early enough that both copies are polled (within an interval) while feeds publish
        events.append(((w + 0.5) * (plan.publish - plan.interval) / max(1, plan.wires), "wire", w))
    restarts = []
    for at, what, index in sorted(events):
        await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
        if what == "kill":
            daemons[index].send(signal.SIGKILL)
            run.killed.append((index, time.monotonic()))
            assert daemons[index].proc is not None
            await daemons[index].proc.wait()
        elif what == "start":  # in the background: a start takes seconds, the plan goes on
            restarts.append(asyncio.ensure_future(daemons[index].start(timeout=90)))
        else:
            run.wires[f"w{index}"] = farm.syndicate(list(wire_pairs[index]), f"w{index}")
    await asyncio.gather(*restarts)
    await asyncio.sleep(max(0.0, t0 + plan.publish - time.monotonic()))
    farm.publishing = False
    run.published_until = time.monotonic()

    def delivered() -> bool:
        got = run.copies()
        return all(s.link in got for s in run.expected())

    await wait_for(delivered, timeout=plan.settle, interval=0.2)
    # polling goes on until a killed instance's leases have ended and their sources were
    # polled again: the unpolled check sees them
    last_kill = max((at for _, at, _ in plan.kills), default=0.0)
    until = t0 + last_kill + plan.source_lease + plan.interval + 3.0
    await asyncio.sleep(max(0.0, until - time.monotonic()))
    run.stopped_at = time.monotonic()


# ---------------------------------------------------------------------------- the checks


def double_polls(run: ClusterRun, slack: float) -> list[tuple[int, float]]:
    """(feed, gap) of every two requests for one feed less than ``interval - slack`` apart."""
    out = []
    for feed, times in run.farm.times().items():
        out.extend((feed, b - a) for a, b in itertools.pairwise(times) if b - a < run.plan.interval - slack)
    return out


def unpolled_gaps(run: ClusterRun, bound: float) -> list[tuple[int, float]]:
    """(feed, gap) of every stretch longer than ``bound`` between publishing's start and the
    instances' stop in which a feed was not requested."""
    out = []
    for feed, times in run.farm.times().items():
        before = [t for t in times if t <= run.published_from]
        marks = [before[-1] if before else run.published_from]
        marks += [t for t in times if t > run.published_from] + [run.stopped_at]
        out.extend((feed, b - a) for a, b in itertools.pairwise(marks) if b - a > bound)
    return out


def gap_extremes(run: ClusterRun) -> tuple[float, float]:
    """The shortest and the longest gap between two requests for one feed after publishing started."""
    gaps = [
        b - a
        for times in run.farm.times().values()
        for a, b in itertools.pairwise(times)
        if a >= run.published_from
    ]
    return (min(gaps), max(gaps)) if gaps else (0.0, 0.0)


def lost(run: ClusterRun) -> list[FarmStory]:
    """Matching stories published that no message carried (a wire story: none of its copies)."""
    got = run.copies()
    missing = []
    for story in run.expected():
        links = [c.link for c in run.wires.get(story.wire or "", [])] or [story.link]
        if not any(link in got for link in links):
            missing.append(story)
    return missing


def unwanted(run: ClusterRun) -> list[str]:
    """Links alerted that are not of a matching story the farm published."""
    wanted = {s.link for s in run.farm.published if s.matching}
    return sorted(link for link in run.copies() if link not in wanted)


@dataclass(frozen=True)
class Duplicate:
    """A story delivered more than once: its link, copies, and when the first copy arrived."""

    link: str
    copies: int
    first_at: float


def duplicates(run: ClusterRun) -> list[Duplicate]:
    """Non-wire stories delivered more than once (a wire story is judged by :func:`wire_alerts`)."""
    wires = {c.link for copies in run.wires.values() for c in copies}
    first: dict[str, float] = {}
    for a in run.arrivals:
        for link in a.links:
            first.setdefault(link, a.at)
    return [
        Duplicate(link, n, first[link]) for link, n in run.copies().items() if n > 1 and link not in wires
    ]


def wire_alerts(run: ClusterRun) -> dict[str, int]:
    """Wire story → messages carrying any of its copies."""
    out: dict[str, int] = {}
    for name, copies in run.wires.items():
        links = {c.link for c in copies}
        out[name] = sum(1 for a in run.arrivals if a.links & links)
    return out


_POLL = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO monitor\.poll: poll source=s(\d+) status=(\w+) .* ms=(\d+)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class LoggedPoll:
    """A poll an instance recorded and logged: its start and end (``time.time()``), its status."""

    instance: int
    feed: int
    start: float
    end: float
    status: str


def logged_polls(run: ClusterRun) -> list[LoggedPoll]:
    """Every poll line of every instance's log (a poll cut short by a SIGKILL has none)."""
    out = []
    for index, text in enumerate(run.logs):
        for stamp, feed, status, ms in _POLL.findall(text):
            # the logging module writes local time; the poll started ``ms`` before its line
            end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
            out.append(LoggedPoll(index, int(feed), end - int(ms) / 1000, end, status))
    return sorted(out, key=lambda p: p.start)


def early_polls(run: ClusterRun, tolerance: float = 0.05) -> list[tuple[LoggedPoll, LoggedPoll]]:
    """Pairs of recorded polls of one source that started less than one interval apart
    (``tolerance``: the log's millisecond resolution). A log line is written after the poll's
    commit, so its end is no commit time: two polls' spans may overlap in the logs although
    the second claimed the source after the first was recorded."""
    last: dict[int, LoggedPoll] = {}
    out = []
    for poll in logged_polls(run):
        before = last.get(poll.feed)
        if before is not None and poll.start - before.start < run.plan.interval - tolerance:
            out.append((before, poll))
        last[poll.feed] = poll
    return out


def longest_poll(run: ClusterRun) -> float:
    """The longest recorded poll (seconds): one longer than the lease could have lost its
    source to another instance while it ran."""
    return max((p.end - p.start for p in logged_polls(run)), default=0.0)


def request_delays(run: ClusterRun) -> list[float]:
    """For each request the farm answered during a recorded poll, how long after the poll's
    start it arrived (the poll first waits for its lease and its source's state in the
    instance's database queue: milliseconds on an idle machine, seconds on a loaded one)."""
    polls: dict[int, list[LoggedPoll]] = defaultdict(list)
    for poll in logged_polls(run):
        polls[poll.feed].append(poll)
    out = []
    for r in run.farm.requests:
        inside = [p for p in polls[r.feed] if p.start - 0.01 <= r.wall <= p.end + 0.01]
        if inside:
            out.append(r.wall - inside[-1].start)
    return out


def wire_pollers(run: ClusterRun) -> dict[str, list[set[int]]]:
    """Wire story → for each copy, the instances whose logs record a poll that read it (its
    feed publishes nothing else, so its one changed listing after priming is the wire story)."""
    readers: dict[int, set[int]] = defaultdict(set)
    for poll in logged_polls(run):
        if poll.status == "ok":
            readers[poll.feed].add(poll.instance)
    return {name: [readers[c.feed] for c in copies] for name, copies in run.wires.items()}


def errors_logged(run: ClusterRun) -> list[str]:
    """Log lines of failed polls and of errors, every instance."""
    return [
        line
        for text in run.logs
        for line in text.splitlines()
        if "status=error" in line or " ERROR " in line or "Traceback" in line or "deadlock" in line.lower()
    ]
