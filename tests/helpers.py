"""Test helpers: RSS documents, configs pointing at local servers, a local SMTP server."""

from __future__ import annotations

import asyncio
import html
import socket
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from monitor.config import Config, parse_settings


@dataclass
class Item:
    title: str
    link: str
    guid: str | None = None
    description: str = ""
    published: datetime | None = None


def rss(items: list[Item], title: str = "Test feed") -> str:
    """An RSS 2.0 document."""
    out = []
    for it in items:
        guid = f'<guid isPermaLink="false">{html.escape(it.guid)}</guid>' if it.guid else ""
        date = f"<pubDate>{format_datetime(it.published)}</pubDate>" if it.published else ""
        out.append(
            f"<item><title>{html.escape(it.title)}</title><link>{html.escape(it.link)}</link>{guid}{date}"
            f"<description>{html.escape(it.description)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{html.escape(title)}</title><link>http://example.test/</link><description>t</description>"
        + "".join(out)
        + "</channel></rss>"
    )


def story_items(n: int, start: int = 0, base: str = "http://127.0.0.1/news", words: str = "") -> list[Item]:
    now = datetime.now(UTC)
    return [
        Item(
            title=f"Story number {i} {words}".strip(),
            link=f"{base}/2026/01/story-{i}",
            guid=f"guid-{i}",
            description=f"Body of story {i}. {words} " + "Filler sentence about the weather. " * 20,
            published=now - timedelta(minutes=i),
        )
        for i in range(start, start + n)
    ]


def make_config(
    tmp_path: Path,
    *,
    sources: list[dict[str, Any]],
    rules: list[dict[str, Any]],
    notifiers: dict[str, Any],
    allow: list[str],
    extra: str = "",
    defaults_notify: list[str] | None = None,
) -> Config:
    """A validated config with a SQLite file in ``tmp_path``."""
    import yaml

    data: dict[str, Any] = {
        "database": f"sqlite:///{tmp_path}/state.db",
        "allow_networks": allow,
        "defaults": {
            "interval": "1s",
            "notify": defaults_notify if defaults_notify is not None else list(notifiers),
        },
        "delivery": {"retry_base": "1s", "retry_cap": "4s", "timeout": "5s"},
        "notifiers": notifiers,
        "sources": sources,
        "rules": rules,
    }
    for key, value in (yaml.safe_load(textwrap.dedent(extra)) or {}).items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    text = yaml.safe_dump(data, sort_keys=False)
    return parse_settings(text, str(tmp_path / "config.yaml"), env={})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SMTPBox:
    """A local SMTP server (aiosmtpd) that keeps every message it accepts."""

    port: int = 0
    messages: list[Any] = field(default_factory=list)
    controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                from email import message_from_bytes

                box.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()

    @property
    def url(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?to=desk@example.com&from=newsmonitor@example.com&mode=insecure"
        )


async def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll ``predicate()`` until true or ``timeout``; bounded, never loops forever."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())
