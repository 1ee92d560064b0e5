"""``newsmonitor outbox`` tells what each alert waits for, how often it was tried, and what went out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.clock import FakeClock
from monitor.config import Config
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from tests.support.configs import config_data, make_config
from tests.support.feeds import story_items
from tests.support.servers import Feed, Site, free_port


def configure(tmp_path: Path, **settings: Any) -> tuple[Config, Path]:
    """The config the daemon runs and the file the command reads, both from ``settings``.

    Tests here turn syndication clusters off: the stories of ``story_items`` share their filler text.
    """
    path = tmp_path / "nm.yaml"
    path.write_text(yaml.safe_dump(config_data(tmp_path, **settings), sort_keys=False))
    return make_config(tmp_path, **settings), path


async def cycle(config: Config, clock: FakeClock) -> None:
    daemon = Daemon(config, workers=0, clock=clock)
    try:
        await daemon.run_once()
    finally:
        await daemon.close()


def outbox(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["outbox", *args])
    return result.exit_code, result.output


def lines_of(output: str, target: str) -> list[str]:
    return [line for line in output.splitlines() if re.match(rf"\s*\d+ \w+\s+{target}\s", line)]


async def test_each_alert_says_why_it_waits_and_how_often_it_was_tried(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    quiet_end, digest_at = now + timedelta(hours=2), now + timedelta(hours=3)
    feed = Feed(site)
    feed.items = story_items(1, words="tariffs")
    config, path = configure(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url, "full_text": False}],
        rules=[{"name": "tariffs", "query": "tariffs"}],
        notifiers={
            "night": {
                "urls": ["json://127.0.0.1:1/night"],
                "quiet": f"{now - timedelta(hours=1):%H:%M}-{quiet_end:%H:%M} UTC",
            },
            "morning": {"urls": ["json://127.0.0.1:1/morning"], "digest": f"daily at {digest_at:%H:%M}"},
            "capped": {"urls": [receiver.url], "max_per_hour": 1},
            "down": f"json://127.0.0.1:{free_port()}/hook",  # nothing listens: every send fails
        },
        allow=site.allow,
        extra="delivery: {retry_base: 1h, retry_cap: 2h}\ncluster: {enabled: false}\n",
    )
    clock = FakeClock(now)
    await cycle(config, clock)  # the first poll primes
    feed.items = story_items(3, start=1, words="tariffs") + feed.items
    await cycle(config, clock)
    assert len(receiver.messages) == 1

    code, out = outbox("--config", str(path))
    assert code == 0, out
    assert "TRIES" in out and "DUE" in out and "WAITING" in out
    night = lines_of(out, "night")
    assert len(night) == 3 and all(f"quiet hours until {quiet_end:%H:%M}" in line for line in night)
    assert all(f"{quiet_end:%Y-%m-%d %H:%M} UTC" in line for line in night)  # the due time
    morning = lines_of(out, "morning")
    assert len(morning) == 3 and all(f"digest at {digest_at:%H:%M}" in line for line in morning)
    capped = lines_of(out, "capped")
    freed = now + timedelta(hours=1)
    assert len(capped) == 2 and all(f"throttled (max_per_hour) until {freed:%H:%M}" in line for line in capped)
    down = lines_of(out, "down")
    # two sends failed, so the destination backs off before the third was tried
    tries = [int(line.split()[4]) for line in down]
    assert tries == [1, 1, 0], down
    assert all(re.search(r"backing off until \d\d:\d\d", line) for line in down)
    assert "11 rows" in out


async def test_sent_lists_what_went_out_since_when(tmp_path: Path, site: Site, receiver: Receiver) -> None:
    now = datetime.now(UTC)
    feed = Feed(site)
    feed.items = story_items(1, words="tariffs")
    config, path = configure(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url, "full_text": False}],
        rules=[{"name": "tariffs", "query": "tariffs"}],
        notifiers={"chat": receiver.url},
        allow=site.allow,
        extra="cluster: {enabled: false}\n",
    )
    clock = FakeClock(now - timedelta(hours=3))
    await cycle(config, clock)
    feed.items = story_items(1, start=1, words="tariffs") + feed.items
    await cycle(config, clock)
    clock.set(now)
    feed.items = story_items(1, start=2, words="tariffs") + feed.items
    await cycle(config, clock)
    assert len(receiver.messages) == 2

    code, out = outbox("--sent", "--config", str(path))
    assert code == 0, out
    assert "Story number 1 tariffs" in out and "Story number 2 tariffs" in out
    assert out.index("Story number 1") < out.index("Story number 2")  # oldest first
    (line,) = [line for line in out.splitlines() if "Story number 2" in line]
    assert f"{now:%Y-%m-%d %H:%M} UTC" in line and " chat " in line and line.split()[6] == "1"  # tries
    code, out = outbox("--sent", "--since", "1h", "--config", str(path))
    assert code == 0 and "Story number 2" in out and "Story number 1" not in out and "1 rows" in out
    code, out = outbox("--config", str(path))
    assert code == 0 and "0 rows" in out  # nothing waits

    code, out = outbox("--sent", "--since", "yesterday", "--config", str(path))
    assert code == 2 and "30s, 5m, 1h" in out
    code, out = outbox("--since", "1h", "--config", str(path))
    assert code == 2 and "--since goes with --sent" in out
