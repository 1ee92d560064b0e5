"""``newsmonitor once``: its exit status tells a cron job whether every source was polled; ``--dry-run``
shows what the rules match now, read-only."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from monitor.cli import main
from monitor.config import load_config
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.store import repo
from monitor.store.db import Database
from tests.support.configs import config_data
from tests.support.feeds import Item, story_items
from tests.support.servers import Canary, Feed, Site
from tests.support.store import v1_database


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


# ---------------------------------------------------------------------------- --dry-run

NOW = datetime.now(UTC)
ARTICLE = (
    "<html><head><title>Storm watch</title></head><body><article><h1>Storm watch</h1>"
    + "<p>Forecasters said the typhoon would reach the coast on Sunday, bringing heavy rain.</p>" * 6
    + "</article></body></html>"
)


def dry_run_site(site: Site) -> Feed:
    """A feed whose stories match the rule ``typhoon`` in different ways, and its article pages."""
    site.static("/news/teaser", ARTICLE.encode(), headers={"Content-Type": "text/html"})
    feed = Feed(site)
    base = site.base + "/news"
    feed.items = [
        Item("Typhoon nears the coast", f"{base}/title", "g-title", "Ports closed.", NOW),
        # the feed gives a teaser without the word: the article, fetched as the daemon would, has it
        Item("Storm watch", f"{base}/teaser", "g-teaser", "Read more.", NOW - timedelta(hours=1)),
        Item("Markets calm", f"{base}/calm", "g-calm", "Nothing about the weather.", NOW),
        Item("Typhoon season review", f"{base}/old", "g-old", "Last month's typhoon.", NOW - timedelta(days=30)),
    ]
    return feed


def dry_run_config(tmp_path: Path, site: Site, receiver: Receiver, feed: Feed, database: Path) -> str:
    data = config_data(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url}],
        rules=[{"name": "storm", "query": "typhoon"}],
        notifiers={"chat": receiver.url},
        allow=site.allow,
    )
    data["database"] = f"sqlite:///{database}"
    path = tmp_path / "nm.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


def digest(*paths: Path) -> list[str | None]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None for p in paths]


async def test_dry_run_on_a_fresh_install_shows_what_would_alert_and_creates_nothing(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = dry_run_site(site)
    database = tmp_path / "state" / "nm.db"
    path = dry_run_config(tmp_path, site, receiver, feed, database)
    result = await invoke("once", "--dry-run", "--config", path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "wire: 4 listed, 3 matching"
    assert f"  would alert if new (to chat): Typhoon nears the coast <{site.base}/news/title>" in lines
    assert f"  would alert if new (to chat): Storm watch <{site.base}/news/teaser>" in lines
    assert f"  older than max_age: Typhoon season review <{site.base}/news/old>" in lines
    assert "Markets calm" not in result.stdout
    assert any(line.startswith("    rule storm: ") and "**typhoon**" in line for line in lines)
    assert "1 would alert if new" not in result.stdout and "2 would alert if new" in result.stdout
    assert "(no database yet: no story has been seen)" in lines
    assert any(s.path == "/news/teaser" for s in site.seen)  # the article was read
    assert not database.exists() and not database.parent.exists()
    assert receiver.messages == []


async def test_dry_run_beside_a_running_daemon_marks_seen_stories_and_writes_nothing(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = dry_run_site(site)
    first, *rest = feed.items
    feed.items = [first]
    database = tmp_path / "nm.db"
    path = dry_run_config(tmp_path, site, receiver, feed, database)
    daemon = Daemon(load_config(path), workers=0)
    try:
        [primed] = await daemon.run_once()  # holds the single-instance lock until closed
        assert primed.status == "primed"
        feed.items = [first, *rest]
        # the data: the database file and its write-ahead log (the -shm file is an index
        # that SQLite readers share; reading may touch it)
        files = [database, database.with_name("nm.db-wal")]
        before = digest(*files)
        result = await invoke("once", "--dry-run", "--config", path)
        assert result.exit_code == 0, result.output
        assert f"  seen already: Typhoon nears the coast <{site.base}/news/title>" in result.stdout
        assert f"  would alert if new (to chat): Storm watch <{site.base}/news/teaser>" in result.stdout
        assert "no database yet" not in result.stdout
        assert digest(*files) == before
        with daemon.rt.store.database.read() as conn:
            assert repo.count_stories(conn) == 1
    finally:
        await daemon.close()
    assert receiver.messages == []
    # and with the daemon stopped
    before = digest(*files)
    result = await invoke("once", "--dry-run", "--config", path)
    assert result.exit_code == 0, result.output
    assert "seen already: Typhoon nears the coast" in result.stdout
    assert digest(*files) == before


async def test_dry_run_never_migrates_an_old_database_and_exits_1_on_a_failed_source(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = dry_run_site(site)
    database = tmp_path / "old.db"
    v1_database(database)
    path = dry_run_config(tmp_path, site, receiver, feed, database)
    data = yaml.safe_load(Path(path).read_text())
    data["sources"].append({"name": "gone", "feed": site.base + "/missing.xml"})
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
    result = await invoke("once", "--dry-run", "--config", path)
    assert result.exit_code == 1, result.output
    assert "would alert if new (to chat): Typhoon nears the coast" in result.stdout
    assert "gone: error (http_status: HTTP 404" in result.stdout
    assert "cannot tell which stories were seen" in result.stdout and "schema version 1" in result.stdout
    assert "1 of 2 sources failed: gone" in result.stderr
    db = Database(f"sqlite:///{database}")
    try:
        assert db.version() == 1
    finally:
        db.close()


async def test_dry_run_goes_on_when_the_database_cannot_be_reached(
    tmp_path: Path, site: Site, receiver: Receiver, canary: Canary
) -> None:
    feed = dry_run_site(site)
    path = dry_run_config(tmp_path, site, receiver, feed, tmp_path / "unused.db")
    data = yaml.safe_load(Path(path).read_text())
    data["database"] = f"postgresql://newsmonitor@127.0.0.1:{canary.port}/news"
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False))
    result = await invoke("once", "--dry-run", "--config", path)
    assert result.exit_code == 0, result.output
    assert "would alert if new (to chat): Typhoon nears the coast" in result.stdout
    assert "(cannot tell which stories were seen: " in result.stdout
    assert "Traceback" not in result.output
