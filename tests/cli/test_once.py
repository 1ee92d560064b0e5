"""``newsmonitor once``: its exit status tells a cron job whether every source was polled."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from monitor.cli import main
from monitor.demo.receiver import Receiver
from tests.support.configs import config_data
from tests.support.feeds import story_items
from tests.support.servers import Feed, Site


def write_config(tmp_path: Path, site: Site, receiver: Receiver, sources: list[dict[str, Any]]) -> str:
    """A config file with ``sources`` on ``site``, one rule and ``receiver`` as the notifier."""
    data = config_data(
        tmp_path,
        sources=sources,
        rules=[{"name": "weather", "query": "weather"}],
        notifiers={"chat": receiver.url},
        allow=site.allow,
    )
    path = tmp_path / "nm.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


async def invoke(*args: str) -> Result:
    """Run the CLI in a thread: its own event loop there, while this one serves the test's sites."""
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def test_once_exits_1_when_a_source_failed_unless_told_to_ignore_it(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = Feed(site)
    feed.items = story_items(2, base=site.base + "/news")
    path = write_config(
        tmp_path,
        site,
        receiver,
        [{"name": "good", "feed": feed.url}, {"name": "gone", "feed": site.base + "/missing.xml"}],
    )
    result = await invoke("once", "--config", path)
    assert result.exit_code == 1, result.output
    assert "good: primed, 2 listed" in result.stdout
    assert "gone: error" in result.stdout and "404" in result.stdout
    assert "1 of 2 sources failed: gone" in result.stderr

    result = await invoke("once", "--config", path, "--ignore-source-errors")
    assert result.exit_code == 0, result.output
    assert "1 of 2 sources failed: gone" in result.stderr


async def test_once_exits_0_when_every_source_was_polled(tmp_path: Path, site: Site, receiver: Receiver) -> None:
    feed = Feed(site)
    feed.items = story_items(2, base=site.base + "/news")
    path = write_config(tmp_path, site, receiver, [{"name": "good", "feed": feed.url}])
    result = await invoke("once", "--config", path)
    assert result.exit_code == 0, result.output
    assert "sources failed" not in result.stderr
