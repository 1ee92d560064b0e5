"""discover_links, compile_patterns and the URL-shape heuristic: tables, hostile and labelled pages."""

from __future__ import annotations

import gzip
import json
import time

import pytest

from monitor.extract.links import MAX_LINKS, compile_patterns, discover_links
from monitor.extract.shape import rejection_reason
from tests.support.paths import DATA, need_corpus

PAGE = "https://news.example/world/"


def page(*anchors: str, head: str = "") -> str:
    items = "".join(f"<li>{a}</li>" for a in anchors)
    return f"<!DOCTYPE html><html><head><title>World</title>{head}</head><body><ul>{items}</ul></body></html>"


SHAPES = [
    # (url, expected reason or None for "article")
    ("https://news.example/2024/05/01/mayor-resigns/", None),
    ("https://news.example/world/europe/2024/05/01/mayor-resigns", None),
    ("https://news.example/2015/05/sneakers/", None),
    ("https://news.example/story/harbour-bridge-closed-after-inspection/", None),
    ("https://news.example/news/algeria-plane-disappears-093510948.html", None),
    ("https://news.example/event/show/126203", None),
    ("https://news.example/article.php?id=123456", None),
    ("https://news.example/topics/climate/why-the-ocean-is-warming-so-fast-now", None),
    ("https://news.example/2014/07/24/world/air-algerie-flight/index.html", None),
    # ids of every shape: hex hash, UUID, opaque, prefixed, numbered page, article extension
    ("https://news.example/article/0d4b6bb1c5f2e5d1a8c9f0e7d6b5a4c3", None),
    ("https://news.example/politik/merz-im-interview-a-1b2c3d4e-5f6a-4b8c-9d0e-1f2a3b4c5d6e", None),
    ("https://news.example/news/articles/cgrjvgzq8nbo", None),
    ("https://news.example/en/floods/a-57234567", None),
    ("https://news.example/inland/haushalt-streit-100.html", None),
    ("https://news.example/news/national/article68123456.ece", None),
    ("https://news.example/video/2024/05/01/storm-surge.flv", "media file"),
    ("https://news.example/tag/cgrjvgzq8nbo", "category page"),
    ("https://news.example/en/business/s-1431", "not article-shaped"),
    ("https://news.example/inland-100.html", "not article-shaped"),
    ("https://news.example/", "home page"),
    ("https://news.example/world", "not article-shaped"),
    ("https://news.example/news/europe", "not article-shaped"),
    ("https://news.example/weather/London-44418/", "not article-shaped"),
    ("https://news.example/2024/05/", "date archive"),
    ("https://news.example/tag/climate-change-policy", "category page"),
    ("https://news.example/category/business/", "category page"),
    ("https://news.example/author/priya-raman", "category page"),
    ("https://news.example/topics/293965", "category page"),
    ("https://news.example/tools/index.html", "not article-shaped"),
    ("https://news.example/search?q=mayor", "search page"),
    ("https://news.example/page/2/", "pagination"),
    ("https://news.example/news?page=2", "pagination"),
    ("https://news.example/login", "account page"),
    ("https://news.example/subscribe/", "account page"),
    ("https://news.example/newsletter/morning-briefing", "account page"),
    ("https://news.example/privacy-policy", "site info page"),
    ("https://news.example/terms-of-service", "site info page"),
    ("https://news.example/about/contact", "site info page"),
    ("https://news.example/files/2012/05/photo-of-the-mayor.JPG", "media file"),
    ("https://news.example/reports/annual-report-2023-final.pdf", "media file"),
    ("https://news.example/video/clip-of-the-storm.mp4", "media file"),
    ("https://news.example/feed/", "feed"),
    ("https://news.example/world/rss.xml", "feed"),
    ("https://news.example/news?format=rss", "feed"),
]


@pytest.mark.parametrize(("url", "expected"), SHAPES)
def test_rejection_reason(url: str, expected: str | None) -> None:
    assert rejection_reason(url) == expected


#: real URLs of large outlets (tests/data/links/shapes/outlets.json, where they come from);
#: the known misses are listed there too, and are expected to stay wrong here until fixed
OUTLETS = json.loads((DATA / "links" / "shapes" / "outlets.json").read_text(encoding="utf-8"))["cases"]
KNOWN_MISSES = {"https://www.tagesschau.de/wirtschaft/boersenkurse/dax-index-846900/": None}


@pytest.mark.parametrize("case", OUTLETS, ids=[f"{c['shape']}: {c['url'][-48:]}" for c in OUTLETS])
def test_outlet_url_shapes(case: dict[str, str | None]) -> None:
    url = str(case["url"])
    assert rejection_reason(url) == KNOWN_MISSES.get(url, case["expected"])


def test_relative_links_resolve_dedupe_and_keep_page_order() -> None:
    html = page(
        '<a href="/2024/05/01/storm-hits-the-coast"><img src="x.jpg"></a>',
        '<a href="https://NEWS.example:443/2024/05/01/storm-hits-the-coast?utm_source=home#c">'
        "Storm hits the coast</a>",
        '<a href="2024/05/02/mayor-resigns-after-vote">Mayor resigns</a>',
        '<a href="http://news.example/2024/05/01/storm-hits-the-coast/">again, over http</a>',
    )
    report = discover_links(html, PAGE)
    assert [link.url for link in report.accepted] == [
        "https://news.example/2024/05/01/storm-hits-the-coast",
        "https://news.example/world/2024/05/02/mayor-resigns-after-vote",
    ]
    # the image link came first, the headline text is kept
    assert report.accepted[0].text == "Storm hits the coast"
    assert [reason for _, reason in report.rejected] == ["duplicate", "duplicate"]


def test_base_href_is_respected_and_javascript_base_ignored() -> None:
    with_base = page(
        '<a href="2024/05/01/a-story-slug-here">x</a>', head='<base href="https://news.example/uk/">'
    )
    assert (
        discover_links(with_base, PAGE).accepted[0].url
        == "https://news.example/uk/2024/05/01/a-story-slug-here"
    )
    bad_base = page(
        '<a href="2024/05/01/a-story-slug-here">x</a>', head='<base href="javascript:alert(2)//">'
    )
    assert (
        discover_links(bad_base, PAGE).accepted[0].url
        == "https://news.example/world/2024/05/01/a-story-slug-here"
    )


REJECTIONS = [
    ('<a href="javascript:void(0)">x</a>', "scheme javascript"),
    ('<a href=" JavaScript:alert(1)">x</a>', "scheme javascript"),
    ('<a href="data:text/html,&lt;b&gt;x">x</a>', "scheme data"),
    ('<a href="mailto:tips@news.example">x</a>', "scheme mailto"),
    ('<a href="tel:+15555550100">x</a>', "scheme tel"),
    ('<a href="http://[ccpa-preferences]">x</a>', "malformed URL"),
    ('<a href="https://news.example:99999/2024/05/01/a-b-c">x</a>', "malformed URL"),
    ('<a href="#top">x</a>', "same-page anchor"),
    ('<a href="">x</a>', "same-page anchor"),
    ('<a href="https://other.example/2024/05/01/some-story-slug">x</a>', "other site"),
    ('<a href="/world/">x</a>', "the page itself"),
    ('<a href="/tag/storms">x</a>', "category page"),
    ('<a href="/files/picture-of-storm.jpg">x</a>', "media file"),
]


@pytest.mark.parametrize(("anchor", "reason"), REJECTIONS)
def test_rejected_links_carry_a_reason(anchor: str, reason: str) -> None:
    report = discover_links(page(anchor), PAGE)
    assert report.accepted == []
    assert [r for _, r in report.rejected] == [reason]


def test_subdomains_of_the_same_site_are_accepted() -> None:
    report = discover_links(page('<a href="https://blogs.news.example/2024/05/01/a-blog-post">x</a>'), PAGE)
    assert [link.url for link in report.accepted] == ["https://blogs.news.example/2024/05/01/a-blog-post"]


def test_include_and_exclude_patterns() -> None:
    html = page(
        '<a href="/live/12">live</a>',
        '<a href="/2024/05/01/sport-team-wins-the-cup">sport</a>',
        '<a href="/2024/05/01/politics-mayor-resigns-today">politics</a>',
    )
    only_live = discover_links(html, PAGE, include=[r"/live/\d+$"])
    # include replaces the shape heuristic: /live/12 is not article-shaped but is asked for
    assert [link.text for link in only_live.accepted] == ["live"]
    assert ("https://news.example/2024/05/01/sport-team-wins-the-cup", "not matched by include pattern") in (
        only_live.rejected
    )
    no_sport = discover_links(html, PAGE, exclude=["sport"])
    assert [link.text for link in no_sport.accepted] == ["politics"]
    assert (
        "https://news.example/2024/05/01/sport-team-wins-the-cup",
        "excluded by pattern",
    ) in no_sport.rejected


def test_css_selector_replaces_the_heuristic() -> None:
    html = (
        "<html><body><div class='river'><h3><a href='/live/12'>Live blog</a></h3>"
        "<div class='card'><a href='https://partner.example/x'>Partner story</a></div></div>"
        "<aside><a href='/2024/05/01/sidebar-story-not-wanted'>no</a></aside>"
        "<div class='river'><a href='/report.pdf'>pdf</a></div></body></html>"
    )
    report = discover_links(html, PAGE, selector=".river")
    assert [link.text for link in report.accepted] == ["Live blog", "Partner story"]
    assert ("https://news.example/report.pdf", "media file") in report.rejected


def test_bad_selector_and_patterns_raise_value_error_naming_them() -> None:
    with pytest.raises(ValueError, match="a\\[href"):
        discover_links(page(), PAGE, selector="a[href")
    with pytest.raises(ValueError, match=r"\(unclosed"):
        compile_patterns(["ok", "(unclosed"])
    assert [p.pattern for p in compile_patterns(["^https://", r"/\d{4}/"])] == ["^https://", r"/\d{4}/"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        "",
        b"\x00\xff\xfe garbage \x00",
        b"<?xml version='1.0' encoding='utf-8'?><html><a href='/x'>",
        b"not html at all",
        "<a href='/2024/05/01/unclosed-tag-soup",
        b"\xef\xbb\xbf<html></html>",
    ],
)
def test_garbage_never_raises(body: bytes | str) -> None:
    report = discover_links(body, PAGE)
    assert all(link.url.startswith("https://news.example/") for link in report.accepted)


def test_deeply_nested_html_is_bounded() -> None:
    deep = (
        "<html><body>"
        + "<div>" * 100_000
        + "<a href='/2024/01/01/deep-story-here'>deep</a>"
        + "</div>" * 100_000
    )
    start = time.perf_counter()
    report = discover_links(deep, PAGE)
    css = discover_links(deep, PAGE, selector="a")
    elapsed = time.perf_counter() - start
    # lxml without huge_tree stops descending at its depth limit; bs4 keeps the anchor; both finish
    assert len(report.accepted) <= 1 and len(css.accepted) <= 1
    assert elapsed < 20


def test_link_farm_is_capped() -> None:
    anchors = "".join(f"<a href='/2024/01/01/story-number-{i}-here'>s{i}</a>" for i in range(MAX_LINKS + 50))
    report = discover_links(f"<html><body>{anchors}</body></html>", PAGE)
    assert len(report.accepted) == MAX_LINKS
    assert report.rejected[-1][1].startswith("link limit reached")


def test_hostile_section_page() -> None:
    path = need_corpus("hostile", "generated", "html", "section_hostile.html")
    report = discover_links(path.read_bytes(), PAGE)
    urls = [link.url for link in report.accepted]
    assert "https://news.example/world/2021/09/06/minister-resigns-after-vote" in urls
    assert "https://news.example/2021/09/06/storm-hits-coast" in urls
    assert "https://news.example/2021/09/06/Upper-Case-Host/" in urls
    assert "https://news.example/world/2021/09/06/dot-segments-story" in urls
    assert all(u.startswith("https://news.example/") and "#" not in u and "utm_" not in u for u in urls)
    reasons = {reason for _, reason in report.rejected}
    assert {"scheme javascript", "scheme data", "scheme mailto", "malformed URL", "duplicate"} <= reasons


def test_kxan_page_with_ccpa_link_does_not_crash() -> None:
    path = need_corpus("hostile", "from-trafilatura", "kxan.com-Voters.html.gz")
    url = "https://www.kxan.com/news/texas/voters-pass-increase-for-retired-public-education-workers/"
    report = discover_links(gzip.decompress(path.read_bytes()), url)
    assert ("http://[ccpa-preferences]", "malformed URL") in report.rejected
    assert len(report.accepted) > 10
    assert all("kxan.com" in link.url for link in report.accepted)


LABELS = sorted((DATA / "links").glob("*.json"))


@pytest.mark.parametrize("label_file", LABELS, ids=[p.stem for p in LABELS])
def test_labelled_section_pages_precision_and_recall(label_file) -> None:  # type: ignore[no-untyped-def]
    label = json.loads(label_file.read_text(encoding="utf-8"))
    body = need_corpus("sections", label["page"]).read_bytes()
    report = discover_links(body, label["base_url"])

    def key(u: str) -> str:
        return u.split("://", 1)[-1].rstrip("/")

    truth = {key(u) for u in label["articles"]}
    accepted = {key(link.url) for link in report.accepted}
    tp = len(truth & accepted)
    assert tp / len(accepted) >= 0.9, sorted(accepted - truth)
    assert tp / len(truth) >= 0.9, sorted(truth - accepted)
