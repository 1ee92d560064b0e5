"""Word rates: what the candidate filter files a rule under."""

from __future__ import annotations

import wordfreq

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec, frequency
from monitor.rules import matcher as matcher_module
from monitor.rules.frequency import UNLISTED, prefix_rate, rates, word_rate


def test_the_list_read_directly_is_wordfreqs() -> None:
    """The rates read from the packaged file are those wordfreq's own API gives (the file
    is read without importing wordfreq, which pulls in ftfy and langcodes)."""
    path = frequency._list_path("en")
    assert path is not None
    assert frequency.read_list(path) == wordfreq.get_frequency_dict("en", "small")


def test_rates_are_folded_and_contractions_count_for_their_parts() -> None:
    en = rates("en")
    assert word_rate("the", en) > word_rate("government", en) > word_rate("tesla", en) > UNLISTED
    assert word_rate("xyzzyplugh", en) == UNLISTED
    # "aren't" is one word in the list, "aren" + "t" (and "arent") in a story
    assert word_rate("aren", en) > 1e-5
    assert word_rate("arent", en) > 1e-5
    # numbers as the list keeps them: any four-digit number is common
    assert word_rate("2019", en) > 1e-4
    # German words are folded as story words are: "über" is "uber"
    assert word_rate("uber", rates("de")) > 1e-4


def test_prefix_rate_adds_up_the_words_under_it() -> None:
    en = rates("en")
    assert prefix_rate("sanction", en) > word_rate("sanctions", en) + word_rate("sanctioned", en)
    assert prefix_rate("xyzzyq", en) == UNLISTED


def test_a_language_without_a_list_falls_back_to_word_length() -> None:
    assert rates("la").by_word == {}
    assert word_rate("anything", rates("la")) == UNLISTED


def test_rules_are_filed_under_their_rarest_words() -> None:
    """A name with a word the news uses all the time is filed under the name, however long
    the common word; a phrase under its word pair, never under its words again."""
    matcher = Matcher.compile([RuleSpec("t", "Tesla AND investigation"), RuleSpec("p", '"White House" recall')])
    index = matcher._index("en")
    # a small rule set has no pair features: the phrase is filed under its rarest word
    assert set(index.pairs) == {"tesla", "recall"}
    assert set(index.pairs["tesla"]) == {"investigation"}
    story = Story(source="s", url="", title="", text="The White House said the recall of Teslas was under investigation.")
    assert [m.rule for m in matcher.match(story)] == ["t", "p"]


def test_pairs_file_a_phrase_under_its_pair_then_its_other_words() -> None:
    specs = [RuleSpec("p", '"White House" report')]
    saved = matcher_module._PAIRS_FROM
    matcher_module._PAIRS_FROM = 0
    try:
        matcher = Matcher.compile(specs)
    finally:
        matcher_module._PAIRS_FROM = saved
    index = matcher._index("en")
    assert list(index.pairs) == [("white", "house")]
    [second] = index.pairs[("white", "house")]
    assert second == "report"
    # the phrase's own words are implied by the pair: not tested again, so the set has two
    # atoms and its rule is a candidate as soon as both are there
    assert index.pairs[("white", "house")]["report"] == [0]
    assert index.more == {}
