"""The fixtures every test may use, registered once, and the Hypothesis profiles.

The classes behind the fixtures live in :mod:`tests.support`; test modules import from
there, never from each other.

Hypothesis: with ``CI`` set (CI runs with ``CI=true``) the ``ci`` profile is loaded, so
property tests explore the same examples on every run and a failure is reproducible from its
printed blob; locally the default profile explores at random. ``HYPOTHESIS_PROFILE=ci`` (or
``default``) picks a profile by hand.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from monitor.demo.receiver import Receiver
from tests.support.postgres import Postgres, PostgresUnavailable, server
from tests.support.servers import Canary, Site
from tests.support.smtp import SMTPBox

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,  # examples saved by earlier runs would make a run depend on the machine
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],  # a loaded CI machine is slow, not the test
)
_profile = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if "CI" in os.environ else "")
if _profile:
    settings.load_profile(_profile)


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """The PostgreSQL server of the suite (see :mod:`tests.support.postgres`).

    Without one (no ``NEWSMONITOR_TEST_POSTGRES`` and PostgreSQL not installed) the tests that
    need it are skipped with the reason, except in CI (``CI`` set), where that is an error:
    CI installs PostgreSQL, and its half of the suite must never be skipped there.
    """
    try:
        pg = server()
    except PostgresUnavailable as exc:
        if "CI" in os.environ:
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(f"no PostgreSQL server for the PostgreSQL half of the suite: {exc}")
    yield pg
    pg.stop()


@pytest.fixture
def postgres_url(postgres: Postgres) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    url = postgres.new_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of each engine in turn: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/nm.db"
    return str(request.getfixturevalue("postgres_url"))
