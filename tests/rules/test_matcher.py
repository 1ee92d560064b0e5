"""Matcher behaviour beyond single cases: ordering, many rules, languages, hostile input."""

from __future__ import annotations

import pytest

from monitor.models import STORY_TEXT_LIMIT, STORY_TITLE_LIMIT, STORY_URL_LIMIT, Story
from monitor.rules import Matcher, RuleSpec


def story(text: str, title: str = "", **kw: object) -> Story:
    return Story(source=str(kw.pop("source", "s")), url="https://news.example/1", title=title, text=text, **kw)  # type: ignore[arg-type]


def test_matches_come_in_rule_order_with_evidence() -> None:
    rules = [RuleSpec("z-last", "Japan"), RuleSpec("a-first", "defence"), RuleSpec("none", "Korea")]
    matcher = Matcher.compile(rules)
    assert len(matcher) == 3
    matches = matcher.match(story("Japan raised defence spending.", title="Budget"))
    assert [m.rule for m in matches] == ["z-last", "a-first"]
    hit = matches[0].hits[0]
    assert (hit.term, hit.field, hit.position, hit.start, hit.end) == ("Japan", "text", 0, 0, 5)
    assert matches[1].snippets[0].plain() == "Japan raised **defence** spending."


def test_the_rules_a_source_may_alert_whatever_the_story_says() -> None:
    rules = [
        RuleSpec("all", "Japan"),
        RuleSpec("nhk", "Japan", sources=("NHK",)),
        RuleSpec("asia", "Korea", tags=("asia",)),
        RuleSpec("bbc", "Japan", sources=("bbc",)),
    ]
    matcher = Matcher.compile(rules)
    assert matcher.limited and not Matcher.compile(rules[:1]).limited
    assert matcher.accepting(story("", source="nhk")) == {"all", "nhk"}
    assert matcher.accepting(story("", source="wire", outlet="NHK World", source_tags=("Asia",))) == {"all", "asia"}
    assert matcher.accepting(story("", source="wire", outlet="nhk")) == {"all", "nhk"}  # by its outlet


def test_many_rules_only_candidates_are_evaluated() -> None:
    rules = [RuleSpec(f"r{i}", f"word{i} NEAR/3 other{i}") for i in range(5000)]
    rules.append(RuleSpec("hit", "word42 NEAR/3 other7"))
    matcher = Matcher.compile(rules)
    s = story("word42 and then other7 appear; also word99 alone.")
    assert [m.rule for m in matcher.match(s)] == ["hit"]
    # word42 brings r42 and "hit"; other7 alone cannot bring r7 (its anchor set needs word7)
    assert sorted(matcher.candidates(s)) == [5000]


def test_each_language_gets_its_own_index() -> None:
    matcher = Matcher.compile([RuleSpec("de", "Sanktion"), RuleSpec("en", "sanction")])
    assert [m.rule for m in matcher.match(story("Neue Sanktionen", lang="de"))] == ["de"]
    assert [m.rule for m in matcher.match(story("new sanctions", lang="en"))] == ["en"]
    assert [m.rule for m in matcher.match(story("new sanctions"))] == ["en"]
    assert [m.rule for m in matcher.match(story("Neue Sanktionen", lang="xx-unknown"))] == []


def test_empty_rule_set_and_empty_story() -> None:
    assert Matcher.compile([]).match(story("anything")) == []
    assert Matcher.compile([RuleSpec("a", "Japan")]).match(story("", title="")) == []


def test_long_sentence_snippet_is_cut_around_the_hit() -> None:
    text = " ".join(["filler"] * 200) + " Japan " + " ".join(["filler"] * 200) + "."
    [match] = Matcher.compile([RuleSpec("a", "Japan")]).match(story(text))
    snippet = match.snippets[0]
    assert len(snippet.text) <= 300
    assert snippet.text.startswith("…") and snippet.text.endswith("…")
    assert "**Japan**" in snippet.plain()
    assert snippet.html().count("<mark>Japan</mark>") == 1


@pytest.mark.timeout(30)
def test_pathological_near_is_bounded() -> None:
    text = "a b " * 20_000
    matcher = Matcher.compile([RuleSpec("p", "(a NEAR/1000 b) NEAR/1000 (a OR b) NEAR/1000 a")])
    assert [m.rule for m in matcher.match(story(text))] == ["p"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "text",
    [
        "x" * 2_000_000,                           # one enormous word
        "." * 500_000 + " " * 500_000,             # punctuation and space runs (snippet regex)
        "a\u0301" * 200_000,                       # combining marks
        "\u200b".join(["word"] * 50_000),          # zero-width spaces
        "\u202e evil \u202c" * 10_000,             # bidi overrides
        "".join(chr(c) for c in range(1, 0x3000)),  # control characters and many scripts
        "-'-'-" * 100_000,                         # joiners without words
        "U.S." * 100_000,                          # abbreviation runs
    ],
)
def test_hostile_text_is_handled(text: str) -> None:
    matcher = Matcher.compile([RuleSpec("w", "word OR evil OR xx* OR US"), RuleSpec("n", "nothing")])
    result = matcher.match(story(text, title=text[:1000]))
    assert all(m.rule == "w" for m in result)
    for m in result:
        assert all(len(s.text) <= 300 for s in m.snippets)


def test_words_past_the_story_limits_are_never_searched() -> None:
    filler = "the council met again today " * (STORY_TEXT_LIMIT // 28 + 10)
    matcher = Matcher.compile(
        [
            RuleSpec("early", "aardvark"),
            RuleSpec("late", "zebrafish"),
            RuleSpec("late-title", "title:okapi"),
            RuleSpec("late-url", "url:quokka"),
        ]
    )
    long_story = Story(
        source="s",
        url="https://news.example/" + "a/" * STORY_URL_LIMIT + "quokka",
        title="word " * (STORY_TITLE_LIMIT // 5) + "okapi",
        text="aardvark " + filler + "zebrafish",
    )
    assert [m.rule for m in matcher.match(long_story)] == ["early"]
    within = Story(source="s", url="https://news.example/quokka", title="okapi", text="aardvark zebrafish")
    assert [m.rule for m in matcher.match(within)] == ["early", "late", "late-title", "late-url"]
