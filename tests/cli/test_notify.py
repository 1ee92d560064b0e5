"""``newsmonitor test-notify``: one message per URL, each with a key of its own, rendered as the daemon would."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.demo.receiver import Receiver
from tests.support.process import newsmonitor
from tests.support.servers import Site
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


#: secrets test-notify is given through the environment, each in another place of a URL
CANARIES = {"HOOK_TOKEN": "hookcanary4f1e9", "SHORT_TOKEN": "ZQ", "PASS": "jqz", "HEADER": "hdrcanary77e"}
#: a token written into the file itself, where a generic webhook's path carries it
LITERAL_TOKEN = "c4n4ry7literal9"


async def test_test_notify_never_prints_a_secret_wherever_it_sits(tmp_path: Path, site: Site) -> None:
    """Issue 12: test-notify printed the token in a webhook's path, and secrets shorter than 4
    characters were never masked."""
    for path in ("/hooks/hookcanary4f1e9", f"/hooks/{LITERAL_TOKEN}/x", "/hooks/ZQ"):
        site.static(path, b"{}", headers={"Content-Type": "application/json"})
    hook = f"json://127.0.0.1:{site.port}/hooks"
    config = tmp_path / "nm.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": f"sqlite:///{tmp_path}/nm.db",
                "notifiers": {
                    "ops": [
                        hook + "/${HOOK_TOKEN}",
                        hook + f"/{LITERAL_TOKEN}/x",
                        f"json://user:${{PASS}}@127.0.0.1:{site.port}/hooks/${{SHORT_TOKEN}}?+X-Api-Key=${{HEADER}}",
                    ]
                },
                "allow_networks": site.allow,
                "sources": [{"name": "wire", "feed": f"{site.base}/feed.xml"}],
                "rules": [{"name": "r", "query": "x"}],
            }
        )
    )
    code, out, err = await newsmonitor("test-notify", "ops", "--config", str(config), env=CANARIES)
    assert code == 0, out + err
    assert len(site.seen) == 3  # each message went out, credentials and all
    assert out.count(": sent (key nm-test-") == 3, out
    assert f"json://127.0.0.1:{site.port}/hooks/***?" in out  # which URL each line is about stays readable
    for secret in [*CANARIES.values(), LITERAL_TOKEN]:
        assert secret not in out + err, secret
