"""The sources list: filtered and sorted over the whole set, then cut to one page (pure)."""

from __future__ import annotations

import pytest

from monitor.web.sourcelist import MAX_PER_PAGE, BadSourceQuery, SourceQuery, source_page
from monitor.web.view import SourceHealth, SourceStatus

H = SourceHealth


def fleet() -> list[SourceStatus]:
    """250 sources in name order: every tenth failing (with an error), every 25th stale."""
    rows = []
    for i in range(250):
        health = H.FAILING if i % 10 == 3 else H.STALE if i % 25 == 7 else H.OK
        error = f"HTTP 503 from feed {i}" if health is H.FAILING else ""
        rows.append(SourceStatus(f"src-{i:03d}", "feed" if i % 2 else "page", True, health, last_error=error,
                                 stories=i))
    return rows


@pytest.mark.parametrize(
    ("params", "names", "matched", "pages"),
    [
        # attention first: the failing, then the stale, then the rest, each by name
        ({}, ["src-003", "src-013"], 250, 3),
        ({"per_page": "2", "page": "13"}, ["src-243", "src-007"], 250, 125),
        ({"state": "stale"}, ["src-007", "src-032"], 10, 1),
        ({"q": "503 FROM FEED 24"}, ["src-243"], 1, 1),
        ({"q": "src-24", "sort": "name", "desc": "1"}, ["src-249", "src-248"], 10, 1),
        ({"sort": "stories", "desc": "1", "page": "3"}, ["src-049", "src-048"], 250, 3),
        ({"page": "4"}, [], 250, 3),  # past the last page: no rows, not an error
        ({"q": "nothing like it"}, [], 0, 1),
    ],
)
def test_a_page_of_the_whole_set(params: dict[str, str], names: list[str], matched: int, pages: int) -> None:
    page = source_page(fleet(), SourceQuery.parse(params))
    assert [s.name for s in page.rows[:2]] == names
    assert (page.matched, page.pages, page.total) == (matched, pages, 250)
    assert page.counts == {"failing": 25, "stale": 10, "ok": 215}  # of all, whatever the filter


def test_links_keep_the_query_and_stop_at_the_ends() -> None:
    query = SourceQuery.parse({"q": "503 from", "state": "failing", "per_page": "10"})
    page = source_page(fleet(), query)
    assert page.link("/api/sources", 0) is None and page.link("/api/sources", 4) is None
    assert page.to_json("/api/sources")["next"] == "/api/sources?q=503+from&state=failing&page=2&per_page=10"
    body = source_page(fleet(), SourceQuery.parse({"state": "failing", "per_page": "10", "page": "3"})).to_json("/x")
    assert body["next"] is None and body["prev"] == "/x?state=failing&page=2&per_page=10"
    assert len(body["sources"]) == 5 and body["matched"] == 25


@pytest.mark.parametrize(
    "params",
    [{"state": "fine"}, {"sort": "colour"}, {"page": "0"}, {"page": "x"}, {"per_page": str(MAX_PER_PAGE + 1)}],
)
def test_values_it_cannot_use_are_refused(params: dict[str, str]) -> None:
    with pytest.raises(BadSourceQuery):
        SourceQuery.parse(params)
