"""A topic rule (``about:``) end to end: a local feed server, the daemon with a real SQLite
file and the real embedding model, one alert delivered through apprise to a local json://
receiver, its snippet the story's best sentence with the similarity."""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer

from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from tests.support.configs import make_config
from tests.support.feeds import Item, story_items
from tests.support.servers import Feed

# written for this test (not from any outlet)
MINERALS = Item(
    "Beijing tightens licences for gallium and germanium exports",
    "http://127.0.0.1/world/gallium-licences",
    "g-gallium",
    "China's commerce ministry said exporters of gallium, germanium and several lanthanides will need a licence "
    "from next month. Chip makers in Japan and Europe fear shortages of the critical minerals.",
)
FOOTBALL = Item(
    "Late goal sends Arsenal top of the league",
    "http://127.0.0.1/sport/arsenal",
    "g-arsenal",
    "A header in stoppage time gave Arsenal a 2-1 win over Chelsea on Saturday.",
)


async def run_once(config: object) -> None:
    daemon = Daemon(config, workers=0)  # type: ignore[arg-type]
    try:
        await daemon.run_once()
    finally:
        await daemon.close()


async def test_an_about_rule_alerts_once_with_its_similarity_and_best_sentence(
    tmp_path: Path, httpserver: HTTPServer, receiver: Receiver
) -> None:
    feed = Feed(httpserver)
    feed.items = story_items(2)
    config = make_config(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url, "full_text": False}],
        rules=[
            {"name": "minerals", "about": "export restrictions on critical minerals such as gallium and rare earths"},
            {"name": "china-minerals", "query": "China", "about": "football clubs and their matches"},
        ],
        notifiers={"chat": receiver.url},
        allow=[f"127.0.0.1:{httpserver.port}"],
    )
    await run_once(config)
    assert receiver.messages == []  # the first poll primes
    feed.items = [MINERALS, FOOTBALL, *feed.items]
    await run_once(config)
    assert len(receiver.messages) == 1
    message = receiver.messages[0]
    assert "Beijing tightens licences" in message.title + message.body
    assert "minerals" in message.body and "china-minerals" not in message.body  # its topic does not hold
    assert "Arsenal" not in message.title + message.body
    # the snippet: the similarity, then the sentence closest to the topic, its closest word marked
    assert "> (similarity 0.5" in message.body
    assert "China's commerce ministry said exporters of **gallium**, germanium" in message.body
    await run_once(config)  # nothing new: nothing sent again
    assert len(receiver.messages) == 1
