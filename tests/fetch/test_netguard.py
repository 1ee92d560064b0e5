"""The SSRF address policy as a table: blocked ranges, odd literals, allow_networks parsing."""

from __future__ import annotations

import ipaddress

import pytest

from monitor.errors import BlockedURL
from monitor.fetch.netguard import AddressPolicy, blocked_reason, literal_address, parse_allow_networks

BLOCKED = [
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("10.1.2.3", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.100.100.200", "CGNAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "IETF"),
    ("192.0.2.1", "documentation"),
    ("192.168.0.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.251", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("::7f00:1", "reserved"),
    ("fc00::1", "unique-local"),
    ("fdff::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%2", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("2001::1", "Teredo"),
    ("100::1", "discard"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:169.254.169.254", "IPv4-mapped link-local"),
    ("64:ff9b::7f00:1", "NAT64 loopback"),
    ("64:ff9b::a00:1", "NAT64 private"),
    ("64:ff9b:1::1", "NAT64 local-use"),
    ("2002:c0a8:101::1", "6to4 private"),
    ("4000::1", "reserved"),
]


@pytest.mark.parametrize(("ip", "reason"), BLOCKED)
def test_blocked_ranges(ip: str, reason: str) -> None:
    got = blocked_reason(ipaddress.ip_address(ip))
    assert got is not None and reason in got


@pytest.mark.parametrize(
    "ip",
    [
        "93.184.216.34",
        "8.8.8.8",
        "1.1.1.1",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
        "100.63.255.255",
    ],
)
def test_public_addresses_pass(ip: str) -> None:
    assert blocked_reason(ipaddress.ip_address(ip)) is None


@pytest.mark.parametrize(
    ("host", "ip"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("10.0.0.1.", "10.0.0.1"),
    ],
)
def test_literal_forms(host: str, ip: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(ip)


@pytest.mark.parametrize("host", ["example.com", "localhost", "deadbeef", "1.example", "999.999.999.999", ""])
def test_names_are_not_literals(host: str) -> None:
    assert literal_address(host) is None


def test_parse_allow_networks_forms() -> None:
    entries = parse_allow_networks(
        [
            "127.0.0.1",
            "10.0.0.0/8",
            "127.0.0.1:8080",
            "[::1]:8080",
            "fd00::/8",
            "10.0.0.0/8:443",
            "[fd00::/8]:80",
            " ::1 ",
        ]
    )
    assert [str(e) for e in entries] == [
        "127.0.0.1",
        "10.0.0.0/8",
        "127.0.0.1:8080",
        "[::1]:8080",
        "fd00::/8",
        "10.0.0.0/8:443",
        "[fd00::/8]:80",
        "::1",
    ]
    assert entries[2].permits(ipaddress.ip_address("127.0.0.1"), 8080)
    assert not entries[2].permits(ipaddress.ip_address("127.0.0.1"), 8081)
    assert entries[1].permits(ipaddress.ip_address("10.9.9.9"), 1)
    assert not entries[1].permits(ipaddress.ip_address("::ffff:10.9.9.9"), 1)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("example.com", "not an IP address or CIDR"),
        ("localhost:8080", "not an IP address or CIDR"),
        ("10.0.0.1/8", "has host bits set; did you mean 10.0.0.0/8"),
        ("127.0.0.1:0", "port '0'"),
        ("127.0.0.1:99999", "port '99999'"),
        ("127.0.0.1:http", "port 'http'"),
        ("[::1", "missing ']'"),
        ("[::1]8080", "expected ':PORT'"),
        ("", "empty"),
        ("10.0.0.0/33", "not an IP address or CIDR"),
    ],
)
def test_parse_allow_networks_errors(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")) as info:
        parse_allow_networks([entry])
    assert repr(entry) in str(info.value) or entry == ""


def test_policy_check_messages() -> None:
    policy = AddressPolicy(tuple(parse_allow_networks(["127.0.0.1:8080"])))
    policy.check(ipaddress.ip_address("127.0.0.1"), 8080, "feeds.test")
    policy.check(ipaddress.ip_address("93.184.216.34"), 1, "public.test")
    with pytest.raises(BlockedURL) as info:
        policy.check(ipaddress.ip_address("127.0.0.1"), 9090, "feeds.test")
    assert str(info.value) == (
        "blocked address 127.0.0.1 for host feeds.test (loopback); allow_networks "
        "permits it only as 127.0.0.1:8080; add 127.0.0.1:9090 to permit"
    )
    with pytest.raises(BlockedURL, match=r"blocked address ::1 for host feeds\.test \(loopback\); add it"):
        policy.check(ipaddress.ip_address("::1"), 8080, "feeds.test")
    assert policy.extended(()) is policy
