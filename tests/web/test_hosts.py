"""Which Host names the status server answers to (pure): one case per line."""

from __future__ import annotations

import pytest

from monitor.web.hosts import AllowedHosts, host_name


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("127.0.0.1:8321", "127.0.0.1"),
        ("[::1]:8321", "::1"),
        ("::1", "::1"),
        ("Status.Example.ORG.", "status.example.org"),
        ("status.example.org:443", "status.example.org"),
        ("localhost", "localhost"),
        ("evil.example:x", "evil.example:x"),
    ],
)
def test_host_name(value: str, name: str) -> None:
    assert host_name(value) == name


# listen host, web.hosts, Host header, the connection's local address, answered?
CASES = [
    ("127.0.0.1", [], "127.0.0.1:8321", "127.0.0.1", True),
    ("127.0.0.1", [], "localhost:8321", "127.0.0.1", True),
    ("127.0.0.1", [], "[::1]:8321", "127.0.0.1", True),
    ("127.0.0.1", [], "evil.example:8321", "127.0.0.1", False),  # DNS rebinding
    ("127.0.0.1", [], "", "127.0.0.1", False),
    ("localhost", [], "127.0.0.1", "127.0.0.1", True),
    ("0.0.0.0", [], "localhost:8321", "172.17.0.2", True),  # Docker: -p 127.0.0.1:8321:8321
    ("0.0.0.0", [], "172.17.0.2:8321", "172.17.0.2", True),  # the address it came in on
    ("0.0.0.0", [], "status.example.org", "172.17.0.2", False),
    ("0.0.0.0", ["status.example.org"], "STATUS.example.org.:8321", "172.17.0.2", True),
    ("192.0.2.10", [], "192.0.2.10:8321", "192.0.2.10", True),
    ("192.0.2.10", [], "localhost:8321", "192.0.2.10", False),  # not on loopback: no localhost
    ("192.0.2.10", ["10.0.0.5:8321"], "10.0.0.5", "192.0.2.10", True),
]


@pytest.mark.parametrize(("listen", "extra", "header", "local", "answered"), CASES)
def test_allowed_hosts(listen: str, extra: list[str], header: str, local: str, answered: bool) -> None:
    assert AllowedHosts.for_listener(listen, extra).allows(header, local) is answered
