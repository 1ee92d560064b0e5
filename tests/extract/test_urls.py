"""normalize_url / unwrap_redirect / registrable_domain / is_http_url as tables (one case per line)."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.extract.urls import is_http_url, normalize_url, registrable_domain, unwrap_redirect

NORMALIZE = [
    # (input, base, expected)
    ("HTTP://WWW.Example.COM/Story", None, "http://www.example.com/Story"),
    ("https://example.com", None, "https://example.com/"),
    ("http://example.com:80/a", None, "http://example.com/a"),
    ("https://example.com:443/a", None, "https://example.com/a"),
    ("https://example.com:8443/a", None, "https://example.com:8443/a"),
    ("http://example.com:443/a", None, "http://example.com:443/a"),
    ("https://example.com/a#comments", None, "https://example.com/a"),
    ("https://example.com/a?utm_source=tw&utm_medium=social&id=7", None, "https://example.com/a?id=7"),
    ("https://example.com/a?fbclid=IwAR0x&gclid=Cj0&msclkid=1", None, "https://example.com/a"),
    (
        "https://example.com/a?mc_cid=1&mc_eid=2&ocid=msn&cmpid=rss&_ga=2.1&igshid=x",
        None,
        "https://example.com/a",
    ),
    ("https://example.com/a?UTM_Campaign=x&b=2&a=1", None, "https://example.com/a?b=2&a=1"),
    ("https://example.com/a?ref_src=twsrc%5Etfw", None, "https://example.com/a"),
    ("https://example.com/a?ref=rss", None, "https://example.com/a"),
    ("https://example.com/a?ref=twitter&page=2", None, "https://example.com/a?page=2"),
    ("https://example.com/a?ref=v2.1", None, "https://example.com/a?ref=v2.1"),
    ("https://example.com/a?source=rss&x=1", None, "https://example.com/a?x=1"),
    ("https://www.theguardian.com/a?CMP=share_btn_tw", None, "https://www.theguardian.com/a"),
    ("https://www.lemonde.fr/a.html?xtor=RSS-3208", None, "https://www.lemonde.fr/a.html"),
    ("https://example.com/a?id=1&", None, "https://example.com/a?id=1"),
    ("https://example.com/search?q=a+b&x=%2F", None, "https://example.com/search?q=a+b&x=%2F"),
    ("  https://example.com/a\n", None, "https://example.com/a"),
    ("https://exa\tmple.com/a", None, "https://example.com/a"),
    ("https://bücher.de/straße", None, "https://xn--bcher-kva.de/stra%C3%9Fe"),
    ("https://xn--bcher-kva.de/stra%c3%9fe", None, "https://xn--bcher-kva.de/stra%C3%9Fe"),
    ("https://example.com/a b", None, "https://example.com/a%20b"),
    ("https://example.com/a/./b/../c", None, "https://example.com/a/c"),
    ("https://example.com./a", None, "https://example.com/a"),
    ("http://[::1]:8080/x", None, "http://[::1]:8080/x"),
    ("http://127.0.0.1:1/x", None, "http://127.0.0.1:1/x"),
    # relative links, resolved against the page
    ("/news/2024/05/story", "https://example.com/world/", "https://example.com/news/2024/05/story"),
    ("story-slug", "https://example.com/world/", "https://example.com/world/story-slug"),
    ("../b", "https://example.com/x/y/z", "https://example.com/x/b"),
    ("//cdn.example.com/a", "https://example.com/", "https://cdn.example.com/a"),
    ("?page=2", "https://example.com/list?page=1", "https://example.com/list?page=2"),
    ("#top", "https://example.com/list", "https://example.com/list"),
    # unusable
    ("javascript:alert(1)", None, None),
    (" JavaScript:alert(1)", "https://example.com/", None),
    ("java\nscript:alert(1)", "https://example.com/", None),
    ("data:text/html,<script>alert(1)</script>", None, None),
    ("file:///etc/passwd", None, None),
    ("mailto:news@example.com", None, None),
    ("ftp://example.com/a", None, None),
    ("vbscript:msgbox", None, None),
    ("//cdn.example.com/a", None, None),
    ("/relative/without/base", None, None),
    ("", None, None),
    ("   ", None, None),
    ("http://", None, None),
    ("http://[ccpa-preferences]", None, None),
    ("[ccpa-preferences]", "http://[ccpa-preferences]", None),
    ("http://[::1", None, None),
    ("http://example.com:99999/", None, None),
    ("http://example.com:port/", None, None),
    ("http://exa mple.com/", None, None),
    ("https://" + "a" * 64 + ".com/", None, None),
]


@pytest.mark.parametrize(("url", "base", "expected"), NORMALIZE)
def test_normalize_url(url: str, base: str | None, expected: str | None) -> None:
    assert normalize_url(url, base) == expected


@pytest.mark.parametrize("url", [row[2] for row in NORMALIZE if row[2] is not None])
def test_normalize_url_is_idempotent(url: str) -> None:
    assert normalize_url(url) == url


def test_tracking_variants_collapse_and_distinct_articles_do_not() -> None:
    variants = [
        "https://News.Example.com/2024/05/01/mayor-resigns?utm_source=rss",
        "https://news.example.com:443/2024/05/01/mayor-resigns#comments",
        "https://news.example.com/2024/05/01/mayor-resigns?fbclid=abc&utm_medium=x",
    ]
    assert len({normalize_url(v) for v in variants}) == 1
    assert normalize_url("https://example.com/a?id=1") != normalize_url("https://example.com/a?id=2")
    assert normalize_url("http://example.com/a") != normalize_url("https://example.com/a")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.one_of(st.none(), st.text(max_size=40)))
def test_normalize_url_never_raises(url: str, base: str | None) -> None:
    result = normalize_url(url, base)
    assert result is None or result.startswith(("http://", "https://"))


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"https?://[a-z0-9\[\]:.%@-]{0,20}/[ -~]{0,30}", fullmatch=True))
@example("http://%09/")  # found by a random run: the host was a tab
def test_normalize_url_urlish_inputs_are_idempotent(url: str) -> None:
    once = normalize_url(url)
    if once is not None:
        assert normalize_url(once) == once


@pytest.mark.parametrize("host", ["%09", "a%09b", "%0a", "a%0d", "%00", "%7f", "%1b"])
def test_a_host_with_a_control_character_is_no_host(host: str) -> None:
    assert normalize_url(f"http://{host}/story") is None
    assert normalize_url(f"https://{host}.example.com/") is None


UNWRAP = [
    (
        "https://www.google.com/url?q=https%3A%2F%2Fnews.example.com%2Fa%3Fx%3D1&sa=D",
        "https://news.example.com/a?x=1",
    ),
    ("https://www.google.co.uk/url?sa=t&url=https://news.example.com/b", "https://news.example.com/b"),
    (
        "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=1&url=https%3a%2f%2fexample.com%2fstory&c=1",
        "https://example.com/story",
    ),
    ("https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2Fx&h=AT0", "https://example.com/x"),
    ("https://www.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2Fy", "https://example.com/y"),
    ("https://l.instagram.com/?u=https%3A%2F%2Fexample.com%2Fz&e=1", "https://example.com/z"),
    ("https://www.youtube.com/redirect?event=video&q=https%3A%2F%2Fexample.com%2Fv", "https://example.com/v"),
    ("https://t.umblr.com/redirect?z=https%3A%2F%2Fexample.com%2Ft&t=1", "https://example.com/t"),
    ("https://www.linkedin.com/redir/redirect?url=https%3A%2F%2Fexample.com%2Fl", "https://example.com/l"),
    ("https://vk.com/away.php?to=https%3A%2F%2Fexample.com%2Fvk", "https://example.com/vk"),
    ("https://duckduckgo.com/l/?uddg=https%3A%2F%2Fexample.com%2Fd&rut=1", "https://example.com/d"),
    (
        "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.com%2Fs&data=1",
        "https://example.com/s",
    ),
    (
        "https://r.search.yahoo.com/_ylt=A/RV=2/RE=1/RO=10/RU=https%3a%2f%2fexample.com%2fyh/RK=2/RS=x-",
        "https://example.com/yh",
    ),
    # nested wrappers
    (
        "https://www.google.com/url?q=https%3A%2F%2Fl.facebook.com%2Fl.php%3Fu%3Dhttps%253A%252F%252Fexample.com%252Fn",
        "https://example.com/n",
    ),
    # left alone: not a redirector, target not http(s), no target, needs the network
    (
        "https://example.com/share?url=https%3A%2F%2Fother.com%2F",
        "https://example.com/share?url=https%3A%2F%2Fother.com%2F",
    ),
    ("https://www.google.com/url?q=javascript:alert(1)", "https://www.google.com/url?q=javascript:alert(1)"),
    ("https://www.google.com/url?sa=t", "https://www.google.com/url?sa=t"),
    (
        "https://www.google.com/search?q=https://example.com/",
        "https://www.google.com/search?q=https://example.com/",
    ),
    ("https://t.co/abc123", "https://t.co/abc123"),
    (
        "https://news.google.com/rss/articles/CBMiK2h0?oc=5",
        "https://news.google.com/rss/articles/CBMiK2h0?oc=5",
    ),
    (
        "https://www.reddit.com/r/news/?url=https://example.com/",
        "https://www.reddit.com/r/news/?url=https://example.com/",
    ),
    (
        "http://[ccpa-preferences]/url?q=https://example.com/",
        "http://[ccpa-preferences]/url?q=https://example.com/",
    ),
    ("not a url", "not a url"),
    ("", ""),
]


@pytest.mark.parametrize(("url", "expected"), UNWRAP)
def test_unwrap_redirect(url: str, expected: str) -> None:
    assert unwrap_redirect(url) == expected


DOMAINS = [
    ("www.bbc.co.uk", "bbc.co.uk"),
    ("edition.cnn.com", "cnn.com"),
    ("CNN.com", "cnn.com"),
    ("news.example.com.", "example.com"),
    ("foo.blogspot.com", "foo.blogspot.com"),
    ("a.b.c.example.org", "example.org"),
    ("bücher.de", "xn--bcher-kva.de"),
    ("127.0.0.1", "127.0.0.1"),
    ("[::1]", "::1"),
    ("localhost", "localhost"),
    ("a.b.example.invalid", "example.invalid"),
    ("", ""),
]


@pytest.mark.parametrize(("host", "expected"), DOMAINS)
def test_registrable_domain(host: str, expected: str) -> None:
    assert registrable_domain(host) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a", True),
        ("HTTP://example.com", True),
        ("http://127.0.0.1:8080/", True),
        ("ftp://example.com/", False),
        ("javascript:alert(1)", False),
        ("/relative", False),
        ("http://", False),
        ("http://[ccpa-preferences]", False),
        ("http://example.com:99999/", False),
        ("", False),
    ],
)
def test_is_http_url(url: str, expected: bool) -> None:
    assert is_http_url(url) is expected
