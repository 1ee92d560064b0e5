"""``check`` says what cannot work, and ``check --online`` what each source lists."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.demo.receiver import Receiver
from tests.support.configs import config_data
from tests.support.feeds import rss, story_items
from tests.support.process import newsmonitor
from tests.support.servers import Site
from tests.support.yamlbombs import HOSTILE_FILES, LOAD_MEMORY


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


# ---------------------------------------------------------------------------- what check says


def test_an_empty_file_is_not_ok(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# to do\n")
    code, out = run("check", "--config", str(path))
    assert code == 2
    assert f"{path}:1:1: the file is empty" in out and "OK" not in out


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(("text", "says"), [c[1:] for c in HOSTILE_FILES], ids=[c[0] for c in HOSTILE_FILES])
async def test_a_hostile_file_is_one_problem_at_its_line_and_exit_2(
    tmp_path: Path, command: str, text: str, says: str
) -> None:
    """Issue 12: a 442-byte alias bomb ran out of memory (a traceback, exit 1), 388 bytes took
    15 s and 1.7 GB; deep nesting and a NUL byte were tracebacks too."""
    path = tmp_path / "nm.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = await newsmonitor(command, "--config", str(path), memory=LOAD_MEMORY)
    assert code == 2, err[-3000:]
    assert f"{path}{says}" in err
    assert "Traceback" not in err + out and "Error" not in err


def test_check_names_the_source_the_address_guard_refuses(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("sources:\n  - name: intranet\n    feed: http://10.0.0.7:8080/rss\nrules: []\n")
    code, out = run("check", "--config", str(path))
    assert code == 2
    assert f"{path}:3:11: sources[0].feed: every poll of http://10.0.0.7:8080/rss would fail" in out
    assert 'allow_networks: ["10.0.0.7:8080"]' in out


SECTION = (
    '<html><head><title>World</title><link rel="alternate" type="application/rss+xml" href="/world/rss.xml">'
    "</head><body>"
    + "".join(f'<a href="/world/2026/01/story-{i}-about-lithium">Story {i} about lithium prices</a>' for i in range(6))
    + "</body></html>"
)


async def test_check_online_polls_every_source_once_and_alerts_nobody(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    site.static("/feed.xml", rss(story_items(3, words="lithium")).encode(), headers={"Content-Type": "application/rss+xml"})
    site.static("/world/", SECTION.encode(), headers={"Content-Type": "text/html"})
    data = config_data(
        tmp_path,
        sources=[
            {"name": "wire", "feed": f"{site.base}/feed.xml", "alert_on_first_poll": True},
            {"name": "desk", "page": f"{site.base}/world/", "alert_on_first_poll": True},
            {"name": "gone", "feed": f"{site.base}/gone.xml"},
            {"name": "spare", "feed": f"{site.base}/spare.xml", "enabled": False},
        ],
        rules=[{"name": "li", "query": "lithium"}],
        notifiers={"hook": receiver.url},
        allow=site.allow,
    )
    path = tmp_path / "nm.yaml"
    path.write_text(yaml.safe_dump(data))
    code, out, err = await newsmonitor("check", "--online", "--config", str(path))
    assert code == 1, out + err  # a source failed
    lines = out.splitlines()
    assert lines[0] == f"{path}: OK: 4 sources, 1 rules, 1 notifiers"
    assert lines[1] == f"wire: feed {site.base}/feed.xml: 3 stories listed"
    assert lines[2] == (
        f"desk: page {site.base}/world/: 6 article links listed; "
        f"the page advertises a feed: {site.base}/world/rss.xml"
    )
    assert lines[3].startswith(f"gone: feed {site.base}/gone.xml: FAILED: http_status: HTTP 404")
    assert len(lines) == 4  # the disabled source is not polled
    assert "poll failed" not in err  # each failure is said once, on its line
    assert sorted(s.path for s in site.seen if s.path != "/robots.txt") == [
        "/feed.xml", "/gone.xml", "/world/", "/world/",  # no article was fetched
    ]
    await asyncio.sleep(0.2)
    assert receiver.messages == []
    assert not (tmp_path / "state.db").exists()

