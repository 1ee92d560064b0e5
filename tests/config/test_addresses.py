"""``check`` and the fetcher never disagree about an address: the config check refuses a
source URL exactly when every poll of it would end in ``blocked_address``.

Each case is checked both ways against a real local server: the configuration with the
URL and allow list is validated, and the same URL is fetched with the same allow list
through the HTTP client the daemon polls with.
"""

from __future__ import annotations

import pytest

from monitor.config import parse_settings
from monitor.errors import BlockedURL, ConfigError
from monitor.fetch import HttpClient
from tests.support.servers import Site

#: (host as written in the URL, top-level allow_networks, the source's allow_networks);
#: "{port}" is the local server's port
CASES = [
    ("127.0.0.1", [], []),
    ("127.0.0.1", ["127.0.0.1:{port}"], []),
    ("127.0.0.1", [], ["127.0.0.1:{port}"]),
    ("127.0.0.1", ["127.0.0.0/8"], []),
    ("127.0.0.1", ["127.0.0.1:1"], []),
    ("127.0.0.1", ["10.0.0.0/8"], ["[::1]:{port}"]),
    ("localhost", [], []),
    ("localhost", ["127.0.0.1:{port}", "[::1]:{port}"], []),
    ("localhost", [], ["127.0.0.0/8", "::1"]),
    ("127.1", ["127.0.0.1"], []),  # a legacy spelling: refused even when allowed
]


def _problems(url: str, top: list[str], own: list[str]) -> list[str]:
    text = (
        f"allow_networks: {top}\n"
        f"sources:\n  - name: local\n    feed: '{url}'\n    allow_networks: {own}\n"
        "rules:\n  - {name: r, query: lithium}\n"
    )
    try:
        parse_settings(text, "cfg.yaml", {})
    except ConfigError as exc:
        return exc.problems
    return []


async def _fetch_blocked(url: str, top: list[str], own: list[str]) -> bool:
    async with HttpClient(allow_networks=top) as http:
        try:
            await http.get(url, allow_networks=own)
        except BlockedURL:
            return True
    return False


@pytest.mark.parametrize(("host", "top", "own"), CASES, ids=[f"{h} {t} {o}" for h, t, o in CASES])
async def test_check_refuses_exactly_what_the_fetcher_refuses(
    site: Site, host: str, top: list[str], own: list[str]
) -> None:
    site.static("/feed.xml", b"<rss version='2.0'><channel><title>t</title></channel></rss>")
    top = [entry.format(port=site.port) for entry in top]
    own = [entry.format(port=site.port) for entry in own]
    url = f"http://{host}:{site.port}/feed.xml"
    problems = _problems(url, top, own)
    blocked = await _fetch_blocked(url, top, own)
    assert bool(problems) == blocked, problems
    if problems:
        assert problems[0].startswith("cfg.yaml:4:11: sources[0].feed: every poll of ")


def test_a_disabled_source_and_a_host_name_are_not_judged_offline() -> None:
    assert _problems("https://intranet.example/feed.xml", [], []) == []
    text = "sources:\n  - {name: spare, feed: 'http://127.0.0.1:8080/f', enabled: false}\nrules: []\n"
    parse_settings(text, "cfg.yaml", {})
