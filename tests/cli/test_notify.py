"""``newsmonitor test-notify``: one message per URL, each with a key of its own, rendered as the daemon would."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.demo.receiver import Receiver
from tests.support.smtp import SMTPBox


async def run_test_notify(config: Path, *args: str) -> tuple[int, str]:
    # in a thread: the receiver answers on this test's event loop
    result = await asyncio.to_thread(CliRunner().invoke, main, ["test-notify", *args, "--config", str(config)])
    return result.exit_code, result.output


async def test_every_test_message_has_its_own_key(tmp_path: Path, receiver: Receiver, smtp: SMTPBox) -> None:
    config = tmp_path / "nm.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/nm.db",
                "notifiers": {"ops": [receiver.url, smtp.url]},
                "allow_networks": ["127.0.0.1:1"],
                "sources": [{"name": "wire", "feed": "http://127.0.0.1:1/feed.xml"}],
                "rules": [{"name": "r", "query": "x"}],
            }
        )
    )
    for _ in range(2):
        code, out = await run_test_notify(config, "ops")
        assert code == 0, out
        assert len(re.findall(r": sent \(key nm-test-[0-9a-f]{16}\)", out)) == 2, out
    hooks = [m.key for m in receiver.messages]
    mails = [str(m["X-Newsmonitor-Key"]) for m in smtp.messages]
    keys = hooks + mails
    assert len(hooks) == len(mails) == 2 and len(set(keys)) == 4, keys  # a deduplicating receiver keeps them all
    assert all(k.startswith("nm-test-") for k in keys)
    for message, key in zip(receiver.messages, hooks, strict=True):
        assert f"id: {key}" in message.body  # the footer names the key the header carries
    # an e-mail goes out as the daemon sends one: HTML with apprise's plain part
    assert {p.get_content_type() for p in smtp.messages[0].walk()} >= {"text/html", "text/plain"}


async def test_an_unknown_notifier_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "nm.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/nm.db",
                "notifiers": {"ops": "json://127.0.0.1:1/hook"},
                "allow_networks": ["127.0.0.1:1"],
                "sources": [{"name": "wire", "feed": "http://127.0.0.1:1/feed.xml"}],
                "rules": [{"name": "r", "query": "x"}],
            }
        )
    )
    code, out = await run_test_notify(config, "chat")
    assert code == 2 and "unknown notifier 'chat'; defined: ops" in out
