"""A local SMTP server for email deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from tests.support.servers import free_port


@dataclass
class SMTPBox:
    """A local SMTP server (aiosmtpd) that keeps every message it accepts."""

    port: int = 0
    messages: list[Message] = field(default_factory=list)
    controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
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
        """The apprise ``mailto://`` URL that delivers here."""
        return (
            f"mailto://127.0.0.1:{self.port}?to=desk@example.com&from=newsmonitor@example.com&mode=insecure"
        )
