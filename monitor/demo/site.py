"""A small local news site for the demo and the tests: an RSS feed, a section page and article pages.

Each :class:`NewsSite` is one outlet on its own 127.0.0.1 port. Stories are published
over time (``publish_next``), so a poller sees new ones appear. Article pages wrap the
story in realistic chrome (navigation, app banner, a "Latest Stories" sidebar, footer),
which extraction must leave out.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from aiohttp import web

from monitor.demo.stories import DemoStory


@dataclass
class Published:
    story: DemoStory
    at: datetime


@dataclass
class NewsSite:
    """One outlet. ``stories`` are published in order by :meth:`publish_next`."""

    name: str
    stories: list[DemoStory]
    style: int = 0
    published: list[Published] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0
    requests: int = 0
    host: str = "127.0.0.1"

    def publish_next(self, now: datetime | None = None) -> DemoStory | None:
        if len(self.published) >= len(self.stories):
            return None
        story = self.stories[len(self.published)]
        self.published.append(Published(story, now or datetime.now(UTC)))
        return story

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def article_path(self, p: Published) -> str:
        d = p.at
        return f"/{p.story.section}/{d:%Y/%m/%d}/{p.story.slug}"

    # ------------------------------------------------------------------ pages

    def _chrome(self, title: str, main: str) -> str:
        latest = "".join(
            f'<li><a href="{self.article_path(p)}">{html.escape(p.story.title)}</a></li>'
            for p in reversed(self.published[-6:])
        )
        nav = "".join(
            f'<a href="/{s}/">{s.title()}</a> ' for s in ("world", "business", "local", "sport", "lifestyle")
        )
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | {html.escape(self.name)}</title>
<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>
<body class="style-{self.style}">
<header><div class="logo"><a href="/">{html.escape(self.name)}</a></div><nav>{nav}
<a href="/account/login">Log in</a> <a href="/subscribe">Subscribe</a></nav></header>
<div class="app-banner">Get the {html.escape(self.name)} app: breaking news on your phone. Download now.</div>
<div class="page">{main}
<aside class="sidebar"><h3>Latest Stories</h3><ul>{latest}</ul>
<div class="teaser"><h4>Style</h4><p>New capsule wardrobe: ten linen pieces for a coastal summer.</p></div>
</aside></div>
<footer><p>&copy; {datetime.now(UTC).year} {html.escape(self.name)}. All rights reserved.</p>
<a href="/about">About us</a> <a href="/privacy">Privacy</a> <a href="/contact">Contact</a></footer>
</body></html>"""

    def article_html(self, p: Published) -> str:
        """The article in this outlet's own template (five styles, as syndicated copies differ)."""
        paras = list(p.story.paragraphs)
        style = self.style % 5
        if style == 2:
            paras[0] = "TOKYO (AFP) - " + paras[0]
            paras = paras[:-1] if len(paras) > 4 else paras
        if style == 3 and len(paras) > 2:
            paras.insert(2, "ALSO READ: Markets rally as investors weigh the outlook")
        if style == 4:
            paras.append("Copyright AFP. All rights reserved.")
        body = "".join(f"<p>{html.escape(text)}</p>" for text in paras)
        byline = ("By our correspondent, with agencies", "AFP", "Agence France-Presse", "Wire staff", "AFP")[
            style
        ]
        kicker = "<span class='kicker'>WORLD</span> " if style == 4 else ""
        wrapper = ("article-body", "entry-content", "story-text", "td-post-content", "field-body")[style]
        main = f"""<main><article>
<h1>{kicker}{html.escape(p.story.title)}</h1>
<div class="meta"><span class="byline">{byline}</span>
<time datetime="{p.at.isoformat()}">{p.at:%d %B %Y %H:%M}</time></div>
<div class="{wrapper}">{body}</div>
<div class="share">Share this story: Facebook | X | WhatsApp</div>
</article></main>"""
        return self._chrome(p.story.title, main)

    def section_html(self, section: str) -> str:
        items = [p for p in self.published if section in ("", p.story.section) or p.story.wire]
        links = "".join(
            f'<article class="card"><h2><a href="{self.article_path(p)}">{html.escape(p.story.title)}</a></h2>'
            f"<p>{html.escape(p.story.paragraphs[0][:140])}</p></article>"
            for p in reversed(items)
        )
        main = (
            f'<main><h1>{html.escape(section.title() or "Home")}</h1>{links}<a href="?page=2">More</a></main>'
        )
        return self._chrome(section.title() or "Home", main)

    def feed_xml(self) -> str:
        items = []
        for p in reversed(self.published):
            link = self.base + self.article_path(p)
            items.append(
                f"<item><title>{html.escape(p.story.title)}</title><link>{link}?utm_source=rss</link>"
                f'<guid isPermaLink="false">{self.name}-{p.story.slug}</guid>'
                f"<pubDate>{format_datetime(p.at)}</pubDate>"
                f"<description>{html.escape(p.story.paragraphs[0][:160])}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{html.escape(self.name)}</title><link>{self.base}/</link>"
            f"<description>News from {html.escape(self.name)}</description>{''.join(items)}</channel></rss>"
        )

    # ------------------------------------------------------------------ server

    def app(self) -> web.Application:
        app = web.Application()

        async def feed(_: web.Request) -> web.Response:
            self.requests += 1
            return web.Response(text=self.feed_xml(), content_type="application/rss+xml")

        async def section(request: web.Request) -> web.Response:
            self.requests += 1
            return web.Response(
                text=self.section_html(request.match_info.get("section", "")), content_type="text/html"
            )

        async def article(request: web.Request) -> web.Response:
            self.requests += 1
            slug = request.match_info["slug"]
            for p in self.published:
                if p.story.slug == slug:
                    return web.Response(text=self.article_html(p), content_type="text/html")
            raise web.HTTPNotFound()

        async def robots(_: web.Request) -> web.Response:
            return web.Response(text="User-agent: *\nDisallow: /account/\n", content_type="text/plain")

        app.router.add_get("/feed.xml", feed)
        app.router.add_get("/robots.txt", robots)
        app.router.add_get("/", section)
        app.router.add_get("/{section}/", section)
        app.router.add_get("/{section}/{y}/{m}/{d}/{slug}", article)
        return app

    async def start(self, port: int = 0) -> None:
        self.runner = web.AppRunner(self.app(), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, port)
        await site.start()
        self.port = int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def backdate(site: NewsSite, minutes: int) -> None:
    """Move every published story ``minutes`` into the past (tests of max_age)."""
    for p in site.published:
        p.at -= timedelta(minutes=minutes)
