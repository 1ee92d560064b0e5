"""The fixtures every test may use, registered once.

The classes behind the fixtures live in :mod:`tests.support`; test modules import from
there, never from each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from monitor.demo.receiver import Receiver
from tests.support.servers import Canary, Site
from tests.support.smtp import SMTPBox


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    """A local HTTP site with no routes yet (see :class:`tests.support.servers.Site`)."""
    s = await Site().start()
    yield s
    await s.stop()


@pytest.fixture
async def other_site() -> AsyncIterator[Site]:
    """A second origin: same address, another port."""
    s = await Site().start()
    yield s
    await s.stop()


@pytest.fixture
def canary() -> Iterator[Canary]:
    """A listener on 127.0.0.1 that must receive no connection (``canary.accepts == 0``)."""
    with Canary() as c:
        yield c


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A local webhook receiver for apprise's ``json://`` (see :mod:`monitor.demo.receiver`)."""
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def smtp() -> Iterator[SMTPBox]:
    """A local SMTP server that keeps every message (``smtp.url`` is its apprise URL)."""
    box = SMTPBox()
    box.start()
    yield box
    box.stop()
