"""The dashboard over a stored history the daemon made by polling a local site
(tests/support/history.py): the try box searches it, the rules page counts each rule's
matches in it, the silent (dead) rules included."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from monitor.clock import FakeClock
from monitor.daemon.dashboard import HISTORY_DAYS, RuntimeDashboard
from monitor.daemon.service import Daemon
from monitor.demo.receiver import Receiver
from monitor.web.server import StatusServer, start
from tests.support.history import Seeded, seed_history
from tests.support.servers import Site

TOKEN = "history-dashboard-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
#: the dashboard's "now": an hour after the last poll of the seeded history
NOW = START + timedelta(days=2, hours=1)


@dataclass
class HistoryRig:
    seeded: Seeded
    server: StatusServer

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    async def post(self, path: str, body: dict[str, str]) -> tuple[int, Any]:
        async with aiohttp.ClientSession(headers=BEARER) as http, http.post(self.base + path, json=body) as resp:
            return resp.status, await resp.json()

    async def get(self, path: str) -> str:
        async with aiohttp.ClientSession(headers=BEARER) as http, http.get(self.base + path) as resp:
            assert resp.status == 200, path
            return await resp.text()


@pytest.fixture
async def rig(tmp_path: Path, site: Site, receiver: Receiver) -> AsyncIterator[HistoryRig]:
    seeded = await seed_history(tmp_path, site, receiver, start=START)
    daemon = Daemon(seeded.config, workers=0, clock=FakeClock(NOW))
    server = await start(RuntimeDashboard(daemon.rt), "127.0.0.1:0", token=TOKEN)
    yield HistoryRig(seeded, server)
    await server.stop()
    await daemon.close()


async def test_trying_a_rule_without_text_searches_the_stored_history(rig: HistoryRig) -> None:
    status, found = await rig.post("/api/try", {"query": "tariffs"})
    assert status == 200 and not found["error"]
    # the primed story of day 0 was never matched by the daemon: the history finds it too
    assert [m["title"] for m in found["matches"]] == [
        "Tariffs lifted on grain", "Ministers talk trade", "Tariffs hit car exports", "Tariffs loom over steel",
    ]
    assert (found["searched"], found["matched"]) == (7, 4)
    assert found["scope"].startswith(f"the stored history of {HISTORY_DAYS} days")
    per_day = {d["day"]: d["count"] for d in found["per_day"]}
    assert len(per_day) == HISTORY_DAYS + 1 and sum(per_day.values()) == 4  # every day of the window
    assert [per_day[str(d)] for d in ("2026-03-02", "2026-03-03", "2026-03-04")] == [1, 2, 1]
    newest = found["matches"][0]
    assert newest["source"] == "wire" and newest["seen"] == "2026-03-04 09:30:00 UTC"
    (snippet,) = newest["snippets"][:1]
    assert snippet["text"][slice(*snippet["spans"][0])] == "Tariffs"
    # the article the daemon fetched was kept: its text is searched
    _, court = await rig.post("/api/try", {"query": "magistrates"})
    assert [m["title"] for m in court["matches"]] == ["Man charged over Harbour Road attack"]
    # pasted text still searches the text only; a bad query is still refused
    _, pasted = await rig.post("/api/try", {"query": "tariffs", "text": "No tariffs here, said the minister."})
    assert (pasted["searched"], pasted["matched"], pasted["per_day"]) == (1, 1, [])
    status, bad = await rig.post("/api/try", {"query": "tariffs AND ("})
    assert status == 400 and bad["error"].startswith("invalid query")


async def test_the_try_page_shows_the_history_matches_highlighted_and_per_day(rig: HistoryRig) -> None:
    async with aiohttp.ClientSession(headers=BEARER) as http:
        async with http.get(rig.base + "/try") as resp:
            form = await resp.text()
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form)[1]  # type: ignore[index]
        async with http.post(rig.base + "/try", data={"csrf": csrf, "query": "tariffs", "url": "", "text": ""}) as resp:
            assert resp.status == 200
            page = await resp.text()
    assert f"of the last {HISTORY_DAYS} days" in form
    assert "<b>4</b> of 7 stories matched" in page
    assert "<mark>Tariffs</mark> lifted on grain" in page
    assert re.search(r"<td>2026-03-03</td><td>2</td>", page)
    assert "first seen 2026-03-04 09:30:00 UTC" in page


async def test_the_rules_page_counts_matches_and_shows_the_silent_rules(rig: HistoryRig) -> None:
    rules = {r["name"]: r for r in json.loads(await rig.get("/api/rules"))["rules"]}
    tariffs, courts, silent = rules["tariffs"], rules["courts"], rules["silent"]
    # as the daemon matched: the primed story of day 0 is no match
    assert (tariffs["matches"], tariffs["sent"], tariffs["last_match"]) == (3, 3, "2026-03-04 09:30:00 UTC")
    # its alert to the receiver that answers 401 died: one sent
    assert (courts["matches"], courts["sent"], courts["silent"]) == (1, 1, False)
    assert (silent["matches"], silent["sent"], silent["last_match"], silent["silent"]) == (0, 0, "-", True)
    assert {r["window_days"] for r in rules.values()} == {HISTORY_DAYS}
    page = await rig.get("/rules")
    assert "1 rule matched nothing in them" in page and '<a href="#rule-2">silent</a>' in page
    assert '<tr id="rule-2" class=" silent">' in page and page.count('<span class="badge">no match</span>') == 1


async def test_the_alerts_and_feeds_tell_how_each_alert_ended(rig: HistoryRig) -> None:
    alerts = json.loads(await rig.get("/api/alerts"))["alerts"]
    # newest first: day 2's, then day 1's (written by one poll, in either order)
    assert alerts[0]["title"] == "Tariffs lifted on grain" and len(alerts) == 4
    assert {a["title"] for a in alerts[1:]} == {
        "Man charged over Harbour Road attack", "Ministers talk trade", "Tariffs hit car exports"}
    court = next(a for a in alerts if a["rule"] == "courts")
    # one alert, two destinations: sent to one, dead at the one that answered 401
    outcomes = {(o["target"], o["outcome"]) for o in court["outcomes"]}
    assert outcomes == {("chat", "sent"), ("locked", "dead")}
    dead = next(o for o in court["outcomes"] if o["outcome"] == "dead")
    assert "401" in dead["error"] and dead["at"] == "2026-03-03 09:30:00 UTC"
    assert any(span for s in court["snippets"] for span in s["spans"])  # the snippets as before
    grain = alerts[0]
    assert [(o["target"], o["outcome"]) for o in grain["outcomes"]] == [("chat", "sent")]
    page = await rig.get("/alerts?rule=courts")
    assert re.search(r'class="outcome">(sent to chat; dead at locked|dead at locked; sent to chat)</span>', page)
    assert "locked: HTTP 401" in page and "<mark>" in page
    tariffs = await rig.get("/api/alerts?rule=tariffs")
    assert {o["outcome"] for a in json.loads(tariffs)["alerts"] for o in a["outcomes"]} == {"sent"}
    async with aiohttp.ClientSession(headers=BEARER) as http, http.get(rig.base + "/feeds/rules/courts.atom") as resp:
        atom = await resp.text()
    assert "dead at locked" in atom and "sent to chat" in atom


async def test_one_search_of_the_history_runs_at_a_time(tmp_path: Path, site: Site, receiver: Receiver) -> None:
    seeded = await seed_history(tmp_path, site, receiver, start=START)
    daemon = Daemon(seeded.config, workers=0, clock=FakeClock(NOW))
    board = RuntimeDashboard(daemon.rt)
    try:
        async with board.history_search:  # a search is running
            busy = await board.try_rule("tariffs")
            pasted = await board.try_rule("tariffs", text="No tariffs here.")  # pasted text is not held up
        assert busy.error.startswith("another search of the stored history is running") and busy.matched == 0
        assert not pasted.error and pasted.matched == 1
        done = await board.try_rule("tariffs")
        assert not done.error and (done.searched, done.matched) == (7, 4)
    finally:
        await daemon.close()
