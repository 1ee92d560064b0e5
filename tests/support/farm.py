"""A feed farm: many RSS feeds on many loopback addresses, for polling at scale.

The feeds are served from 127.0.0.2 .. 127.0.0.(hosts+1), one or more ports each, so that
per-host limits apply as they would across real sites. Each feed answers a conditional GET
with 304 until it *changes*: a request that names the feed's current ETag makes it publish
a new version (``stories_per_change`` new stories) with probability ``change_rate``, while
:attr:`FeedFarm.publishing` is on. A version therefore only follows one that a poller
recorded (it sent that version's ETag), so no story scrolls off a listing unseen, whatever
a crashed poller missed. A share ``match_rate`` of the new stories mention "rare earths"
(:data:`MATCH_QUERY` matches them); the others do not.

Every story is distinct in link, title and text (random words from a seeded vocabulary), so
syndication clustering never joins two of them, except the *wire stories* added with
:meth:`FeedFarm.syndicate`: one text and title published on several feeds under their own
links, which clustering must join into one alert.

The farm records every request (:attr:`FeedFarm.requests`: feed, time, status) and every
story it published (:attr:`FeedFarm.published`). Used by ``tests/integration/test_cluster.py``,
``benchmarks/cluster.py`` and ``benchmarks/fetch.py``.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.feeds import Item, rss

#: the rule query the matching stories satisfy
MATCH_QUERY = '"rare earths"'
#: where a story's link points: the farm never serves these (no article fetch in farm runs)
STORY_BASE = "http://127.0.0.1/farm"
_LINK = re.compile(r"http://127\.0\.0\.1/farm/[a-z0-9/-]+")


@dataclass(frozen=True, slots=True)
class FarmStory:
    """One story a feed listed: ``wire`` names the wire story it is a copy of (else None)."""

    feed: int
    number: int
    title: str
    link: str
    text: str
    matching: bool
    wire: str | None = None


@dataclass(frozen=True, slots=True)
class FarmRequest:
    """One request the farm answered: the feed, when (``time.monotonic()``; ``wall``:
    ``time.time()``, to compare with the pollers' logs), the status, the ETag it named."""

    feed: int
    at: float
    status: int
    wall: float = 0.0
    etag: str | None = None


def story_links(text: str) -> set[str]:
    """The links of farm stories found in ``text`` (a delivered message's body)."""
    return set(_LINK.findall(text))


def _vocabulary(rng: random.Random, size: int = 4000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    # never "rare" or "earths" by chance: only the matching stories carry them
    return sorted(words - {"rare", "earths", "earth"})


@dataclass
class FeedFarm:
    """``feeds`` RSS feeds at ``/f{n}.xml`` on ``hosts`` loopback addresses (see the module)."""

    feeds: int
    seed: int = 1
    change_rate: float = 0.1
    match_rate: float = 0.3
    stories_per_change: int = 2
    #: stories each feed lists before it publishes anything
    initial: int = 3
    #: stories listed per feed (the newest)
    listing: int = 20
    #: words of each story's text (clustering compares texts of 100 words and more)
    text_words: int = 120
    hosts: int = 20
    ports_per_host: int = 1
    #: whether feeds publish new versions (off: everything answers 304 or the current version)
    publishing: bool = False
    #: feeds that publish only the wire stories given to them (never a random change)
    quiet: set[int] = field(default_factory=set)
    requests: list[FarmRequest] = field(default_factory=list)
    #: every story published after the first version, in order
    published: list[FarmStory] = field(default_factory=list)
    endpoints: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._words = _vocabulary(random.Random(self.seed + 1))
        self._version = [0] * self.feeds
        self._stories: list[list[FarmStory]] = [
            [self._story(f, k, matching=False) for k in range(self.initial)] for f in range(self.feeds)
        ]
        self._next_number = [self.initial] * self.feeds
        self._bodies: dict[int, tuple[int, bytes]] = {}
        self._wire_waiting: list[list[FarmStory]] = [[] for _ in range(self.feeds)]
        self._runners: list[web.AppRunner] = []

    # ------------------------------------------------------------------ stories

    def _text(self, rng: random.Random, matching: bool) -> str:
        words = [rng.choice(self._words) for _ in range(self.text_words)]
        if matching:
            at = rng.randrange(len(words))
            words[at:at] = ["rare", "earths"]
        return " ".join(words).capitalize() + "."

    def _story(self, feed: int, number: int, *, matching: bool) -> FarmStory:
        rng = random.Random(f"{self.seed}:{feed}:{number}")
        text = self._text(rng, matching)
        subject = "rare earths" if matching else " ".join(text.split()[:2])
        return FarmStory(
            feed=feed,
            number=number,
            title=f"Farm story {feed}-{number}: {subject}",
            link=f"{STORY_BASE}/f{feed}/s{number}",
            text=text,
            matching=matching,
        )

    def syndicate(self, feeds: list[int], name: str) -> list[FarmStory]:
        """A wire story published by each of ``feeds`` at its next poll (whatever ``change_rate``):
        one title and text (mentioning rare earths), each feed's own link. Returns the copies."""
        rng = random.Random(f"{self.seed}:wire:{name}")
        text = self._text(rng, True)
        title = f"Wire {name}: rare earths {' '.join(text.split()[:6])}"
        copies = []
        for feed in feeds:
            number = self._next_number[feed]
            self._next_number[feed] += 1
            copy = FarmStory(feed, number, title, f"{STORY_BASE}/f{feed}/s{number}", text, True, wire=name)
            self._wire_waiting[feed].append(copy)
            copies.append(copy)
        return copies

    def _publish(self, feed: int) -> None:
        new = self._wire_waiting[feed]
        self._wire_waiting[feed] = []
        for _ in range(0 if feed in self.quiet else self.stories_per_change):
            number = self._next_number[feed]
            self._next_number[feed] += 1
            new.append(self._story(feed, number, matching=self._rng.random() < self.match_rate))
        self._stories[feed] = (new[::-1] + self._stories[feed])[: self.listing]
        self._version[feed] += 1
        self.published.extend(new)

    def _body(self, feed: int) -> bytes:
        # only each feed's current version is kept: 2 000 feeds of 50 stories are ~80 MB
        version, body = self._bodies.get(feed, (-1, b""))
        if version != self._version[feed]:
            items = [Item(s.title, s.link, s.link, s.text) for s in self._stories[feed]]
            body = rss(items, title=f"Farm feed {feed}").encode()
            self._bodies[feed] = (self._version[feed], body)
        return body

    # ------------------------------------------------------------------ serving

    def _changes(self, feed: int) -> bool:
        # a wire story waiting is published whatever the odds; a quiet feed has nothing else
        return bool(self._wire_waiting[feed]) or (
            feed not in self.quiet and self._rng.random() < self.change_rate
        )

    async def _handle(self, request: web.Request) -> web.Response:
        feed = int(request.match_info["n"])
        if not 0 <= feed < self.feeds:
            return web.Response(status=404)
        etag = f'"{self._version[feed]}"'
        named = request.headers.get("If-None-Match")
        if named == etag and self.publishing and self._changes(feed):
            self._publish(feed)
            etag = f'"{self._version[feed]}"'
        status = 304 if named == etag else 200
        self.requests.append(FarmRequest(feed, time.monotonic(), status, time.time(), named))
        if status == 304:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=self._body(feed), content_type="application/rss+xml", headers={"ETag": etag})

    async def start(self) -> FeedFarm:
        """Listen on every address and port; :meth:`url` is valid afterwards."""
        app = web.Application()
        app.router.add_get("/f{n:[0-9]+}.xml", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        for h in range(self.hosts):
            for _ in range(self.ports_per_host):
                site = web.TCPSite(runner, f"127.0.0.{h + 2}", 0)
                await site.start()
                sock = site._server.sockets[0]  # type: ignore[union-attr]
                self.endpoints.append((f"127.0.0.{h + 2}", int(sock.getsockname()[1])))
        return self

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()

    def url(self, feed: int) -> str:
        host, port = self.endpoints[feed % len(self.endpoints)]
        return f"http://{host}:{port}/f{feed}.xml"

    def polls(self) -> int:
        """Requests answered so far."""
        return len(self.requests)

    def times(self) -> dict[int, list[float]]:
        """Feed → the times of its requests, in order."""
        out: dict[int, list[float]] = {f: [] for f in range(self.feeds)}
        for r in self.requests:
            out[r.feed].append(r.at)
        return out
