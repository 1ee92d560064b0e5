"""Syndicated-story clustering: copies of one wire story cluster, different stories do not."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from monitor.identity.clusters import (
    MIN_WORDS,
    ClusterIndex,
    Copy,
    Signature,
    merge_threshold,
    settle_clusters,
    story_bands,
    text_signature,
    title_key,
    words,
)
from tests.support.paths import ROOT, need_corpus

WIRE = """The port authority said on Tuesday that a container ship ran aground near the northern breakwater \
after losing engine power during a storm, blocking the main shipping channel for at least two days.

No injuries were reported among the twenty-two crew members, who remained on board while salvage teams \
assessed the damage to the hull. Divers found a crack about three metres long below the waterline.

"We are doing everything we can to refloat the vessel safely and reopen the channel as soon as possible," \
the authority's director told reporters at a briefing on the quay.

Fuel was being pumped into a tanker as a precaution, and floating barriers were placed around the stern. \
Environmental inspectors said they had seen no sign of a leak so far but would keep monitoring the water.

Dozens of vessels were waiting at anchor outside the harbour, and two ferry operators cancelled their \
evening crossings. Traders warned that delays could push up prices for imported grain and fertiliser.

The ship, which was carrying furniture and electronics from Asia, had been due to unload at the container \
terminal on Wednesday. Its owner said it was cooperating fully with the investigation."""

OTHER = """City councillors voted on Monday to extend the tram line to the university campus, ending a \
decade of debate over the route and its cost, which planners now put at just over four hundred million.

The new section will add six stops and a depot, and construction is expected to begin next spring once \
the final contracts are signed. Opponents argued that buses would serve students more cheaply.

"This is a long-term investment in how people move around the city," the mayor said after the vote, \
adding that the regional government had promised to cover half of the bill.

Shop owners along the route have asked for compensation for the disruption during the works, and the \
council said it would set up a fund and a hotline for complaints before the first street is closed.

Students' associations welcomed the decision but said the line should run later at night. Transport \
officials said timetables would be drawn up after a public consultation in the autumn."""

# the same harbour topic, written independently: shares names and subject, not sentences
SAME_TOPIC = """Salvage crews worked through the night to free a cargo vessel stuck near the harbour's \
northern breakwater, where it drifted in heavy weather after its engines failed late on Monday.

Shipping has been halted in the main channel. Harbour officials estimate the closure will last two days, \
and ferries have cut services while the operation continues.

The twenty-two sailors aboard are safe, officials said. A specialist team was checking the hull, and a \
tanker came alongside to take off fuel so that the ship could be lightened before the next high tide.

Grain importers said a longer closure would be costly, with several bulk carriers already queuing offshore. \
The shipowner has promised a full inquiry into the engine failure and the crew's response.

Environmental groups called for stricter rules on ageing vessels using the port in winter, saying the \
incident was a warning. Inspectors reported no pollution in the water so far."""


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]


def copies(text: str) -> list[str]:
    """Five differently templated copies, as five sites would publish the same wire story."""
    paras = paragraphs(text)
    curly = text.replace('"', "\u201c").replace("'", "\u2019")
    return [
        # 1: dateline with agency in brackets, copyright footer
        "PARIS (AFP) - " + text + "\n\n\u00a9 2026 AFP. All rights reserved.",
        # 2: "AFP -" prefix, "Advertisement" between paragraphs, last paragraph trimmed
        "AFP - " + "\n\nAdvertisement\n\n".join(paras[:-1]),
        # 3: curly quotes, byline line, "Reporting by" trailer
        "By Staff Reporter | Wire\n\n" + curly + "\n\nReporting by Jane Doe; Editing by John Roe",
        # 4: site header, related links, newsletter box
        "Skip to content\nHome > World\nShare on Facebook\n\n" + text + "\n\nRead more: Storm latest\n"
        "Sign up for our daily newsletter",
        # 5: the plain wire text with spacing and dash changes
        text.replace(", ", " , ").replace(" - ", " \u2014 "),
    ]


def test_five_templated_copies_cluster_together() -> None:
    index = ClusterIndex()
    assigned = []
    for n, text in enumerate(copies(WIRE)):
        sig = text_signature(text)
        cluster = index.find(sig, None, 1000.0 + n) or f"story-{n}"
        index.add(cluster, sig, None, 1000.0 + n)
        assigned.append(cluster)
    assert assigned == ["story-0"] * 5


def test_different_stories_do_not_merge() -> None:
    index = ClusterIndex()
    index.add("harbour", text_signature(WIRE), None, 0.0)
    assert index.find(text_signature(OTHER), None, 10.0) is None
    assert index.find(text_signature(SAME_TOPIC), None, 10.0) is None
    assert text_signature(WIRE).similarity(text_signature(SAME_TOPIC)) < 0.2
    assert index.find(text_signature(copies(WIRE)[2]), None, 10.0) == "harbour"


def test_short_texts_never_merge_on_text_alone() -> None:
    teaser = "Ship runs aground near the northern breakwater; channel closed for two days, no injuries."
    assert len(words(teaser)) < MIN_WORDS
    index = ClusterIndex()
    index.add("a", text_signature(teaser), None, 0.0)
    assert index.find(text_signature(teaser), None, 1.0) is None
    assert len(index) == 0


@pytest.mark.parametrize(
    "title",
    [
        "Live updates",
        "Latest news",
        "Morning briefing",
        "Morning Briefing: everything you need to know about today's markets",
        "Live updates: Ukraine war day 500 as Russia strikes Kyiv again overnight",
        "LIVE: Election results from every constituency across the country tonight",
        "In pictures: the best photographs of the week from around the world",
        "Ship runs aground",  # too short
        "Storm closes port as ship runs aground",  # six words but under 40 characters
        "",
    ],
)
def test_generic_or_short_titles_do_not_merge(title: str) -> None:
    assert title_key(title) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Container ship runs aground near northern breakwater, blocking channel | Reuters",
            "Container ship runs aground near northern breakwater, blocking channel - BBC News",
        ),
        (
            "Container Ship Runs Aground Near Northern Breakwater, Blocking Channel",
            "\u201cCONTAINER SHIP RUNS AGROUND NEAR NORTHERN BREAKWATER, BLOCKING CHANNEL!\u201d",
        ),
        (
            "BREAKING: Container ship runs aground near northern breakwater, blocking channel",
            "Container ship runs aground near northern breakwater, blocking channel",
        ),
    ],
)
def test_specific_titles_merge_across_outlets(a: str, b: str) -> None:
    key = title_key(a)
    assert key is not None and key == title_key(b)
    index = ClusterIndex()
    index.add("c1", None, title_key(a), 0.0)
    assert index.find(None, title_key(b), 60.0) == "c1"


def test_window_expiry() -> None:
    window = 3600.0
    index = ClusterIndex(window_seconds=window)
    sig, tkey = text_signature(WIRE), title_key("Container ship runs aground near northern breakwater today")
    index.add("c1", sig, tkey, 0.0)
    assert index.find(sig, None, window) == "c1"
    assert index.find(None, tkey, window) == "c1"
    assert index.find(sig, None, window + 1) is None  # outside the window, even before expiry
    assert index.find(None, tkey, window + 1) is None
    index.expire(window - 1)
    assert len(index) == 2
    index.expire(window + 1)
    assert len(index) == 0
    assert index.find(sig, tkey, 10.0) is None


def test_title_sighting_keeps_the_first_cluster_and_extends_the_window() -> None:
    index = ClusterIndex(window_seconds=100.0)
    tkey = title_key("Container ship runs aground near northern breakwater today")
    index.add("first", None, tkey, 0.0)
    index.add("second", None, tkey, 90.0)
    index.expire(150.0)
    assert index.find(None, tkey, 180.0) == "first"


def test_best_match_wins() -> None:
    index = ClusterIndex()
    index.add("harbour", text_signature(WIRE), None, 0.0)
    index.add("tram", text_signature(OTHER), None, 0.0)
    assert index.find(text_signature(copies(OTHER)[1]), None, 5.0) == "tram"
    assert index.find(text_signature(copies(WIRE)[3]), None, 5.0) == "harbour"


def test_signature_round_trip_and_rejects_garbage() -> None:
    sig = text_signature(WIRE)
    again = Signature.from_bytes(sig.to_bytes())
    assert again == sig and again.similarity(sig) == 1.0 and again.words == sig.words
    for bad in (b"", b"garbage", sig.to_bytes()[:-4], b"XYZ" + sig.to_bytes()[3:]):
        with pytest.raises(ValueError, match="signature"):
            Signature.from_bytes(bad)


def test_signature_is_deterministic_across_processes() -> None:
    code = (
        "import sys; from monitor.identity.clusters import text_signature;"
        "sys.stdout.write(text_signature(sys.argv[1]).to_bytes().hex())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, WIRE], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert bytes.fromhex(out.stdout) == text_signature(WIRE).to_bytes()


def test_threshold_validation() -> None:
    with pytest.raises(ValueError, match="threshold"):
        ClusterIndex(threshold=0.0)


def test_cjk_text_gets_character_tokens() -> None:
    text = "港口管理局周二表示一艘集装箱船在北防波堤附近搁浅" * 6
    assert len(words(text)) > MIN_WORDS
    assert text_signature(text).similarity(text_signature("新华社 " + text)) > 0.8


def test_corpus_articles_cluster_with_their_copies() -> None:
    index_file = need_corpus("articles", "index.jsonl")
    rows = [json.loads(line) for line in index_file.open(encoding="utf-8")]
    rows = [r for r in rows if len(words(r["ground_truth"])) >= 150]
    rng = random.Random(3)
    sample = rng.sample(rows, 30)
    index = ClusterIndex()
    for n, row in enumerate(sample):
        index.add(row["url"], text_signature(row["ground_truth"]), None, float(n))
    for row in sample:
        for copy in copies(row["ground_truth"].replace("\n", "\n\n")):
            assert index.find(text_signature(copy), None, 50.0) == row["url"]


FILLER = (
    "\n\nOfficials said further details would be released in the coming days."
    "\n\nAnalysts said the announcement had been widely expected."
    "\n\nThe statement did not give a timetable for the next steps."
    "\n\nOpposition politicians said they would study the plans closely."
)


def test_short_stories_sharing_an_outlets_filler_do_not_merge() -> None:
    # one outlet's stock closing sentences make up much of two different short stories
    first = " ".join(WIRE.split()[:70]) + FILLER
    second = " ".join(OTHER.split()[:70]) + FILLER
    index = ClusterIndex()
    index.add("harbour", text_signature(first), None, 0.0)
    assert index.find(text_signature(second), None, 1.0) is None
    assert index.find(text_signature("AFP - " + first), None, 1.0) == "harbour"


def test_merge_threshold_is_higher_for_short_texts() -> None:
    assert merge_threshold(0.4, 500, 120) > merge_threshold(0.4, 500, 300) == 0.4


def test_settling_with_the_copies_a_band_lookup_found_decides_as_the_index_does() -> None:
    wire = [text_signature(c) for c in copies(WIRE)]
    title = "Container ship runs aground and blocks the northern harbour channel"
    known = [
        Copy("harbour", wire[0], None, 100.0),
        Copy("tram", text_signature(OTHER), title_key("City votes to extend the tram line to the campus at last"), 50.0),
        Copy("ancient", wire[1], None, 100.0 - 49 * 3600),  # outside the window
    ]
    new = [
        ("k1", wire[2], None),  # a copy of a known story: its cluster
        ("k2", None, title_key("City votes to extend the tram line to the campus at last | Daily")),  # by title
        ("k3", text_signature(SAME_TOPIC), title_key(title)),  # a new story
        ("k4", None, title_key(title + " - Wire")),  # the one just before, by title
    ]
    assert settle_clusters(known, new, 200.0, window_seconds=48 * 3600) == ["harbour", "tram", "k3", "k3"]
    assert story_bands(wire[2], None) != story_bands(wire[0], None)
    assert set(story_bands(wire[2], None)) & set(story_bands(wire[0], None))
