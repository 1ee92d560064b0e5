"""HTTPS against a local server with certificates from a local CA (trustme).

Certificates are verified (an unknown CA is a clear ``tls_error`` naming the host), the
client sends the host name (SNI), and ``http.ca_file`` adds a CA to trust, as an intranet
feed or a TLS-inspecting proxy needs.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
import yaml
from aiohttp import web

from monitor.config import ConfigError, load_config
from monitor.daemon.pipeline import PollResult
from monitor.daemon.service import Daemon
from monitor.errors import FetchError
from monitor.fetch.client import HttpClient
from tests.support.feeds import Item, rss
from tests.support.servers import Site


@dataclass
class TLSSite:
    port: int
    ca: trustme.CA
    ca_file: Path
    names: list[str | None] = field(default_factory=list)

    def url(self, host: str, path: str = "/feed.xml") -> str:
        return f"https://{host}:{self.port}{path}"

    @property
    def allow(self) -> list[str]:
        return [f"127.0.0.1:{self.port}"]


@pytest.fixture
async def tls_site(tmp_path: Path) -> AsyncIterator[TLSSite]:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    names: list[str | None] = []
    # records the name the client asks for (SNI) on every handshake
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment,misc,return-value]
    items = [Item("Rare earths deal signed", "https://localhost/news/rare-earths", "g1", "About rare earths.")]

    async def feed(_: web.Request) -> web.Response:
        return web.Response(text=rss(items), content_type="application/rss+xml")

    site = await Site(tls=context).start()
    site.route("/feed.xml", feed)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        yield TLSSite(site.port, ca, ca_file, names)
    finally:
        await site.stop()


async def test_unknown_ca_is_a_clear_tls_error(tls_site: TLSSite) -> None:
    async with HttpClient(allow_networks=tls_site.allow) as http:
        with pytest.raises(FetchError) as info:
            await http.get(tls_site.url("localhost"))
    assert info.value.kind == "tls_error"
    assert f"TLS certificate of localhost:{tls_site.port} not valid" in str(info.value)


async def test_ca_file_is_trusted_and_the_host_name_is_sent(tls_site: TLSSite) -> None:
    async with HttpClient(allow_networks=tls_site.allow, ca_file=str(tls_site.ca_file)) as http:
        response = await http.get(tls_site.url("localhost"))
    assert response.status == 200 and b"Rare earths deal signed" in response.body
    assert tls_site.names[-1] == "localhost"


async def test_certificate_for_another_host_is_refused(tls_site: TLSSite, tmp_path: Path) -> None:
    """A valid chain is not enough: the certificate must name the host asked for."""
    other = trustme.CA()
    other_file = tmp_path / "other.pem"
    other.cert_pem.write_to_path(str(other_file))
    async with HttpClient(allow_networks=tls_site.allow, ca_file=str(other_file)) as http:
        with pytest.raises(FetchError, match="not valid"):
            await http.get(tls_site.url("localhost"))


async def poll_once(path: Path, data: dict[str, object]) -> PollResult:
    path.write_text(yaml.safe_dump(data))
    daemon = Daemon(load_config(str(path)), workers=0)
    try:
        [result] = await daemon.run_once(deliver=False)
    finally:
        await daemon.close()
    return result


async def test_daemon_polls_an_https_feed_with_the_configured_ca(tls_site: TLSSite, tmp_path: Path) -> None:
    path = tmp_path / "newsmonitor.yaml"
    data: dict[str, object] = {
        "database": f"sqlite:///{tmp_path}/state.db",
        "allow_networks": tls_site.allow,
        "http": {"ca_file": str(tls_site.ca_file)},
        "defaults": {"notify": ["hook"]},
        "notifiers": {"hook": "json://127.0.0.1:1/x"},
        "sources": [{"name": "intranet", "feed": tls_site.url("localhost"), "full_text": False}],
        "rules": [{"name": "r", "query": '"rare earths"'}],
    }
    result = await poll_once(path, data)
    assert result.status == "primed" and result.listed == 1, result.error  # a first poll primes

    # without the CA the same source fails with a clear error naming the host
    result = await poll_once(path, {**data, "http": {}, "database": f"sqlite:///{tmp_path}/other.db"})
    assert result.status == "error" and "TLS certificate of localhost" in (result.error or "")


def test_ca_file_problems_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    for value, expected in [(str(tmp_path / "missing.pem"), "no such file"),
                            (str(bad), "cannot load CA certificates")]:
        path = tmp_path / "c.yaml"
        path.write_text(f"http:\n  ca_file: {value}\nnotifiers: {{}}\nsources: []\nrules: []\n")
        with pytest.raises(ConfigError) as info:
            load_config(str(path))
        assert any("c.yaml:2:" in p and "http.ca_file" in p and expected in p for p in info.value.problems), \
            info.value.problems
