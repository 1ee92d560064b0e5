"""Query parameters that change on every poll: the detector (pure, table-driven) and the keys
that leave them out."""

from __future__ import annotations

import re

import pytest

from monitor.identity.keys import story_keys, url_key, windowed
from monitor.identity.volatile import Learned, Sighting, distinguishing, learn_volatile

H = "https://ex.com"


def listing(*entries: str) -> list[Sighting]:
    """Sightings from ``"path?query | title"`` strings on one host; ``~N`` in a query is a
    made-up session token (``~1`` is ``s1k9f3m7q2x8c``)."""
    out = []
    for entry in entries:
        link, _, title = entry.partition(" | ")
        out.append(Sighting(H + re.sub(r"~(\d+)", r"s\1k9f3m7q2x8c", link), title))
    return out


# (case, previous listing, current listing, learned volatile, distinguishing)
CASES = [
    ("a session id on every link",
     ["/a?sid=~1 | Storm", "/b?sid=~1 | Flood"], ["/a?sid=~2 | Storm", "/b?sid=~2 | Flood"], {"sid"}, set()),
    ("a session id of its own per link",
     ["/a?sid=~11 | Storm", "/b?sid=~21 | Flood"], ["/a?sid=~12 | Storm", "/b?sid=~22 | Flood"], {"sid"}, set()),
    ("the other parameters kept",
     ["/a?p=1&sid=~1 | Storm", "/b?p=1&sid=~1 | Flood"], ["/a?p=1&sid=~2 | Storm", "/b?p=1&sid=~2 | Flood"], {"sid"}, set()),
    ("one story is not enough: a story replaced by one of the same title",
     ["/a?sid=~1 | Storm"], ["/a?sid=~2 | Storm"], set(), set()),
    ("article ids: distinct stories differ in the id and in the title",
     ["/article?id=1 | Storm", "/article?id=2 | Flood"], ["/article?id=3 | Fire", "/article?id=2 | Flood"], set(), {"id"}),
    ("article ids renumbered with their titles kept: they still tell stories apart",
     ["/article?id=1 | Storm", "/article?id=2 | Flood"], ["/article?id=7 | Storm", "/article?id=8 | Flood"], set(), {"id"}),
    ("an article id and a session id per page",
     ["/article?id=1&sid=~1 | Storm", "/article?id=2&sid=~1 | Flood"],
     ["/article?id=1&sid=~2 | Storm", "/article?id=2&sid=~2 | Flood"], {"sid"}, {"id"}),
    ("an article id and a session id per link",
     ["/article?id=1&sid=~11 | Storm", "/article?id=2&sid=~21 | Flood"],
     ["/article?id=1&sid=~12 | Storm", "/article?id=2&sid=~22 | Flood"], {"sid"}, set()),
    ("a title changed with the link: no evidence",
     ["/a?sid=~1 | Storm", "/b?sid=~1 | Flood"], ["/a?sid=~2 | Storm update", "/b?sid=~2 | Flood update"], set(), set()),
    ("two parameters changed at once: neither learned",
     ["/a?s=~1&t=~1 | Storm", "/b?s=~1&t=~1 | Flood"], ["/a?s=~2&t=~2 | Storm", "/b?s=~2&t=~2 | Flood"], set(), set()),
    ("the old link still listed: a second story, not a new link",
     ["/a?v=~1 | Storm", "/b?v=~1 | Flood"],
     ["/a?v=~1 | Storm", "/a?v=~2 | Storm", "/b?v=~1 | Flood", "/b?v=~2 | Flood"], set(), set()),
    ("another path is another story",
     ["/a?sid=~1 | Storm", "/b?sid=~1 | Flood"], ["/c?sid=~2 | Storm", "/d?sid=~2 | Flood"], set(), set()),
    ("links without a query", ["/a | Storm", "/b | Flood"], ["/a | Storm", "/b | Flood"], set(), set()),
    ("nothing listed before", [], ["/a?sid=~2 | Storm", "/b?sid=~2 | Flood"], set(), set()),
    ("a session parameter that names stories on one page is an id",
     ["/read?sid=~1 | Storm", "/read?sid=~2 | Flood"], ["/read?sid=~3 | Storm", "/read?sid=~4 | Flood"], set(), {"sid"}),
    ("two stories of one title replaced on one page: which is which? nothing learned",
     ["/a?id=1 | Weather", "/a?id=2 | Weather", "/b?sid=~1 | Storm", "/c?sid=~1 | Flood"],
     ["/a?id=3 | Weather", "/a?id=4 | Weather", "/b?sid=~2 | Storm", "/c?sid=~2 | Flood"], {"sid"}, set()),
    ("a recurring title replaced on two pages at once: a number is no session",
     ["/weather?id=1 | Weather", "/traffic?id=1 | Traffic"], ["/weather?id=2 | Weather", "/traffic?id=2 | Traffic"],
     set(), set()),
    ("short values are no sessions",
     ["/a?v=x1 | Storm", "/b?v=x1 | Flood"], ["/a?v=x2 | Storm", "/b?v=x2 | Flood"], set(), set()),
    ("untitled stories teach nothing", ["/a?sid=~1 | ", "/b?sid=~1 | "], ["/a?sid=~2 | ", "/b?sid=~2 | "], set(), set()),
]  # fmt: skip


@pytest.mark.parametrize(("case", "previous", "current", "volatile", "apart"), CASES, ids=[c[0] for c in CASES])
def test_learn_volatile(case: str, previous: list[str], current: list[str], volatile: set[str], apart: set[str]) -> None:
    learned = learn_volatile(listing(*previous), listing(*current))
    assert learned == Learned(frozenset(volatile), frozenset(apart))


def test_distinguishing_needs_different_titles() -> None:
    # one story listed twice under two session ids: the parameter tells nothing apart
    assert distinguishing(listing("/a?sid=1 | Storm", "/a?sid=2 | Storm")) == frozenset()
    assert distinguishing(listing("/a?id=1 | Storm", "/a?id=2 | Flood")) == {"id"}


def test_what_is_learned_joins_what_was_known_and_an_id_is_forgotten() -> None:
    assert Learned(frozenset({"sid"}), frozenset({"id"})).applied_to(["id", "token"]) == ["sid", "token"]


# (case, link, volatile parameters, its url key)
URL_KEYS = [
    ("kept as written", "https://ex.com/a?p=1&sid=k", (), "url://ex.com/a?p=1&sid=k"),
    ("a volatile parameter left out", "https://ex.com/a?p=1&sid=k", ("sid",), "url://ex.com/a?p=1"),
    ("the only parameter left out", "https://ex.com/a/?sid=k", ("sid",), "url://ex.com/a"),
    ("a name that merely starts alike stays", "https://ex.com/a?sids=k", ("sid",), "url://ex.com/a?sids=k"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "link", "volatile", "key"), URL_KEYS, ids=[c[0] for c in URL_KEYS])
def test_url_key_without_volatile_parameters(case: str, link: str, volatile: tuple[str, ...], key: str) -> None:
    assert url_key(link, volatile) == key


def kinds(keys: list[str]) -> str:
    return " ".join(k.split(":", 1)[0] for k in keys)


# (case, link, guid, title, the kinds of its keys)
PATH_TITLES = [
    ("a session token without a GUID", "https://ex.com/a?sid=9f3k2m7q1x8c", None, "Storm", "url pathtitle"),
    ("a GUID names the story", "https://ex.com/a?sid=9f3k2m7q1x8c", "g1", "Storm", "url guid"),
    ("a numeric article id is no token", "https://ex.com/article?id=1234567890123", None, "Storm", "url"),
    ("a short value is no token", "https://ex.com/a?v=a1b2", None, "Storm", "url"),
    ("no query", "https://ex.com/a", None, "Storm", "url"),
    ("no title", "https://ex.com/a?sid=9f3k2m7q1x8c", None, "", "url"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "link", "guid", "title", "expected"), PATH_TITLES, ids=[c[0] for c in PATH_TITLES])
def test_path_title_key(case: str, link: str, guid: str | None, title: str, expected: str) -> None:
    keys = story_keys("cms", link, guid, title)
    assert kinds(keys) == expected
    assert windowed(keys) == [k for k in keys if k.startswith("pathtitle:")]


def test_path_title_key_is_the_page_and_title_of_one_source() -> None:
    (_, one) = story_keys("cms", "https://ex.com/a?sid=9f3k2m7q1x8c", None, "Storm!")
    assert story_keys("cms", "https://ex.com/a?sid=zz99zz99zz99", None, "storm")[1] == one
    assert story_keys("cms", "https://ex.com/b?sid=9f3k2m7q1x8c", None, "Storm")[1] != one
    assert story_keys("cms", "https://ex.com/a?sid=9f3k2m7q1x8c", None, "Flood")[1] != one
    assert story_keys("other", "https://ex.com/a?sid=9f3k2m7q1x8c", None, "Storm")[1] != one
