"""SSRF guard end to end: canary listeners must receive ZERO connections.

RELIABILITY.md §8 S-1 (literals, odd forms), S-2 (redirects), S-3 (DNS rebinding), S-4
(schemes), S-5 (allow-list precision), S-6 (proxy env), K-5 (credentials on redirect),
N-5 (DNS failures) at the client level. Only 127.0.0.x is ever contacted: names resolve
through a stub resolver, and non-loopback blocked addresses are checked at the resolver
without connecting.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from monitor.errors import BlockedURL, ConnectError, FetchError, FetchTimeout, HTTPStatusError
from monitor.fetch.client import HttpClient
from monitor.fetch.netguard import AddressPolicy, GuardedResolver, current_policy, parse_allow_networks
from tests.support.servers import Canary, Site


class StubResolver(AbstractResolver):
    """Answers from a function of (call number, host); records every query."""

    def __init__(self, answer: Callable[[int, str], list[str]], delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.calls: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.decode() if isinstance(host, bytes) else host  # match str and bytes (ProbOS#1285)
        self.calls.append(name)
        if self.delay:
            await asyncio.sleep(self.delay)
        ips = self.answer(len(self.calls), name)
        if ips == ["NXDOMAIN"]:
            raise OSError(socket.EAI_NONAME, "Name or service not known")
        return [
            {
                "hostname": name,
                "host": ip,
                "port": port,
                "family": socket.AF_INET6 if ":" in ip else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for ip in ips
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
def canary2(site: Site) -> Iterator[Canary]:
    """A canary on 127.0.0.2 at the *same port* as the allowed site (the rebinding target)."""
    with Canary("127.0.0.2", site.port) as c:
        yield c


async def test_loopback_literal_blocked_by_default_with_clear_message(canary: Canary) -> None:
    async with HttpClient() as http:
        with pytest.raises(BlockedURL) as info:
            await http.get(f"http://127.0.0.1:{canary.port}/feed")
    assert str(info.value) == (
        "blocked address 127.0.0.1 for host 127.0.0.1 (loopback); add it to allow_networks to permit"
    )
    assert info.value.kind == "blocked_address" and not info.value.transient
    assert canary.accepts == 0


async def test_name_resolving_to_loopback_message_names_host_and_address(canary: Canary) -> None:
    stub = StubResolver(lambda n, h: ["127.0.0.1"])
    async with HttpClient(resolver=stub) as http:
        with pytest.raises(BlockedURL) as info:
            await http.get(f"http://example.test:{canary.port}/")
    assert str(info.value).startswith("blocked address 127.0.0.1 for host example.test (loopback)")
    assert canary.accepts == 0


ODD_FORMS = [
    "http://2130706433:{port}/",
    "http://0x7f.1:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://127.1:{port}/",
    "http://0x7f000001:{port}/",
    "http://0.0.0.0:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::ffff:7f00:1]:{port}/",
    "http://[64:ff9b::7f00:1]:{port}/",
    "http://[::1]:{port}/",
    "http://[::]:{port}/",
    "http://localhost:{port}/",
    "http://localhost.:{port}/",
    "http://LOCALHOST:{port}/",
    "http://feeds.localhost:{port}/",
    "http://user@127.0.0.1:{port}/",
    "http://feedserver.test@127.0.0.1:{port}/",
    "http://a:b@127.0.0.1:{port}/",
]


@pytest.mark.parametrize("template", ODD_FORMS)
async def test_odd_literal_forms_refused(canary: Canary, template: str) -> None:
    url = template.format(port=canary.port)
    async with HttpClient() as http:
        with pytest.raises(BlockedURL, match="blocked address"):
            await http.get(url)
    assert canary.accepts == 0


@pytest.mark.parametrize(
    "template", ["http://2130706433:{port}/", "http://0x7f.1:{port}/", "http://127.1:{port}/"]
)
async def test_non_canonical_literal_refused_even_when_address_allowed(canary: Canary, template: str) -> None:
    async with HttpClient(allow_networks=[f"127.0.0.1:{canary.port}"]) as http:
        with pytest.raises(BlockedURL, match="non-canonical IP address literal"):
            await http.get(template.format(port=canary.port))
    assert canary.accepts == 0


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("file:///etc/passwd", "file"),
        ("ftp://127.0.0.1/x", "ftp"),
        ("gopher://127.0.0.1:70/_x", "gopher"),
        ("dict://127.0.0.1:11211/stat", "dict"),
        ("data:text/html,<script>alert(1)</script>", "data"),
        ("javascript:alert(1)", "javascript"),
        ("jar:http://x.test/a.jar!/", "jar"),
        ("feed://example.test/rss", "feed"),
        ("FILE:///etc/passwd", "file"),
    ],
)
async def test_non_http_schemes_refused(url: str, scheme: str) -> None:
    async with HttpClient() as http:
        with pytest.raises(BlockedURL, match=f"not {scheme} URLs"):
            await http.get(url)


@pytest.mark.parametrize(
    "url",
    [
        " http://example.test/",
        "http://exa mple.test/",
        "http:/example.test/",
        "http:\\\\example.test\\",
        "http://",
        "http://ex\x00ample.test/",
    ],
)
async def test_malformed_urls_refused(url: str) -> None:
    async with HttpClient() as http:
        with pytest.raises(FetchError) as info:
            await http.get(url)
    assert info.value.kind == "invalid_url" and not info.value.transient


async def test_allow_list_is_port_precise(site: Site, canary: Canary) -> None:
    site.static("/ok", b"ok")
    async with HttpClient(allow_networks=site.allow) as http:
        assert (await http.get(site.base + "/ok")).body == b"ok"
        with pytest.raises(BlockedURL, match=rf"permits it only as 127.0.0.1:{site.port}"):
            await http.get(f"http://127.0.0.1:{canary.port}/")
        with pytest.raises(BlockedURL):
            await http.get(f"http://localhost:{canary.port}/")
        with pytest.raises(BlockedURL):
            await http.get("http://127.0.0.1/")
    assert canary.accepts == 0


async def test_per_request_allow_networks_add_to_client_wide(site: Site, other_site: Site) -> None:
    site.static("/a", b"a")
    other_site.static("/b", b"b")
    async with HttpClient(allow_networks=site.allow) as http:
        assert (await http.get(site.base + "/a")).body == b"a"
        assert (await http.get(other_site.base + "/b", allow_networks=other_site.allow)).body == b"b"
        with pytest.raises(BlockedURL):
            await http.get(other_site.base + "/b")
    with pytest.raises(ValueError, match="not an IP address or CIDR"):
        async with HttpClient() as http:
            await http.get(site.base + "/a", allow_networks=["example.test"])


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirect_to_canary_refused_every_hop_checked(site: Site, canary: Canary, status: int) -> None:
    targets = [
        f"http://127.0.0.1:{canary.port}/",
        f"http://localhost:{canary.port}/",
        f"http://[::1]:{canary.port}/",
        f"http://{site.host}:{site.port}@127.0.0.1:{canary.port}/",  # userinfo trick
        f"http://2130706433:{canary.port}/",
        f"//127.0.0.1:{canary.port}/x",  # scheme-relative
        f"http://canary.test:{canary.port}/",  # a name the stub resolves to the canary
    ]
    for i, target in enumerate(targets):
        site.route(f"/r{i}", _redirect(target, status))
    stub = StubResolver(lambda n, h: ["127.0.0.1"])
    async with HttpClient(allow_networks=site.allow, resolver=stub) as http:
        for i in range(len(targets)):
            with pytest.raises(BlockedURL, match="blocked address"):
                await http.get(f"{site.base}/r{i}")
    assert canary.accepts == 0
    assert len(site.seen) == len(targets)


def _redirect(to: str, status: int = 302):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": to})

    return handler


async def test_https_to_http_downgrade_refused() -> None:
    """The hop check runs before any connection, so a fake https origin is enough to reach it."""
    http = HttpClient()
    with pytest.raises(BlockedURL, match="redirect from https to http refused"):
        http._next_hop(URL("https://example.test/a"), "http://example.test/b")
    await http.close()


async def test_dns_rebinding_never_reaches_the_canary(site: Site, canary2: Canary) -> None:
    """S-3: first answer 127.0.0.1 (allowed), then 127.0.0.2 (canary at the same port)."""

    async def feed(request: web.Request) -> web.StreamResponse:
        resp = web.Response(body=b"<rss/>")
        resp.force_close()  # no keep-alive: every poll must resolve again
        return resp

    site.route("/feed", feed)
    stub = StubResolver(lambda n, h: ["127.0.0.1"] if n == 1 else ["127.0.0.2"])
    results: list[str] = []
    async with HttpClient(allow_networks=site.allow, resolver=stub) as http:
        for _ in range(20):
            try:
                await http.get(f"http://rebind.test:{site.port}/feed")
                results.append("ok")
            except BlockedURL as exc:
                assert "blocked address 127.0.0.2 for host rebind.test (loopback)" in str(exc)
                results.append("blocked")
    assert results == ["ok"] + ["blocked"] * 19
    assert len(stub.calls) == 20  # resolved per request, never cached past the check
    assert canary2.accepts == 0
    assert site.seen[0].headers["Host"] == f"rebind.test:{site.port}"
    assert site.seen[0].peer == "127.0.0.1"


async def test_mixed_answers_denied_if_any_blocked(site: Site, canary2: Canary) -> None:
    site.static("/feed", b"x")
    stub = StubResolver(lambda n, h: ["127.0.0.1", "127.0.0.2"])
    async with HttpClient(allow_networks=site.allow, resolver=stub) as http:
        with pytest.raises(BlockedURL, match=r"127\.0\.0\.2"):
            await http.get(f"http://mixed.test:{site.port}/feed")
    assert canary2.accepts == 0 and site.seen == []


async def test_pooled_connection_not_reused_under_narrower_policy(site: Site) -> None:
    """A kept-alive connection opened with a per-request allow must not serve a request without it."""
    site.static("/feed", b"x")
    stub = StubResolver(lambda n, h: ["127.0.0.1"])
    async with HttpClient(resolver=stub) as http:
        await http.get(f"http://pool.test:{site.port}/feed", allow_networks=site.allow)
        with pytest.raises(BlockedURL, match=r"blocked address 127\.0\.0\.1 for host pool\.test"):
            await http.get(f"http://pool.test:{site.port}/feed")
    assert len(site.seen) == 1


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.100.100.200", "shared address space \\(CGNAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("fec0::1", "site-local"),
        ("::ffff:10.0.0.1", "IPv4-mapped private"),
        ("64:ff9b::a9fe:a9fe", "NAT64 link-local"),
        ("2002:7f00:1::1", "6to4 loopback"),
    ],
)
async def test_resolver_refuses_every_blocked_answer_before_connecting(ip: str, reason: str) -> None:
    guard = GuardedResolver(StubResolver(lambda n, h: [ip]))
    token = current_policy.set(AddressPolicy())
    try:
        with pytest.raises(BlockedURL, match=f"for host evil.test \\({reason}"):
            await guard.resolve("evil.test", 80)
    finally:
        current_policy.reset(token)


async def test_resolver_returns_exactly_the_checked_answers() -> None:
    guard = GuardedResolver(StubResolver(lambda n, h: ["127.0.0.1", "::1"]))
    token = current_policy.set(AddressPolicy(tuple(parse_allow_networks(["127.0.0.0/8", "::1"]))))
    try:
        answers = await guard.resolve("two.test", 80)
    finally:
        current_policy.reset(token)
    assert [a["host"] for a in answers] == ["127.0.0.1", "::1"]


@pytest.mark.parametrize("answer", [["NXDOMAIN"], []])
async def test_dns_failures_are_connect_errors(answer: list[str]) -> None:
    stub = StubResolver(lambda n, h: answer)
    async with HttpClient(resolver=stub) as http:
        with pytest.raises(ConnectError) as info:
            await http.get("http://nowhere.test/")
    assert info.value.kind in ("dns_error", "connect_error")
    assert "nowhere.test" in str(info.value)


async def test_slow_dns_counts_against_the_deadline() -> None:
    stub = StubResolver(lambda n, h: ["127.0.0.1"], delay=10)
    async with HttpClient(resolver=stub, total_timeout=0.3, connect_timeout=5) as http:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(FetchTimeout):
            await http.get("http://slow.test/")
        assert loop.time() - t0 < 2


async def test_proxy_env_vars_ignored(site: Site, canary: Canary, monkeypatch: pytest.MonkeyPatch) -> None:
    """S-6: proxies from the environment point at the canary; nothing reaches it."""
    proxy = f"http://127.0.0.1:{canary.port}"
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    site.static("/feed", b"direct")
    async with HttpClient(allow_networks=site.allow) as http:
        assert (await http.get(site.base + "/feed")).body == b"direct"
    assert canary.accepts == 0


def test_trusting_proxy_env_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.fetch.client"):
        HttpClient(trust_env=True)
    assert "SSRF protection" in caplog.text and "proxy's job" in caplog.text


async def test_credentials_never_cross_origin(site: Site, other_site: Site) -> None:
    """K-5: userinfo, Authorization, API-key headers and cookies stay with their origin; no Referer."""

    async def start(request: web.Request) -> web.StreamResponse:
        resp = web.Response(status=302, headers={"Location": "/hop"})
        resp.set_cookie("session", "cookie-canary-1")
        return resp

    async def hop(request: web.Request) -> web.StreamResponse:
        return web.Response(status=307, headers={"Location": f"{other_site.base}/feed"})

    site.route("/start", start)
    site.route("/hop", hop)
    other_site.static("/feed", b"<rss/>")
    url = f"http://reader:pw-canary-2@127.0.0.1:{site.port}/start"
    async with HttpClient(allow_networks=site.allow + other_site.allow) as http:
        r = await http.get(url, headers={"X-Api-Key": "key-canary-3", "Cookie": "pref=cookie-canary-4"})
    assert r.body == b"<rss/>" and r.url == f"{other_site.base}/feed"
    first, second = site.seen
    expected = "Basic " + base64.b64encode(b"reader:pw-canary-2").decode()
    assert first.headers["Authorization"] == expected and second.headers["Authorization"] == expected
    assert first.headers["X-Api-Key"] == "key-canary-3"
    assert "session=cookie-canary-1" in second.headers["Cookie"]  # same origin: cookie carried
    (third,) = other_site.seen
    leaked = " ".join(f"{k}: {v}" for k, v in third.headers.items())
    for canary_value in ("pw-canary-2", "key-canary-3", "cookie-canary-1", "cookie-canary-4"):
        assert canary_value not in leaked
    assert "Authorization" not in third.headers and "Cookie" not in third.headers
    assert "Referer" not in third.headers and "Referer" not in second.headers


async def test_error_messages_free_of_secrets(site: Site, canary: Canary) -> None:
    site.static("/denied", b"", status=401)
    secrets = ("pw-canary-5", "tok-canary-6", "hdr-canary-7")
    cases = [
        f"http://u:pw-canary-5@127.0.0.1:{site.port}/denied?token=tok-canary-6",
        f"http://u:pw-canary-5@127.0.0.1:{canary.port}/x?api_key=tok-canary-6",
        f"http://u:pw-canary-5@127.0.0.1:{site.port}/missing?token=tok-canary-6",
    ]
    messages = []
    async with HttpClient(allow_networks=site.allow) as http:
        for url in cases:
            with pytest.raises((HTTPStatusError, BlockedURL)) as info:
                await http.get(url, headers={"Authorization": "Bearer hdr-canary-7"})
            messages.append(str(info.value))
    for message in messages:
        for secret in secrets:
            assert secret not in message
    assert "HTTP 401 from" in messages[0] and "token=***" in messages[0]
    assert canary.accepts == 0
