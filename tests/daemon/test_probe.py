"""``newsmonitor test-source``: one source, once, nothing recorded; ``-v`` explains rejected links."""

from __future__ import annotations

from pathlib import Path

import yaml

from monitor.daemon.probe import run_test_source
from monitor.demo.site import NewsSite
from monitor.demo.stories import STORIES


async def test_test_source_page_by_name_and_by_url(tmp_path: Path) -> None:
    site = NewsSite("Outlet", list(STORIES))
    await site.start()
    try:
        for _ in range(4):
            site.publish_next()
        cfg = tmp_path / "c.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "database": f"sqlite:///{tmp_path}/never-created.db",
                    "allow_networks": [f"127.0.0.1:{site.port}"],
                    "sources": [{"name": "world", "page": f"{site.base}/world/"}],
                }
            )
        )
        out: list[str] = []
        code = await run_test_source(str(cfg), "world", verbose=True, echo=out.append)
        text = "\n".join(out)
        assert code == 0, text
        assert "Britain, Japan agree to deepen defence" in text
        assert "[extracted]" in text and "rare earths" not in text.split("Britain, Japan")[0]
        assert "rejected links" in text and "account page" in text  # /account/login
        assert not (tmp_path / "never-created.db").exists()  # nothing recorded

        out.clear()
        code = await run_test_source(str(cfg), f"{site.base}/feed.xml", verbose=False, echo=out.append)
        assert code == 0 and "4 stories listed" in "\n".join(out)

        out.clear()
        code = await run_test_source(str(cfg), "nosuch", verbose=False, echo=out.append)
        assert code == 2 and "no source named 'nosuch'" in "\n".join(out)
    finally:
        await site.stop()


async def test_test_source_blocked_address_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"sources": [{"name": "x", "feed": "http://127.0.0.1:1/feed.xml"}]}))
    out: list[str] = []
    code = await run_test_source(str(cfg), "x", verbose=False, echo=out.append)
    # the configuration check refuses what the fetcher would refuse, naming the key (issue 11)
    assert code == 2
    said = "\n".join(out)
    assert "sources[0].feed" in said and "blocked" in said and "allow_networks" in said


async def test_url_typed_on_the_command_line_is_allowed_exactly() -> None:
    # no config at all: the host:port the operator typed is allowed, as the demo allows its site
    site = NewsSite("Outlet", list(STORIES))
    await site.start()
    try:
        for _ in range(4):
            site.publish_next()
        out: list[str] = []
        code = await run_test_source(None, f"{site.base}/world/", verbose=False, echo=out.append)
        assert code == 0, "\n".join(out)
        assert "Britain, Japan agree" in "\n".join(out)
    finally:
        await site.stop()


def test_command_line_allow_is_narrow() -> None:
    from monitor.daemon.probe import command_line_allow

    assert command_line_allow("http://127.0.0.1:8080/x") == ["127.0.0.1:8080"]
    assert command_line_allow("http://localhost:81/") == ["127.0.0.1:81", "[::1]:81"]
    assert command_line_allow("https://[::1]/a") == ["[::1]:443"]
    assert command_line_allow("https://news.example.com/a") == []
    assert command_line_allow("http://[broken") == []


async def test_test_source_shows_article_text_by_url_as_by_name(tmp_path: Path) -> None:
    # issue 13: by URL, a section page was polled as a first poll (priming, no article text),
    # so a user could not see the text a rule would be matched against
    site = NewsSite("Outlet", list(STORIES))
    await site.start()
    try:
        for _ in range(2):
            site.publish_next()
        cfg = tmp_path / "c.yaml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "database": f"sqlite:///{tmp_path}/never-created.db",
                    "allow_networks": [f"127.0.0.1:{site.port}"],
                    "sources": [{"name": "world", "page": f"{site.base}/world/"}],
                }
            )
        )
        shown = {}
        for name_or_url in ("world", f"{site.base}/world/"):
            out: list[str] = []
            code = await run_test_source(str(cfg), name_or_url, verbose=False, echo=out.append)
            assert code == 0, "\n".join(out)
            shown[name_or_url] = [line for line in out if line.startswith("  [")]
        by_name, by_url = shown.values()
        assert len(by_name) == 2
        assert all(line.startswith("  [extracted] ") and len(line) > 40 for line in by_name), by_name
        assert by_url == by_name
    finally:
        await site.stop()


async def test_test_source_says_when_a_story_has_no_link(tmp_path: Path) -> None:
    from tests.support.paths import DATA
    from tests.support.servers import Site

    site = await Site().start()
    body = (DATA / "feeds" / "guids-not-urls.xml").read_bytes()
    site.static("/briefs/feed.xml", body.replace(b"https://gazette.example.com", site.base.encode()))
    try:
        out: list[str] = []
        code = await run_test_source(None, f"{site.base}/briefs/feed.xml", verbose=False, echo=out.append)
    finally:
        await site.stop()
    text = "\n".join(out)
    assert code == 0, text
    shown = "* Bridge closed for repairs\n  2026-03-02T08:00:00+00:00  en  (no http link: only the feed text)\n  [feed] The"
    assert shown in text
    assert not any("brief-20260302-001" in seen.path for seen in site.seen)
