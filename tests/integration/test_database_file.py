"""The daemon's database file under faults (issue 12), with real processes: a second daemon on
the same file by another path is refused, and a database directory deleted under the running
daemon is put back with its pending alerts, which a restarted daemon delivers."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from monitor.demo.receiver import Receiver
from tests.support.configs import config_data
from tests.support.feeds import Item, story_items
from tests.support.process import DaemonProcess, newsmonitor
from tests.support.servers import Feed, Site
from tests.support.waiting import wait_for

#: two stories of the rule's that are not copies of one story (they would be one alert)
FRESH = [
    Item("China's rare earths exports fall sharply", "http://127.0.0.1/news/exports", "g-exports",
         "Exports of rare earths fell by a third."),
    Item("Swedish miner finds a rare earths deposit", "http://127.0.0.1/news/kiruna", "g-kiruna",
         "The deposit of rare earths lies near Kiruna."),
]


def write_config(path: Path, database: Path, feed: Feed, site: Site, receiver: Receiver) -> Path:
    data = config_data(
        path.parent,
        sources=[{"name": "wire", "feed": feed.url, "full_text": False}],
        rules=[{"name": "rare-earths", "query": '"rare earths"'}],
        notifiers={"hook": receiver.url},
        allow=site.allow,
        extra=f"database: 'sqlite:///{database}'",
    )
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def test_a_second_daemon_on_the_same_file_by_a_symlink_is_refused(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = Feed(site)
    database = tmp_path / "data" / "nm.db"
    first = DaemonProcess(write_config(tmp_path / "a.yaml", database, feed, site, receiver), tmp_path / "a.log")
    await first.start()
    try:
        (tmp_path / "other.db").symlink_to(database)
        second = write_config(tmp_path / "b.yaml", tmp_path / "other.db", feed, site, receiver)
        code, _, err = await newsmonitor("run", "--workers", "0", "--config", str(second), timeout=60)
        assert code == 1, err[-3000:]
        assert f"another newsmonitor daemon (pid {first.pid}) is already using the database" in err
        assert f"{tmp_path / 'other.db'} (the file {database})" in err
        assert first.alive()
    finally:
        assert await first.stop() == 0


async def test_a_deleted_database_directory_is_put_back_and_its_pending_alerts_delivered(
    tmp_path: Path, site: Site, receiver: Receiver
) -> None:
    feed = Feed(site)
    feed.items = story_items(3)
    receiver.fail_with = 503  # the alerts stay pending
    data = tmp_path / "data"
    config = write_config(tmp_path / "nm.yaml", data / "nm.db", feed, site, receiver)
    daemon = await DaemonProcess(config, tmp_path / "daemon.log").start()
    try:
        assert await wait_for(lambda: feed.hits >= 2, 30)  # the first poll primed
        feed.items = [*FRESH, *feed.items]
        assert await daemon.logged("new=2 alerts=2", 30)
        assert await wait_for(lambda: receiver.attempts >= 1, 30)  # sending failed: they are pending
        shutil.rmtree(data)
        assert await daemon.logged("was deleted while the daemon ran; it is restored", 30), daemon.text()[-3000:]
        assert "ERROR monitor.store: the database file" in daemon.text()
        assert (data / "nm.db").exists()
        assert await daemon.logged("health: The database file", 30)  # the notice is in the outbox
    finally:
        assert await daemon.stop() == 0, daemon.text()[-3000:]

    receiver.fail_with = None
    daemon = await DaemonProcess(config, tmp_path / "daemon.log").start()
    try:
        def told() -> str:
            return "\n".join(m.title + m.body for m in receiver.messages)

        assert await wait_for(lambda: all(item.title in told() for item in FRESH), 60), told()
        assert await wait_for(lambda: "was deleted while the daemon ran" in told(), 60), told()
    finally:
        assert await daemon.stop() == 0, daemon.text()[-3000:]
