"""A story's language, as ``lang:`` rules and inflections see it: declared by the feed or the
page, or detected from the text (issue 13)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.daemon.pipeline import PollResult
from monitor.daemon.service import Daemon
from tests.support.configs import make_config
from tests.support.feeds import Item, rss
from tests.support.paths import DATA, need_corpus
from tests.support.servers import Site

RULES = [
    {"name": "de", "query": "lang:de Sanktion"},
    {"name": "de-word", "query": "Sanktion"},  # "Sanktionen" only through German inflections
    {"name": "fr", "query": "lang:fr élection"},
    {"name": "fr-word", "query": "élection"},
    {"name": "ko", "query": "lang:ko"},
    {"name": "fr-titles", "query": "lang:fr Pogačar"},
    {"name": "patientenakte", "query": "lang:de Patientenakte"},
    {"name": "zh", "query": "lang:zh 合作"},
]


async def _poll(tmp_path: Path, items: list[Item], *, feed_language: str | None = None,
                pages: dict[str, bytes] | None = None, full_text: bool = False) -> PollResult:
    """One poll (alerting on the first) of a feed listing ``items`` (their links are paths on
    the local site, ``pages`` the articles there), with a ``<language>`` or none."""
    site = await Site().start()
    # dated now: the articles' own dates are old, and max_age would drop their stories
    listed = [Item(i.title, site.base + i.link, i.guid, i.description, datetime.now(UTC)) for i in items]
    feed = rss(listed)
    if feed_language is not None:
        feed = feed.replace("<channel>", f"<channel><language>{feed_language}</language>", 1)
    site.static("/feed.xml", feed.encode(), headers={"Content-Type": "application/rss+xml"})
    for path, body in (pages or {}).items():
        site.static(path, body, headers={"Content-Type": "text/html; charset=utf-8"})
    config = make_config(
        tmp_path,
        sources=[{"name": "src", "feed": f"{site.base}/feed.xml", "alert_on_first_poll": True,
                  "robots": False, "full_text": full_text}],
        rules=RULES,
        notifiers={"chat": "json://127.0.0.1:9/hook"},  # never called: nothing is delivered
        allow=site.allow,
    )
    try:
        daemon = Daemon(config, workers=0)
        (result,) = await daemon.run_once(record=False, deliver=False)
        await daemon.close()
    finally:
        await site.stop()
    assert result.status == "ok", result.error
    return result


def _rules(result: PollResult) -> dict[str, list[str]]:
    return {story.title: [m.rule for m in matches] for story, matches in result.alerts}


async def test_a_feed_without_a_language_gets_its_texts(tmp_path: Path) -> None:
    """No <language> in the feed: each item's language comes from its title and summary, so
    ``lang:de`` rules and German inflections apply to the German item."""
    items = [
        Item("EU beschließt neue Sanktionen gegen Russland", "/de/1", "1",
             "Die Außenminister der Europäischen Union haben am Montag in Brüssel ein weiteres Paket von "
             "Sanktionen beschlossen. Betroffen sind vor allem Banken und Energieunternehmen."),
        Item("Élections municipales : forte participation", "/fr/1", "2",
             "La participation au premier tour des élections municipales a nettement progressé dimanche "
             "dans les grandes villes, selon le ministère de l'Intérieur."),
    ]
    result = await _poll(tmp_path, items)
    assert {s.title: s.lang for s in result.stories} == {
        "EU beschließt neue Sanktionen gegen Russland": "de",
        "Élections municipales : forte participation": "fr",
    }
    assert _rules(result) == {
        "EU beschließt neue Sanktionen gegen Russland": ["de", "de-word"],
        "Élections municipales : forte participation": ["fr", "fr-word"],
    }


async def test_a_page_declaring_the_wrong_language_gets_its_texts(tmp_path: Path) -> None:
    """A French article on a site whose template says ``lang="en"``: detection is sure, and wins."""
    page = (DATA / "lang" / "fr-article-declared-en.html").read_bytes()
    result = await _poll(tmp_path, [Item("Municipales", "/fr/municipales", "m1", "")],
                         pages={"/fr/municipales": page}, full_text=True)
    (story,) = result.stories
    assert story.text_origin == "extracted"
    assert story.lang == "fr"
    assert _rules(result) == {story.title: ["fr", "fr-word"]}


async def test_titles_only_items_keep_the_feed_language(tmp_path: Path) -> None:
    """A title alone is too short to tell: the feed's declared language stands, even when the
    title looks like another language."""
    items = [Item("Tour de France: Pogačar wins the Alpe d'Huez stage", "/t/1", "t1", "")]
    result = await _poll(tmp_path, items, feed_language="fr-FR")
    (story,) = result.stories
    assert story.lang == "fr-FR"
    assert _rules(result) == {story.title: ["fr-titles"]}


def _corpus_page(name: str) -> bytes:
    index = need_corpus("articles", "index.jsonl")
    for line in index.open(encoding="utf-8"):
        row = json.loads(line)
        if row["id"] == name or row["id"].startswith(name):
            with gzip.open(index.parent / row["file"]) as page:
                return page.read()
    pytest.fail(f"{name} is not in the corpus index")


@pytest.mark.corpus
@pytest.mark.parametrize(("page", "lang", "rule"), [
    # newspaper4k's Chinese China Daily page declares no language
    ("newspaper4k:chinese_article_001", "zh", "zh"),
    # a German blog post on a site that declares lang="en" on every page
    ("57b4dafd18cfd0531b69f81e87158648227c673ef159f8d8c87d34e34bdb21f2", "de", "patientenakte"),
])
async def test_corpus_pages_get_the_language_of_their_text(tmp_path: Path, page: str, lang: str, rule: str) -> None:
    result = await _poll(tmp_path, [Item("story", "/story.html", "s1", "")],
                         pages={"/story.html": _corpus_page(page)}, full_text=True)
    (story,) = result.stories
    assert story.lang == lang
    assert rule in [m.rule for _, matches in result.alerts for m in matches]
