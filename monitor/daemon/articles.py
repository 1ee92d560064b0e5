"""A story's full text: build it from a listing entry, follow aggregator links, fetch and extract the article."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from urllib.parse import urlsplit

from monitor.config import SourceSettings
from monitor.daemon.runtime import Runtime
from monitor.errors import HTTPStatusError, MonitorError
from monitor.extract.article import extract_article, with_feed_text
from monitor.extract.language import story_language
from monitor.extract.urls import normalize_url
from monitor.identity.keys import url_key
from monitor.models import STORY_TEXT_LIMIT, Story, clip
from monitor.redact import redact_url
from monitor.sources import Candidate, kind_for

log = logging.getLogger("monitor.poll")


async def build_story(
    rt: Runtime, src: SourceSettings, cand: Candidate, keys: Sequence[str], *, need_text: bool
) -> Story:
    """``cand`` of ``src`` as a :class:`Story` with identity ``keys``: an aggregator link
    followed to the publisher, and the article's text fetched when ``need_text`` and the
    source's ``full_text`` setting ask for it, and its language decided from its final text
    (:func:`~monitor.extract.language.story_language`) unless ``need_text`` is false (a
    priming poll matches nothing). Failures keep the feed's text; never raises for the
    article's problems."""
    story = Story(
        source=src.name,
        url=cand.link or "",  # already normalised by the pipeline
        title=cand.title,
        text=cand.text,
        summary=cand.text,
        guid=cand.guid,
        published=cand.published,
        author=cand.author,
        lang=cand.lang,
        source_tags=tuple(src.tags),
        keys=tuple(keys),
        outlet=src.outlet or src.name,
        text_origin="feed",
    )
    if story.url and (urlsplit(story.url).hostname or "") in rt.redirectors:
        await resolve_redirector(rt, src, story)
    if not need_text:
        return story
    full_text = src.full_text
    kind = kind_for(src.kind)
    if story.url and (kind.always_full_text or full_text is True or (full_text == "auto" and cand.teaser)):
        await fetch_full_text(rt, src, story)
    # the language rules see: the declared one, or the text's (on the CPU thread: ~0.3 ms)
    story.lang = await rt.cpu(story_language, story.lang, story.title, story.text)
    return story


async def resolve_redirector(rt: Runtime, src: SourceSettings, story: Story) -> None:
    """Follow an aggregator or shortener link to the publisher's URL, which becomes the story's first key.

    The aggregator link stays a key too, so the next poll recognises the story without
    following it again. A failure keeps the aggregator link (logged, never fatal).
    """
    try:
        try:
            response = await rt.http.get(story.url, method="HEAD", allow_networks=src.allow_networks)
        except HTTPStatusError as exc:
            if exc.status not in (403, 405, 501):
                raise
            response = await rt.http.get(story.url, allow_networks=src.allow_networks, max_bytes=2 * 2**20)
    except MonitorError as exc:
        log.info("source=%s could not resolve %s: %s", src.name, redact_url(story.url), exc)
        return
    final = normalize_url(response.url)
    key = url_key(final)
    if final and key and key not in story.keys:
        story.url = final
        story.keys = (key, *story.keys)


async def fetch_full_text(rt: Runtime, src: SourceSettings, story: Story) -> None:
    """Fetch the story's article and match on its extracted main text from then on.

    The feed's summary stays in the text unless the article contains all its words
    (:func:`~monitor.extract.article.with_feed_text`), so rules never lose what the feed
    gave. A failed fetch or extraction keeps the feed's title and summary, is logged, and
    never drops the story.
    """
    host = urlsplit(story.url).hostname or ""
    robots = src.robots
    try:
        async with rt.article_limit(host):
            response = await rt.http.get(story.url, allow_networks=src.allow_networks, check_robots=robots)
        article = await rt.pool.run(partial(extract_article, url=response.url), response.body)
    except MonitorError as exc:
        log.warning("source=%s article %s: %s; using the feed's text", src.name, redact_url(story.url), exc)
        story.text_origin = "fallback"
        return
    if article is None or not article.text.strip():
        log.warning(
            "source=%s article %s: no main text found; using the feed's text", src.name, redact_url(story.url)
        )
        story.text_origin = "fallback"
        return
    # the feed's text comes first, so the limit never cuts it
    story.text = clip(with_feed_text(article.text, story.summary), STORY_TEXT_LIMIT)
    if story.text != article.text:
        log.debug(
            "source=%s article %s: the extracted text (%d characters) lacks words of the feed's (%d); "
            "both are matched",
            src.name, redact_url(story.url), len(article.text), len(story.summary),
        )
    story.text_origin = "extracted"
    if article.title and (not story.title or len(story.title) < 8):
        story.title = article.title
    story.published = story.published or article.published
    story.author = story.author or article.author
    story.lang = article.lang or story.lang
    story.canonical_url = article.canonical_url
    extra = [k for k in (url_key(response.url), url_key(article.canonical_url)) if k and k not in story.keys]
    story.keys = (*story.keys, *extra)
