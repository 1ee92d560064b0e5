"""Which listed stories are new: key_candidates, split_seen, drop_repeats (pure, table-driven)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from monitor.daemon.seen import SeenSplit, drop_repeats, key_candidates, keys_of, split_seen
from monitor.sources import Candidate

# (link as listed, link after keying: unwrapped and normalised, or None when not http(s))
LINKS = [
    ("kept", "https://ex.com/a", "https://ex.com/a"),
    ("tracking and fragment dropped", "https://Ex.com/a?utm_source=x#top", "https://ex.com/a"),
    ("redirector unwrapped", "https://www.google.com/url?q=https://ex.com/b&sa=D", "https://ex.com/b"),
    ("mailto dropped", "mailto:desk@ex.com", None),
    ("javascript dropped", "javascript:void(0)", None),
    ("none stays none", None, None),
]  # fmt: skip


@pytest.mark.parametrize(("case", "link", "after"), LINKS, ids=[c[0] for c in LINKS])
def test_key_candidates_rewrites_links(case: str, link: str | None, after: str | None) -> None:
    cand = Candidate(link=link, title="Storm hits the coast")
    assert key_candidates("wire", [cand])[0][0] is cand
    assert cand.link == after


# (listing as "link guid" per story, "-" for none; keys per story: url keys in full, hashed ones by kind)
KEYS = [
    ("link and guid", ["https://ex.com/a g1"], ["url://ex.com/a guid"]),
    ("trailing slash: one story", ["http://ex.com/f/ -"], ["url://ex.com/f"]),
    ("no http link: guid", ["mailto:desk@ex.com g3"], ["guid"]),
    ("neither link nor guid: title", ["- -"], ["title"]),
    ("one guid, two links: guid ignored", ["https://ex.com/1 g", "https://ex.com/2 g"], ["url://ex.com/1", "url://ex.com/2"]),
    ("one guid, one link twice: kept", ["https://ex.com/1 g", "https://ex.com/1 g"], ["url://ex.com/1 guid"] * 2),
    ("one guid, a link and none: ignored", ["https://ex.com/1 g", "- g"], ["url://ex.com/1", "title"]),
    ("a session token without a guid: page and title",
     ["https://ex.com/1?sid=9f3k2m7q1x8c -"], ["url://ex.com/1?sid=9f3k2m7q1x8c pathtitle"]),
    ("one page and title, two links: page and title ignored",
     ["https://ex.com/1?sid=9f3k2m7q1x8c -", "https://ex.com/1?sid=zz99zz99zz99 -"],
     ["url://ex.com/1?sid=9f3k2m7q1x8c", "url://ex.com/1?sid=zz99zz99zz99"]),
    ("empty listing", [], []),
]  # fmt: skip


def _readable(key: str) -> str:
    kind = key.split(":", 1)[0]
    return key if kind == "url" else kind


@pytest.mark.parametrize(("case", "listing", "keys"), KEYS, ids=[c[0] for c in KEYS])
def test_key_candidates(case: str, listing: list[str], keys: list[str]) -> None:
    fields = [[None if part == "-" else part for part in entry.split()] for entry in listing]
    candidates = [Candidate(link=link, title="Storm hits the coast", guid=guid) for link, guid in fields]
    keyed = key_candidates("wire", candidates)
    assert [cand for cand, _ in keyed] == candidates  # the same stories, in listing order
    assert [" ".join(_readable(k) for k in ks) for _, ks in keyed] == keys


def test_volatile_parameters_are_left_out_of_link_keys() -> None:
    cands = [Candidate(link="https://ex.com/1?p=2&sid=9f3k2m7q1x8c", title="Storm")]
    (_, keys), = keys_of("wire", cands, ["sid"])
    assert keys[0] == "url://ex.com/1?p=2"
    (_, before), = keys_of("wire", cands)
    assert before[1:] == keys[1:]  # the page-and-title key is the same either way


def test_guid_keys_belong_to_their_source() -> None:
    (_, one), = key_candidates("wire", [Candidate(link=None, title="A", guid="g")])
    (_, other), = key_candidates("agency", [Candidate(link=None, title="A", guid="g")])
    assert one != other


# (listing as (entry, keys), seen key → story id ("@key": an alias, not recorded yet), fresh entries,
# listed ids, new keys of seen stories)
SPLITS = [
    ("nothing seen", [("a", ["k1"]), ("b", ["k2"])], {}, ["a", "b"], set(), {}),
    ("empty listing", [], {"k1": 1}, [], set(), {}),
    ("seen under its only key", [("a", ["k1"])], {"k1": 7}, [], {7}, {}),
    ("seen under one key: the others are new keys", [("a", ["k1", "k2", "k3"])], {"k2": 7}, [], {7}, {7: ["k1", "k3"]}),
    ("keys of two stories: the oldest wins", [("a", ["k1", "k2"])], {"k1": 9, "k2": 4}, [], {4}, {}),
    ("seen and fresh keep listing order", [("a", ["k1"]), ("b", ["k2"]), ("c", ["k3"])], {"k2": 5}, ["a", "c"], {5}, {}),
    ("listed twice: new keys gathered", [("a", ["k1", "x"]), ("b", ["k1", "y"])], {"k1": 3}, [], {3}, {3: ["x", "y"]}),
    ("fresh entries are not deduplicated here", [("a", ["k1"]), ("b", ["k1"])], {}, ["a", "b"], set(), {}),
    ("entry without keys is fresh", [("a", [])], {"k1": 1}, ["a"], set(), {}),
    ("known by an alias: seen, the alias a new key", [("a", ["k1", "k2"])], {"@k1": 6}, [], {6}, {6: ["k1", "k2"]}),
    ("an alias and a seen key of two stories: the oldest", [("a", ["k1", "k2"])], {"@k1": 6, "k2": 3}, [], {3}, {3: ["k1"]}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "listing", "seen", "fresh", "listed", "new_keys"), SPLITS, ids=[c[0] for c in SPLITS]
)
def test_split_seen(
    case: str,
    listing: list[tuple[str, list[str]]],
    seen: dict[str, int],
    fresh: list[str],
    listed: set[int],
    new_keys: dict[int, list[str]],
) -> None:
    stored = {k: sid for k, sid in seen.items() if not k.startswith("@")}
    aliases = {k[1:]: sid for k, sid in seen.items() if k.startswith("@")}
    split = split_seen(listing, stored, aliases)
    assert [entry for entry, _ in split.fresh] == fresh
    assert all(list(keys) == dict(listing)[entry] for entry, keys in split.fresh)
    assert split.listed == listed
    assert split.new_keys == new_keys


# (listing as (entry, keys), entries kept)
REPEATS = [
    ("no repeats", [("a", ["k1"]), ("b", ["k2"])], ["a", "b"]),
    ("same key: the first listing stays", [("a", ["k1"]), ("b", ["k1"])], ["a"]),
    ("any shared key is a repeat", [("a", ["k1", "k2"]), ("b", ["k3", "k2"])], ["a"]),
    ("a dropped entry's keys are not taken", [("a", ["k1"]), ("b", ["k1", "k2"]), ("c", ["k2"])], ["a", "c"]),
    ("empty listing", [], []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "listing", "kept"), REPEATS, ids=[c[0] for c in REPEATS])
def test_drop_repeats(case: str, listing: Sequence[tuple[str, Sequence[str]]], kept: list[str]) -> None:
    assert [entry for entry, _ in drop_repeats(listing)] == kept


def test_split_seen_keeps_the_first_entry_of_each_seen_story() -> None:
    split = split_seen([("a", ["k1"]), ("b", ["k1", "k2"]), ("c", ["k3"])], {"k1": 4, "k2": 4})
    assert split.first == {4: ("a", ["k1"])}


def test_merge_keeps_the_later_fresh_and_both_seen() -> None:
    first: SeenSplit[str] = SeenSplit([("a", ["k1"])], {1, 2}, {1: ["x"]})
    later: SeenSplit[int] = SeenSplit([(10, ["k9"])], {2, 3}, {1: ["y"], 3: ["z"]})
    merged = first.merge(later)
    assert merged.fresh == [(10, ["k9"])]
    assert merged.listed == {1, 2, 3}
    assert merged.new_keys == {1: ["x", "y"], 3: ["z"]}
    assert first.new_keys == {1: ["x"]}  # the inputs are left as they were
