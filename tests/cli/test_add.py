"""``newsmonitor add URL`` against local sites: a feed, a page advertising one, a page
without one; each chosen after a test poll, written keeping the file, and the private-address
guard on every request."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import yaml
from aiohttp import web
from click.testing import CliRunner, Result

from monitor.cli import main
from tests.support.feeds import rss, story_items
from tests.support.servers import Site

RSS = {"Content-Type": "application/rss+xml"}
HTML = {"Content-Type": "text/html; charset=utf-8"}


def links(n: int) -> str:
    return "".join(f'<a href="/world/2026/01/story-{i}-about-lithium">Story {i} about lithium prices</a>' for i in range(n))


def page(head: str = "", body: str = "") -> bytes:
    return f"<!DOCTYPE html><html><head><title>World</title>{head}</head><body>{body}</body></html>".encode()


def config(tmp_path: Path, allow: list[str], extra: str = "") -> Path:
    path = tmp_path / "nm.yaml"
    path.write_text(
        f"# my config\ndatabase: sqlite:///{tmp_path}/state.db\nallow_networks: {allow}\n{extra}"
        "sources:\n  - name: old        # kept\n    feed: https://old.example.org/rss\n"
        "rules:\n  - name: r\n    query: lithium\n",
        encoding="utf-8",
    )
    return path


async def add(*args: str) -> Result:
    # the command runs its own event loop: give it a thread, as a terminal would give it a process
    return await asyncio.to_thread(CliRunner().invoke, main, ["add", *args])


def sources(path: Path) -> list[dict[str, object]]:
    return list(yaml.safe_load(path.read_text())["sources"])


async def test_a_page_advertising_a_feed_adds_the_feed(tmp_path: Path, site: Site) -> None:
    site.static(
        "/world/",
        page(
            '<link rel="alternate" type="application/rss+xml" title="World" href="/world/rss.xml">'
            '<link rel="alternate" type="application/rss+xml" title="Comments" href="/comments/feed/">',
            links(4),
        ),
        headers=HTML,
    )
    site.static("/world/rss.xml", rss(story_items(3)).encode(), headers=RSS)
    path = config(tmp_path, site.allow)
    result = await add("--config", str(path), f"{site.base}/world/", "--tag", "world")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        f"{site.base}/world/: a web page advertising 2 feeds",
        f"  feed {site.base}/world/rss.xml: 3 stories listed",
        f"+ 127-0-0-1: feed {site.base}/world/rss.xml",
    ]
    assert sources(path)[-1] == {"name": "127-0-0-1", "feed": f"{site.base}/world/rss.xml", "tags": ["world"]}
    assert "  - name: old        # kept" in path.read_text()
    # the comments feed was never needed, so never fetched; the test poll recorded nothing
    assert [s.path for s in site.seen if s.path.startswith("/comments")] == []
    assert not (tmp_path / "state.db").exists()
    check = await asyncio.to_thread(CliRunner().invoke, main, ["check", "--config", str(path)])
    assert check.exit_code == 0 and "OK: 2 sources" in check.output, check.output


async def test_a_page_without_a_feed_is_followed_as_a_page(tmp_path: Path, site: Site) -> None:
    site.static("/world/", page(body=links(5)), headers=HTML)
    path = config(tmp_path, site.allow)
    result = await add("--config", str(path), "--name", "star-world", f"{site.base}/world/")
    assert result.exit_code == 0, result.output
    assert f"{site.base}/world/: a web page advertising 0 feeds" in result.output
    assert f"  page {site.base}/world/: 5 article links listed" in result.output
    assert sources(path)[-1] == {"name": "star-world", "page": f"{site.base}/world/"}


async def test_a_broken_advertised_feed_falls_through_to_the_next(tmp_path: Path, site: Site) -> None:
    site.static(
        "/world/",
        page('<link rel="alternate" type="application/atom+xml" href="/gone.xml">', links(3)),
        headers=HTML,
    )
    path = config(tmp_path, site.allow)
    result = await add("--config", str(path), f"{site.base}/world/")
    assert result.exit_code == 0, result.output
    assert f"  feed {site.base}/gone.xml: FAILED: http_status: HTTP 404" in result.output
    assert f"  page {site.base}/world/: 3 article links listed" in result.output
    assert list(sources(path)[-1]) == ["name", "page"]


async def test_a_feed_url_is_added_as_a_feed(tmp_path: Path, site: Site) -> None:
    site.static("/rss", rss(story_items(2)).encode(), headers=RSS)
    path = config(tmp_path, site.allow)
    result = await add("--config", str(path), f"{site.base}/rss", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"  feed {site.base}/rss: 2 stories listed",
        f"+ 127-0-0-1: feed {site.base}/rss",
        f"dry run: {path} unchanged",
    ]
    assert len(sources(path)) == 1
    result = await add("--config", str(path), f"{site.base}/rss")
    assert result.exit_code == 0 and sources(path)[-1]["feed"] == f"{site.base}/rss"
    # the same address again, even spelt https with a trailing slash: nothing added
    again = await add("--config", str(path), f"{site.base}/rss/".replace("http://", "https://"))
    assert again.exit_code == 0
    assert again.output == f"{site.base}/rss/".replace("http://", "https://") + (
        " is already configured as source '127-0-0-1'; nothing added\n"
    )


async def test_an_advertised_feed_already_configured_adds_nothing(tmp_path: Path, site: Site) -> None:
    advert = '<link rel="alternate" type="application/rss+xml" href="https://old.example.org/rss">'
    site.static("/world/", page(advert), headers=HTML)
    path = config(tmp_path, site.allow)
    before = path.read_text()
    result = await add("--config", str(path), f"{site.base}/world/")
    assert result.exit_code == 0
    assert "is already configured as source 'old'; nothing added" in result.output
    assert path.read_text() == before


async def test_a_private_address_is_refused_without_a_request(tmp_path: Path, site: Site) -> None:
    site.static("/rss", rss(story_items(2)).encode(), headers=RSS)
    path = config(tmp_path, [])
    before = path.read_text()
    result = await add("--config", str(path), f"{site.base}/rss")
    assert result.exit_code == 1
    assert "blocked address 127.0.0.1" in result.stderr
    assert f'(allow_networks: ["127.0.0.1:{site.port}"], at the top level of the file)' in result.stderr
    assert result.stderr.rstrip().endswith("nothing added")
    assert site.seen == [] and path.read_text() == before


async def test_a_feed_the_page_advertises_elsewhere_is_guarded_too(tmp_path: Path, site: Site, other_site: Site) -> None:
    # the page is allowed; the feed it names sits on another local port that is not
    other_site.static("/rss", rss(story_items(2)).encode(), headers=RSS)
    site.static(
        "/world/",
        page(f'<link rel="alternate" type="application/rss+xml" href="{other_site.base}/rss">', links(2)),
        headers=HTML,
    )
    path = config(tmp_path, site.allow)
    result = await add("--config", str(path), f"{site.base}/world/")
    assert result.exit_code == 0, result.output
    assert f"  feed {other_site.base}/rss: FAILED: blocked_address" in result.output
    assert other_site.seen == []
    assert list(sources(path)[-1]) == ["name", "page"]


async def test_nothing_that_polls_is_exit_1_and_changes_nothing(tmp_path: Path, site: Site) -> None:
    site.static("/api", b'{"not": "a feed"}', headers={"Content-Type": "application/json"})
    path = config(tmp_path, site.allow)
    before = path.read_text()
    for url in (f"{site.base}/api", f"{site.base}/missing", "ftp://example.org/feed"):
        result = await add("--config", str(path), url)
        assert result.exit_code == 1, (url, result.output)
        assert result.stderr.startswith(f"newsmonitor: {url}: ") and result.stderr.rstrip().endswith("nothing added")
    assert path.read_text() == before


async def test_names_are_made_unique_and_a_taken_name_is_refused(tmp_path: Path, site: Site) -> None:
    site.static("/a/rss", rss(story_items(1)).encode(), headers=RSS)
    site.static("/b/rss", rss(story_items(1)).encode(), headers=RSS)
    path = config(tmp_path, site.allow)
    assert (await add("--config", str(path), f"{site.base}/a/rss")).exit_code == 0
    assert (await add("--config", str(path), f"{site.base}/b/rss")).exit_code == 0
    assert [s["name"] for s in sources(path)] == ["old", "127-0-0-1", "127-0-0-1-b"]
    taken = await add("--config", str(path), "--name", "old", f"{site.base}/a/rss")
    assert taken.exit_code == 2 and "a source named 'old' exists already" in taken.stderr


async def test_add_as_a_real_process(tmp_path: Path, site: Site) -> None:
    site.static("/world/", page('<link rel="alternate" type="application/atom+xml" href="feed.atom">'), headers=HTML)
    atom = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>x</id>'
        "<updated>2026-01-01T00:00:00Z</updated><entry><title>Lithium</title><id>e1</id>"
        f'<link href="{site.base}/world/2026/01/lithium"/><updated>2026-01-01T00:00:00Z</updated></entry></feed>'
    )
    site.static("/world/feed.atom", atom.encode(), headers={"Content-Type": "application/atom+xml"})
    path = config(tmp_path, site.allow)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "add", f"{site.base}/world/", "--config", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert f"  feed {site.base}/world/feed.atom: 1 stories listed" in out.decode()
    assert sources(path)[-1] == {"name": "127-0-0-1", "feed": f"{site.base}/world/feed.atom"}


async def test_a_redirect_to_an_address_not_allowed_is_refused(tmp_path: Path, site: Site, other_site: Site) -> None:
    other_site.static("/rss", rss(story_items(2)).encode(), headers=RSS)

    async def moved(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{other_site.base}/rss")

    site.route("/feed", moved)
    path = config(tmp_path, site.allow)
    before = path.read_text()
    result = await add("--config", str(path), f"{site.base}/feed")
    assert result.exit_code == 1
    assert "blocked" in result.stderr and "nothing added" in result.stderr
    assert other_site.seen == [] and path.read_text() == before
