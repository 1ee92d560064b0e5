"""Credentials in a source's URL never reach the stories it lists: a relative link resolved
against ``https://user:pass@host/feed`` is the story's address without them."""

from __future__ import annotations

from pathlib import Path

from monitor.config import parse_settings
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from tests.support.servers import Site

PASS = "canaryfeedpass71"


async def test_relative_story_links_of_a_source_with_credentials_carry_none(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    item = (
        "<item><title>Lithium mine opens</title><link>/news/lithium-{n}</link><guid>g{n}</guid>"
        "<description>A lithium mine opened today near the coast, officials said.</description></item>"
    )
    feed = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    site.static("/feed.xml", feed.format(items=item.format(n=1)).encode(), headers={"Content-Type": "application/rss+xml"})
    page = (
        '<html><body><main><a href="/world/2026/12/01/lithium-exports-rise-sharply-{n}">'
        "Lithium exports rise sharply in the north {n}</a></main></body></html>"
    )
    article = (
        "<html><head><title>Lithium exports rise</title></head><body><article><h1>Lithium exports rise</h1>"
        + "<p>Lithium exports rose sharply this month, the ministry said in a statement on Monday.</p>" * 8
        + "</article></body></html>"
    )
    site.static("/world/", page.format(n=1).encode(), headers={"Content-Type": "text/html"})
    html = {"Content-Type": "text/html"}
    for n in (1, 2):
        site.static(f"/world/2026/12/01/lithium-exports-rise-sharply-{n}", article.encode(), headers=html)
        site.static(f"/news/lithium-{n}", article.encode(), headers=html)
    text = f"""
database: sqlite:///{tmp_path}/k.db
allow_networks: ["127.0.0.1"]
notifiers:
  desk: "{receiver.url}"
sources:
  - name: paid-feed
    feed: "http://reader:${{FEED_PASS}}@127.0.0.1:{site.port}/feed.xml"
  - name: paid-page
    page: "http://reader:${{FEED_PASS}}@127.0.0.1:{site.port}/world/"
rules:
  - name: lithium
    query: lithium
    notify: [desk]
"""
    config = parse_settings(text, str(tmp_path / "c.yaml"), env={"FEED_PASS": PASS})
    daemon = Daemon(config, workers=0)
    try:
        await daemon.run_once()  # primes
        site.static("/feed.xml", feed.format(items=item.format(n=2) + item.format(n=1)).encode(),
                    headers={"Content-Type": "application/rss+xml"})
        site.static("/world/", (page.format(n=2) + page.format(n=1)).encode(), headers={"Content-Type": "text/html"})
        await daemon.run_once()
        await daemon.deliverer.drain_once()
    finally:
        await daemon.close()
    bodies = [m.title + m.body for m in receiver.messages]
    assert len(bodies) == 2, bodies
    assert any(f"127.0.0.1:{site.port}/news/lithium-2" in b for b in bodies)
    assert any(f"127.0.0.1:{site.port}/world/2026/12/01/lithium-exports-rise-sharply-2" in b for b in bodies)
    stored = (tmp_path / "k.db").read_bytes()
    for where, output in {"messages": "\n".join(bodies), "database": stored.decode("utf-8", "replace")}.items():
        assert PASS not in output, f"the source's password leaked into the {where}"
        assert "reader:" not in output, f"the source's user name leaked into the {where}"
