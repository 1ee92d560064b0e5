"""``output_lines`` (what ``newsmonitor match`` writes) against the way it wrote lines
before, byte for byte: ``_json_line`` of each line's output object, built whole, on seeded random lines
with everything the encoder escapes (quotes, backslashes, control characters, lone
surrogates), non-ASCII text, ids of every JSON type, rule names and terms that need
escaping, shared snippets, topic rules' similarities, and bad lines."""

from __future__ import annotations

import json
import random

import pytest

from monitor.cli.rules import _json_line, _line_story, output_lines
from monitor.rules import Matcher, RuleSpec, topics

WORDS = [
    "government", "sanctions", "minister", "Regierung", "gouvernement", "中国", "日本", "السعودية", "président",
    "oil", "gas", "energy", "market", "stocks", "price", "Apple", "Google", "privacy", "data", "city", "police",
    "said", "the", "and", "of", "a", "—", "“quoted”", '"quoted"', "back\\slash", "tab\there", "bell\x07",
    "esc\x1b[0m", "emoji🙂", "ünïcödé", "line\u2028sep", "nul\x00byte", "\ud800lone", "lone\udfff",
]
QUERIES = [
    "government", "sanction*", "oil OR gas", "Apple AND Google", "data NEAR/5 privacy", "title:government",
    '"prime minister"', "price* NOT stocks", "police", "market*", "city", "président", "中国", "energy OR oil",
]
NAMES = ['r"q"', "r\\b", "rè", "r\x01", "r\ud800", "r 中国", "plain", "r\n", "r\u2028", "rule/7"]


def random_id(rng: random.Random) -> object:
    return rng.choice([
        rng.randrange(-10**20, 10**20), rng.random() * 10 ** rng.randrange(-8, 20), "id\ud800x", "é—\"\\",
        None, True, [1, "two", {"three": 3.5}], {"nested": ["x", None, 1e300]}, "", rng.randrange(1000),
    ])


def random_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) + rng.choice(["", "", ".", ",", "\n"]) for _ in range(words))


def random_lines(rng: random.Random, count: int) -> list[str]:
    lines = []
    for _ in range(count):
        obj: dict[str, object] = {"id": random_id(rng), "title": random_text(rng, rng.randrange(0, 12)),
                                  "text": random_text(rng, rng.randrange(0, 400))}
        if rng.random() < 0.3:
            obj["lang"] = rng.choice(["en", "de", "fr", "", "zh-CN"])
        line = json.dumps(obj, ensure_ascii=rng.random() < 0.5)
        lines.append(rng.choice([line] * 8 + ["{not json", "[1, 2]", '{"title": "no id"}', '{"id": 1, "text": 5}', "  "]))
    return lines


def reference(matcher: Matcher, lines: list[str], evidence: bool) -> list[tuple[str, bool]]:
    """Each non-blank line's output object, built whole and encoded by ``_json_line``."""
    out: list[tuple[str, bool]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        read = _line_story(number, line, None)
        if isinstance(read, dict):
            out.append((_json_line(read), False))
            continue
        obj, story = read
        matches = []
        for m in matcher.match(story):
            entry: dict[str, object] = {"rule": m.rule}
            if evidence:
                entry["snippets"] = [snippet.plain() for snippet in m.snippets]
                entry["terms"] = sorted({hit.term for hit in m.hits})
            if m.topic is not None:
                entry["similarity"] = m.topic.similarity
            matches.append(entry)
        out.append((_json_line({"id": obj["id"], "matches": matches}), True))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_output_lines_are_the_reference_lines(seed: int) -> None:
    rng = random.Random(seed)
    matcher = Matcher.compile([RuleSpec(rng.choice(NAMES) + str(i), query) for i, query in enumerate(QUERIES)]
                              + [RuleSpec(name, rng.choice(QUERIES)) for name in NAMES])
    lines = random_lines(rng, 60)
    for evidence in (True, False):
        written = list(output_lines(matcher, lines, evidence=evidence))
        assert written == reference(matcher, lines, evidence)
    assert sum('"snippets": ["' in line for line, _ in written) == 0  # (the last pass: names only)
    written = list(output_lines(matcher, lines))
    assert sum('"snippets": ["' in line for line, _ in written) > 10  # it tests something
    assert any('\\ud800' in line for line, _ in written) and not any(valid for line, valid in written if "error" in line)
    # ``match`` writes the lines without click's search for ANSI codes to strip: there is none
    assert any("\\u001b[0m" in line for line, _ in written)
    assert not any(chr(c) in line for line, _ in written for c in range(0x20))


@pytest.mark.skipif(not topics.available(), reason="needs the topics extra")
def test_output_lines_give_a_topic_rules_similarity_as_the_encoder_does() -> None:
    about = "export restrictions on critical minerals such as gallium and rare earths"
    matcher = Matcher.compile([RuleSpec("minerals", "", about=about), RuleSpec("both", "gallium", about=about),
                               RuleSpec("kw", "gallium")])
    text = ("China's commerce ministry said exporters of gallium, germanium and several lanthanides "
            "will need a licence from next month. Chip makers fear shortages.")
    lines = [json.dumps({"id": i, "title": "Beijing tightens licences for gallium exports", "text": text * (i + 1)})
             for i in range(3)]
    for evidence in (True, False):
        written = list(output_lines(matcher, lines, evidence=evidence))
        assert written == reference(matcher, lines, evidence)
        assert all('"similarity": 0.' in line for line, _ in written)


def test_plain_renders_as_the_snippets_own_plain() -> None:
    from monitor.cli.rules import _plain
    from monitor.models import Snippet

    rng = random.Random(7)
    for _ in range(3000):
        text = random_text(rng, rng.randrange(0, 12))
        spans = tuple((rng.randrange(-3, len(text) + 3), rng.randrange(-3, len(text) + 3))
                      for _ in range(rng.choice([0, 1, 1, 1, 2, 3])))
        snippet = Snippet(text, spans)
        assert _plain(snippet) == snippet.plain()


def test_has_surrogates_finds_every_surrogate_code_point() -> None:
    """``_has_surrogates`` (a strict encoding) against a search for U+D800-U+DFFF, on seeded
    random texts of every string width, with lone surrogates, pairs of them and astral
    characters."""
    import re

    from monitor.cli.rules import _has_surrogates

    alphabet = ["a", " ", '"', "é", "ÿ", "—", "中", "\ud7ff", "\ue000", "\uffff", "🙂", "\U0010ffff",
                "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d\ude00"]
    rng = random.Random(11)
    texts = ["", "plain", "\ud800", "\ud83d\ude00"]
    for _ in range(3000):
        weights = [rng.random() for _ in alphabet]
        texts.append("".join(rng.choices(alphabet, weights, k=rng.randrange(0, 40))))
    assert sum(_has_surrogates(t) for t in texts) > 500
    assert [_has_surrogates(t) for t in texts] == [re.search("[\ud800-\udfff]", t) is not None for t in texts]
