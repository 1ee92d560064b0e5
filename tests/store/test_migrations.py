"""Schema migrations: a database written by an older newsmonitor upgrades in place and keeps
everything it held; a new database gets every column exactly once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import inspect

from monitor.models import MessageKind, OutboxStatus, Snippet
from monitor.store import history, repo
from monitor.store.db import Database
from monitor.store.migrations import latest
from monitor.store.payload import AlertPayload, NoticePayload, RuleEvidence
from tests.support.store import v1_database

#: the columns v3 added for the health states
HEALTH_COLUMNS = ("last_error_kind", "empty_polls", "last_new_story_at")


def source_columns(db: Database) -> list[str]:
    with db.read() as conn:
        return [c["name"] for c in inspect(conn).get_columns("sources")]


def test_v1_database_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    db = Database(v1_database(tmp_path / "old.db"))
    assert db.version() == 1 and "last_http_status" not in source_columns(db)
    assert db.migrate() == latest()
    assert db.version() == latest() and source_columns(db).count("last_http_status") == 1
    with db.read() as conn:
        states = {s.name: s for s in repo.all_sources(conn)}
        pending = repo.pending_for(conn, "d1", now=1000.0)
        destination = repo.get_destination(conn, "d1")
    # the status of a source failing at the upgrade is read once from its error text
    assert {name: s.last_http_status for name, s in states.items()} == {
        "busy-feed": 503,
        "fine-feed": None,
        "gone-feed": 410,
        "slow-feed": None,
    }
    gone = states["gone-feed"]
    assert (gone.failures, gone.failing_since, gone.polls) == (2, 100.0, 5)
    assert gone.last_error == "http_status: HTTP 410 from https://gone.example/feed.xml"
    # outbox rows written before the payload had a type read back as typed rows
    alert, health = pending
    assert (alert.key, alert.kind, alert.story_id, alert.subject) == ("nm-alert", MessageKind.ALERT, 1, "c1")
    assert alert.payload == AlertPayload(
        title="Chip tariffs rise",
        url="https://news.example/chips",
        source="wire",
        outlet="Wire Service",
        published=1709296200.0,
        rules=(RuleEvidence("chips", (Snippet("Semiconductor tariffs rise.", ((0, 13),)),)),),
    )
    assert health.kind is MessageKind.HEALTH and health.urgent
    assert health.payload == NoticePayload(note="Source 'busy-feed' has failed 3 polls in a row")
    assert destination == repo.DestinationState(
        dest="d1", target="chat", failures=1, blocked_until=160.0, last_error="HTTP 500", sent_log=(120.0, 130.0)
    )
    assert db.migrate() == latest()  # nothing left to do
    db.close()


def test_new_database_has_the_status_column_once(db_url: str) -> None:
    db = Database(db_url)
    assert db.migrate() == latest()
    columns = source_columns(db)
    assert [columns.count(c) for c in ("last_http_status", *HEALTH_COLUMNS)] == [1, 1, 1, 1]
    with db.write() as conn:
        repo.save_source(conn, repo.SourceState(name="s", failures=1, last_http_status=451))
    with db.read() as conn:
        state = repo.get_source(conn, "s")
    assert state is not None and state.last_http_status == 451
    db.close()


def outbox_columns(db: Database) -> list[str]:
    with db.read() as conn:
        return [c["name"] for c in inspect(conn).get_columns("outbox")]


def test_v3_keeps_the_poison_count_apart_from_the_tries(tmp_path: Path) -> None:
    # before v3 ``attempts`` counted only a message's failures on its own: that is the poison count now
    path = tmp_path / "old.db"
    db = Database(v1_database(path))
    with sqlite3.connect(path) as con:
        con.execute("UPDATE outbox SET attempts = 3 WHERE key = 'nm-alert'")
    assert "solo_failures" not in outbox_columns(db)
    assert db.migrate() == latest()
    assert outbox_columns(db).count("solo_failures") == 1
    with db.read() as conn:
        rows = {r.key: r for r in repo.list_outbox(conn, list(OutboxStatus))}
    assert (rows["nm-alert"].attempts, rows["nm-alert"].solo_failures) == (3, 3)
    assert (rows["nm-health"].attempts, rows["nm-health"].solo_failures) == (0, 0)
    db.close()
    fresh = Database(f"sqlite:///{tmp_path}/new.db")
    assert fresh.migrate() == latest() and outbox_columns(fresh).count("solo_failures") == 1
    fresh.close()


def test_v4_adds_the_health_columns_and_forgets_validators_that_may_name_an_unlisted_body(
    tmp_path: Path,
) -> None:
    url = v1_database(tmp_path / "old.db")
    con = sqlite3.connect(tmp_path / "old.db")
    # as v1 wrote them: a source that found stories at 100 and 250, one primed with none,
    # and one whose ETag was stored by a poll whose parse failed (shown ok by the 304s after it)
    con.executescript(
        """
        INSERT INTO sources VALUES('busy-wire','feed','h1',50.0,300.0,300.0,NULL,0,NULL,NULL,
            '"e1"','Mon, 02 Mar 2026 10:00:00 GMT','hash1','[100.0, 250.0, 250.0]','[1]',7,3);
        INSERT INTO sources VALUES('quiet-page','page','h2',70.0,300.0,300.0,NULL,0,NULL,NULL,
            NULL,NULL,'hash2','[]','[]',4,0);
        INSERT INTO sources VALUES('html-feed','feed','h3',60.0,300.0,300.0,NULL,0,NULL,NULL,
            '"front"',NULL,NULL,'[]','[]',9,0);
        """
    )
    con.close()
    db = Database(url)
    assert db.migrate() == latest()
    assert all(c in source_columns(db) for c in HEALTH_COLUMNS)
    with db.read() as conn:
        states = {s.name: s for s in repo.all_sources(conn)}
    db.close()
    # the kind of a failing source's error is read once from its text; a working one has none
    assert {name: s.last_error_kind for name, s in states.items()} == {
        "busy-feed": "http_status",
        "busy-wire": None,
        "fine-feed": None,
        "gone-feed": "http_status",
        "html-feed": None,
        "quiet-page": None,
        "slow-feed": "timeout",
    }
    assert {name: s.last_new_story_at for name, s in states.items() if s.primed_at} == {
        "busy-wire": 250.0,
        "quiet-page": 70.0,
        "html-feed": 60.0,
    }
    assert all(s.empty_polls == 0 for s in states.values())
    assert all((s.etag, s.last_modified, s.content_hash) == (None, None, None) for s in states.values())
    assert states["busy-wire"].listed_ids == [1] and states["busy-wire"].stories_total == 3


def test_v6_remembers_who_lists_each_story_and_keeps_every_key_stored_before(tmp_path: Path) -> None:
    url = v1_database(tmp_path / "old.db")
    con = sqlite3.connect(tmp_path / "old.db")
    # story 1 was recorded by "wire" (in the dump); "fine-feed" lists it too, and story 2 of its own
    con.executescript(
        """
        INSERT INTO stories VALUES(2,'fine-feed','Own story','https://fine.example/2',NULL,150.0,150.0,'c2',NULL,NULL);
        INSERT INTO story_keys VALUES('url://fine.example/2',2);
        INSERT INTO story_keys VALUES('guid:fine-2',2);
        UPDATE sources SET listed_ids = '[1, 2, 77]' WHERE name = 'fine-feed';
        """
    )
    con.close()
    db = Database(url)
    assert db.migrate() == latest()
    with db.read() as conn:
        assert repo.first_listings(conn, "fine-feed", [1, 2]) == {}
        assert repo.first_listings(conn, "gone-feed", [1, 2]) == {
            1: repo.Listers(1, "c1", ("wire", "fine-feed")),
            2: repo.Listers(2, "c2", ("fine-feed",)),
        }
        state = repo.get_source(conn, "fine-feed")
    assert state is not None and state.volatile_params == []
    with db.write() as conn:
        repo.add_keys(conn, 2, ["guid:fine-2b"], now=200.0, max_aliases=0)
    with db.read() as conn:
        assert repo.find_seen(conn, ["url://fine.example/2", "guid:fine-2", "guid:fine-2b"]) == {
            "url://fine.example/2": 2,
            "guid:fine-2": 2,
        }
    assert db.migrate() == latest()  # nothing left to do
    db.close()
    fresh = Database(f"sqlite:///{tmp_path}/new.db")
    assert fresh.migrate() == latest()
    with fresh.write() as conn:
        repo.save_source(conn, repo.SourceState(name="cms", volatile_params=["sid"]))
    with fresh.read() as conn:
        state = repo.get_source(conn, "cms")
    assert state is not None and state.volatile_params == ["sid"]
    fresh.close()


HISTORY_TABLES = ("story_texts", "rule_matches", "alert_history")


def test_v7_fills_the_history_from_the_outbox_rows_it_finds(tmp_path: Path) -> None:
    url = v1_database(tmp_path / "old.db")
    con = sqlite3.connect(tmp_path / "old.db")
    # the dump's pending alert of "chips" on story 1 (written at 150) and health notice, and:
    con.executescript(
        """
        INSERT INTO stories VALUES(2,'daily','Tariff talks','https://daily.example/t',NULL,160.0,160.0,'c2',NULL,NULL);
        INSERT INTO outbox (id, key, kind, rule, target, dest, story_id, cluster, status, urgent, payload,
                            created_at, due_at, next_attempt_at, attempts, first_failed_at, last_error, sent_at)
        VALUES (3, 'nm-sent', 'alert', 'chips', 'chat', 'd1', 1, 'c1', 'sent', 0, '{}', 140.0, 140.0, 140.0, 1,
                NULL, NULL, 141.0),
               (4, 'nm-sent-mail', 'alert', 'chips', 'mail', 'd2', 1, 'c1', 'sent', 0, '{}', 140.0, 140.0, 140.0,
                1, NULL, NULL, 142.0),
               (5, 'nm-dead', 'alert', 'tariffs', 'chat', 'd1', 2, 'c2', 'dead', 0, '{}', 161.0, 161.0, 170.0, 3,
                162.0, 'HTTP 401 (authentication failed)', NULL),
               (6, 'nm-gone', 'alert', 'chips', 'chat', 'd1', 99, 'c9', 'sent', 0, '{}', 90.0, 90.0, 90.0, 1,
                NULL, NULL, 91.0);
        """
    )
    con.close()
    db = Database(url)
    assert db.migrate() == latest()
    with db.read() as conn:
        upgraded = {t: sorted(i["name"] for i in inspect(conn).get_indexes(t)) for t in HISTORY_TABLES}
        activity = history.match_activity(conn, since=0.0, until=1000.0)
        alerts = history.alerts_between(conn, since=0.0, until=1000.0)
        old = history.stories_between(conn, since=0.0, until=1000.0)
    db.close()
    # one match per rule and story (the earliest row's time), only of stories still kept
    assert activity.times == {"chips": [140.0], "tariffs": [161.0]}
    assert activity.sent == {"chips": 3}
    assert [(a.key, a.outcome, a.at, a.error, a.title) for a in alerts] == [
        ("nm-gone", OutboxStatus.SENT, 91.0, None, None),
        ("nm-sent", OutboxStatus.SENT, 141.0, None, "Chip tariffs rise"),
        ("nm-sent-mail", OutboxStatus.SENT, 142.0, None, "Chip tariffs rise"),
        ("nm-dead", OutboxStatus.DEAD, 162.0, "HTTP 401 (authentication failed)", "Tariff talks"),
    ]
    # stories recorded before v7 have no text: a backtest searches their titles
    assert [(s.id, s.text) for s in old] == [(1, None), (2, None)]
    fresh = Database(f"sqlite:///{tmp_path}/new.db")
    assert fresh.migrate() == latest()
    with fresh.read() as conn:
        created = {t: sorted(i["name"] for i in inspect(conn).get_indexes(t)) for t in HISTORY_TABLES}
    fresh.close()
    assert upgraded == created  # the same tables and indexes, upgraded or created new
    assert created["rule_matches"] == ["ix_rule_matches_at", "ix_rule_matches_rule_at"]
