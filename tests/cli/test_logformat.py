"""``--log-format json``: one JSON object per line that a collector can parse, secrets masked."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from monitor.logformat import JsonFormatter, LogFormat, message_fields, set_log_format
from monitor.redact import install_logging, register_secret
from tests.support.feeds import story_items
from tests.support.servers import Feed, Site

CANARIES = {
    "HOOK_TOKEN": "canaryjsonhook41c9",
    "FEED_PASS": "canaryjsonfeed7d2e",
    "API_KEY": "canaryjsonapi90ab",
}


async def _newsmonitor(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, **env},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _config(tmp_path: Path, site: Site, feed: Feed) -> Path:
    path = tmp_path / "nm.yaml"
    path.write_text(
        f"""
database: sqlite:///{tmp_path}/state.db
allow_networks: ["{site.allow[0]}", "127.0.0.1:1"]
delivery: {{timeout: 2s}}
defaults: {{notify: [hook]}}
notifiers:
  hook: "json://user:${{HOOK_TOKEN}}@127.0.0.1:1/hook?token=${{HOOK_TOKEN}}"
sources:
  - name: wire
    feed: {feed.url}
    alert_on_first_poll: true
  - name: paid-wire
    feed: "http://reader:${{FEED_PASS}}@{site.allow[0]}/paid.xml"
    headers: {{X-Api-Key: "${{API_KEY}}"}}
rules:
  - name: everything
    query: story
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("where", ["group", "command", "environment"])
async def test_json_logs_parse_line_by_line_and_hold_no_secret(tmp_path: Path, site: Site, where: str) -> None:
    feed = Feed(site, "/feed.xml")
    feed.items = story_items(2)
    site.static("/paid.xml", b"denied", status=401)
    path = _config(tmp_path, site, feed)
    env = dict(CANARIES)
    args = {
        "group": ["--log-format", "json", "once", "-vv", "--workers", "0"],
        "command": ["once", "--log-format", "json", "-vv", "--workers", "0"],
        "environment": ["once", "-vv", "--workers", "0"],
    }[where]
    if where == "environment":
        env["NEWSMONITOR_LOG_FORMAT"] = "json"
    code, out, err = await _newsmonitor(*args, "--config", str(path), env=env)
    assert code == 1, err  # paid-wire failed (401): cron would hear of it
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    others = [line for line in err.splitlines() if not line.startswith("{")]
    # the only lines that are not JSON are the command's own summary, never a log record
    assert others == ["newsmonitor: 1 of 2 sources failed: paid-wire"], err
    polls = [line for line in lines if line["message"].startswith("poll ")]
    assert {p["source"] for p in polls} == {"wire", "paid-wire"}
    wire = next(p for p in polls if p["source"] == "wire")
    assert wire["status"] == "ok" and wire["listed"] == 2 and isinstance(wire["ms"], int)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    # the failed delivery was logged too (its URL holds a canary)
    assert any(line["level"] in {"WARNING", "ERROR"} and "hook" in line["message"] for line in lines), err
    for name, value in CANARIES.items():
        assert value not in err and value not in out, f"{name} leaked"


def test_an_unknown_log_format_is_a_usage_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from monitor.cli import main

    result = CliRunner().invoke(main, ["--log-format", "xml", "check"])
    assert result.exit_code == 2
    assert "'xml' is not one of 'text', 'json'" in result.output


def test_the_json_formatter_masks_exceptions_and_stacks() -> None:
    register_secret("canarystack55e1")
    stream = io.StringIO()
    set_log_format(LogFormat.JSON)
    try:
        install_logging(logging.INFO, stream=stream)
        log = logging.getLogger("test.json")
        try:
            raise RuntimeError("failed near canarystack55e1")
        except RuntimeError:
            log.exception("send to %s failed status=%d", "json://canarystack55e1@h/x", 500)
        log.warning("from here canarystack55e1", stack_info=True)
        log.info("quoted error=%r count=%d", "it's canarystack55e1 and 'more'", 3)
    finally:
        set_log_format(LogFormat.TEXT)
        install_logging(logging.WARNING)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(records) == 3
    assert "canarystack55e1" not in stream.getvalue()
    assert "RuntimeError" in records[0]["exception"] and records[0]["status"] == 500
    assert "stack" in records[1]
    assert records[2]["count"] == 3 and records[2]["level"] == "INFO" and records[2]["logger"] == "test.json"


@pytest.mark.parametrize(
    ("message", "fields"),
    [
        ("poll source=wire status=ok listed=3 new=1", {"source": "wire", "status": "ok", "listed": 3, "new": 1}),
        ("error='a b c' x=1", {"error": "a b c", "x": 1}),
        ('note="quoted \\" inside" n=-2', {"note": 'quoted \\" inside', "n": -2}),
        ("a url http://h/x?a=1&b=2 stays", {}),
        ("level=spoofed message=spoofed", {"level": "spoofed", "message": "spoofed"}),
        ("no fields at all", {}),
    ],
)
def test_message_fields(message: str, fields: dict[str, object]) -> None:
    assert message_fields(message) == fields


def test_reserved_names_are_not_overwritten_by_fields() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "level=spoofed logger=spoofed", None, None)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "INFO" and line["logger"] == "x" and line["message"] == "level=spoofed logger=spoofed"
