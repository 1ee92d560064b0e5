"""The rule stage's CLI: ``test-rule`` and ``match`` (formats and exit codes)."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.rules import match
from monitor.cli.rules import test_rule as rule_command
from tests.support.process import newsmonitor
from tests.support.yamlbombs import HOSTILE_FILES, LOAD_MEMORY

RULES = """\
- name: jp-defence
  query: Japan NEAR/5 defence
- name: sanctions
  query: sanction* -Russia
- name: acronym
  query: =US
"""


def write(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def test_test_rule_match_from_json(tmp_path: Path) -> None:
    body = {"title": "Budget", "text": "Mr. Abe said Japan will raise defense spending."}
    story = write(tmp_path, "s.json", json.dumps(body))
    result = CliRunner().invoke(rule_command, ["Japan NEAR/5 defence", story])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "MATCH"
    assert "terms:" in lines
    assert any("defence" in line and "'defense'" in line for line in lines)
    assert "  [text] Mr. Abe said **Japan** will raise **defense** spending." in lines


def test_test_rule_no_match_explains_terms(tmp_path: Path) -> None:
    story = write(tmp_path, "s.json", json.dumps({"title": "", "text": "Japan raised taxes."}))
    result = CliRunner().invoke(rule_command, ["Japan defence", story])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "NO MATCH"
    assert "found 1x" in result.output
    assert "not found" in result.output


def test_test_rule_invalid_query() -> None:
    result = CliRunner().invoke(rule_command, ["Japan AND (defence OR China))", "-"], input="x")
    assert result.exit_code == 2
    assert 'unexpected ")" at column 29' in result.output
    assert "^" in result.output


def test_test_rule_plain_text_from_stdin() -> None:
    result = CliRunner().invoke(rule_command, ["sanction", "-"], input="The EU imposed sanctions.\n")
    assert result.exit_code == 0
    assert "The EU imposed **sanctions**." in result.output


def test_test_rule_html_file(tmp_path: Path) -> None:
    page = write(tmp_path, "p.html", "<html><head><title>Rare earths</title></head><body><script>var sanctions;</script>"
                 "<p>China restricts exports of rare earths.</p></body></html>")
    result = CliRunner().invoke(rule_command, ['"rare earths" NEAR/5 export*', page])
    assert result.exit_code == 0, result.output
    assert "**rare earths**" in result.output.lower()
    result = CliRunner().invoke(rule_command, ["sanctions", page])
    assert result.exit_code == 1, "script text is not story text"


def test_test_rule_missing_file_and_blocked_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(rule_command, ["Japan", str(tmp_path / "nope.json")])
    assert result.exit_code == 2
    assert "error:" in result.output
    # loopback is refused by the fetcher's SSRF guard (or the URL stage is unavailable): exit 2, no traceback
    result = CliRunner().invoke(rule_command, ["Japan", "http://127.0.0.1:1/story"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_match_jsonl_formats_and_bad_lines(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.yaml", RULES)
    lines = [
        json.dumps({"id": 7, "title": "Japan", "text": "Japan will boost defence. The US agreed. New sanctions on Iran."}),
        json.dumps({"id": "b", "title": "Weather", "text": "Rain."}),
        "{not json",
        json.dumps({"title": "no id"}),
        "",
        json.dumps([1, 2]),
        json.dumps({"id": {"k": [1, None]}, "text": "sanctions on Russia", "url": "https://x.example/1", "lang": "en",
                    "published": "2026-01-01T10:00:00Z", "source": "wire"}),
        json.dumps({"id": 2.5, "text": 5}),
        json.dumps({"id": None, "text": "US sanctions"}),
    ]
    stories = write(tmp_path, "s.jsonl", "\n".join(lines) + "\n")
    result = CliRunner().invoke(match, ["--rules", rules, stories])
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.output.splitlines()]
    assert len(out) == 8  # the blank line produces nothing
    assert out[0]["id"] == 7
    assert [m["rule"] for m in out[0]["matches"]] == ["jp-defence", "sanctions", "acronym"]
    assert out[0]["matches"][0]["snippets"] == ["**Japan** will boost **defence**."]
    assert out[0]["matches"][2]["snippets"] == ["The **US** agreed."]
    assert out[1] == {"id": "b", "matches": []}
    assert out[2]["line"] == 3 and "invalid JSON" in out[2]["error"]
    assert out[3] == {"line": 4, "error": 'missing "id"'}
    assert out[4] == {"line": 6, "error": "not a JSON object"}
    assert out[5] == {"id": {"k": [1, None]}, "matches": []}
    assert out[6]["line"] == 8 and "text" in out[6]["error"]
    assert out[7]["id"] is None and [m["rule"] for m in out[7]["matches"]] == ["sanctions", "acronym"]


def test_match_stdin_and_all_good_exit_zero(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.yaml", RULES)
    result = CliRunner().invoke(match, ["--rules", rules, "-"], input=json.dumps({"id": 1, "text": "sanctions"}) + "\n")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"id": 1, "matches": [{"rule": "sanctions", "snippets": ["**sanctions**"],
                                                                "terms": ["sanction*"]}]}


def test_match_invalid_rules_exit_two(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.yaml", "- name: bad\n  query: 'a )'\n")
    result = CliRunner().invoke(match, ["--rules", rules, "-"], input="")
    assert result.exit_code == 2
    assert 'rule "bad": unexpected ")" at column 3' in result.output
    rules = write(tmp_path, "rules2.yaml", "- name: x\n")
    result = CliRunner().invoke(match, ["--rules", rules, "-"], input="")
    assert result.exit_code == 2 and '"query"' in result.output
    result = CliRunner().invoke(match, ["-"], input="")
    assert result.exit_code == 2


@pytest.mark.parametrize(("text", "says"), [c[1:] for c in HOSTILE_FILES], ids=[c[0] for c in HOSTILE_FILES])
async def test_a_hostile_rules_file_is_one_problem_at_its_line_and_exit_2(tmp_path: Path, text: str, says: str) -> None:
    """Issue 12: a rules file is read as the configuration is: a NUL byte was a problem with
    no line, deep nesting a traceback; an alias bomb is refused at its alias."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(text, encoding="utf-8")
    code, out, err = await newsmonitor("match", "--rules", str(rules), "-", memory=LOAD_MEMORY)
    assert code == 2, err[-3000:]
    assert err.strip().splitlines()[-1].startswith(f"error: {rules}{says}"), err
    assert "Traceback" not in err + out


def test_match_with_config(tmp_path: Path) -> None:
    config = write(tmp_path, "c.yaml", "rules:\n  - name: jp\n    query: Japan NEAR/3 defence\n")
    result = CliRunner().invoke(match, ["--config", config, "-"], input=json.dumps({"id": 1, "text": "Japan defence"}))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["matches"][0]["rule"] == "jp"
    bad = write(tmp_path, "bad.yaml", "rules:\n  - name: jp\n    query: 'Japan )'\n")
    result = CliRunner().invoke(match, ["--config", bad, "-"], input="")
    assert result.exit_code == 2
    assert "column 7" in result.output


STORY = {"title": "Budget", "text": "Mr. Abe said Japan will raise defense spending."}
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": lambda data: gzip.compress(data, mtime=0),
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


@pytest.mark.parametrize("suffix", list(COMPRESSORS))
@pytest.mark.parametrize(
    "content",
    [
        json.dumps(STORY),
        "<html><head><title>Budget</title></head><body><p>Mr. Abe said Japan will raise defense spending.</p>"
        "</body></html>",
        "Mr. Abe said Japan will raise defense spending.\n",
    ],
    ids=["json", "html", "text"],
)
def test_test_rule_reads_compressed_files(tmp_path: Path, suffix: str, content: str) -> None:
    path = tmp_path / f"story.{suffix}"
    path.write_bytes(COMPRESSORS[suffix](content.encode()))
    result = CliRunner().invoke(rule_command, ["Japan NEAR/5 defence", str(path)])
    assert result.exit_code == 0, result.output
    assert "**Japan** will raise **defense** spending" in result.output


def test_test_rule_reads_compressed_stdin() -> None:
    data = gzip.compress(b"The EU imposed sanctions.\n")
    result = CliRunner().invoke(rule_command, ["sanction", "-"], input=data)
    assert result.exit_code == 0, result.output
    assert "The EU imposed **sanctions**." in result.output


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00" + bytes(range(256)) * 8, "binary data"),
        ("story.gz", gzip.compress(b"\x00\x01\x02\x03" * 500, mtime=0), "gzip-compressed binary data"),
        ("cut.gz", gzip.compress(b"Japan defence " * 2000, mtime=0)[:60], "damaged gzip data"),
        ("bad.xz", b"\xfd7zXZ\x00" + b"not really xz" * 10, "damaged xz data"),
    ],
    ids=["png", "binary-in-gzip", "cut-gzip", "bad-xz"],
)
def test_test_rule_binary_or_damaged_input_is_one_clear_line(tmp_path: Path, name: str, data: bytes, says: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = CliRunner().invoke(rule_command, ["Japan", str(path)])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), result.output
    assert says in lines[0]
    assert "Traceback" not in result.output and "MATCH" not in result.output


def test_test_rule_utf16_text_is_text(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_bytes("Japan will raise defence spending.".encode("utf-16"))
    result = CliRunner().invoke(rule_command, ["Japan NEAR/5 defence", str(path)])
    assert result.exit_code == 0, result.output


def test_match_reads_a_compressed_archive(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.yaml", RULES)
    lines = [json.dumps({"id": i, "text": f"New sanctions on Iran, round {i}."}) for i in range(3)]
    archive = tmp_path / "stories.jsonl.gz"
    archive.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    result = CliRunner().invoke(match, ["--rules", rules, str(archive)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["id"] for o in out] == [0, 1, 2]
    assert all(o["matches"][0]["rule"] == "sanctions" for o in out)
    archive.write_bytes(archive.read_bytes()[:40])
    result = CliRunner().invoke(match, ["--rules", rules, str(archive)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"error: {archive}: " in result.output


TAGGED_CONFIG = """\
sources:
  - name: macworld
    feed: https://www.macworld.example/feed
    tags: [apple]
  - name: wire
    feed: https://wire.example/rss
    outlet: The Wire
rules:
  - name: apple-chips
    query: chip*
    tags: [apple]
  - name: wire-chips
    query: chip*
    sources: [The Wire]
"""


def test_match_with_config_gives_stories_their_source_tags(tmp_path: Path) -> None:
    config = write(tmp_path, "c.yaml", TAGGED_CONFIG)
    lines = [
        {"id": 1, "source": "macworld", "text": "New chips in the Mac."},
        {"id": 2, "source": "MacWorld", "text": "New chips in the Mac."},  # names are matched case aside
        {"id": 3, "source": "macworld", "source_tags": [], "text": "New chips."},  # the line's own tags win
        {"id": 4, "source": "tagged", "source_tags": ["apple"], "text": "New chips."},
        {"id": 5, "source": "wire", "text": "New chips."},  # the configured outlet
        {"id": 6, "source": "elsewhere", "text": "New chips."},
    ]
    result = CliRunner().invoke(match, ["--config", config, "-"], input="\n".join(json.dumps(x) for x in lines))
    assert result.exit_code == 0, result.output
    rules = {o["id"]: [m["rule"] for m in o["matches"]] for o in map(json.loads, result.stdout.splitlines())}
    assert rules == {1: ["apple-chips"], 2: ["apple-chips"], 3: [], 4: ["apple-chips"], 5: ["wire-chips"], 6: []}
    assert "(elsewhere)" in result.stderr and "rules limited by tags: do not match them" in result.stderr


def test_match_with_rules_file_reads_source_tags_from_the_line(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.yaml", "- name: apple-chips\n  query: chip*\n  tags: [apple]\n")
    lines = [
        {"id": 1, "source": "macworld", "source_tags": ["Apple"], "text": "New chips."},
        {"id": 2, "source": "macworld", "text": "New chips."},
    ]
    result = CliRunner().invoke(match, ["--rules", rules, "-"], input="\n".join(json.dumps(x) for x in lines))
    assert result.exit_code == 0, result.output
    assert [len(json.loads(o)["matches"]) for o in result.stdout.splitlines()] == [1, 0]
    assert result.stderr == ""


async def test_a_lone_surrogate_is_matched_and_printed_and_the_next_lines_too(tmp_path: Path) -> None:
    """Issue 12: a ``\\ud800`` escape in a matching title was a UnicodeEncodeError, and the
    lines after it were never read."""
    rules = write(tmp_path, "rules.yaml", RULES)
    lines = [
        '{"id": 1, "title": "New sanctions \\ud800 on Iran", "text": "x"}',
        '{"id": "b\\udc00", "text": "Japan will boost defence \\udbff."}',
        '{"id": 3, "text": "More sanctions."}',
    ]
    stories = write(tmp_path, "s.jsonl", "\n".join(lines) + "\n")
    code, out, err = await newsmonitor("match", "--rules", rules, stories)
    assert code == 0, err
    printed = out.splitlines()
    assert '"id": "b\\udc00"' in printed[1]  # the id reads back as it was given
    got = [json.loads(line) for line in printed]
    assert [o["id"] for o in got] == [1, "b\udc00", 3]
    assert got[0]["matches"][0]["snippets"] == ["New **sanctions** \ufffd on Iran"]
    assert got[1]["matches"][0]["snippets"] == ["**Japan** will boost **defence** \ufffd."]
    assert got[2]["matches"][0]["rule"] == "sanctions"

    story = write(tmp_path, "one.json", '{"title": "Sanctions \\ud800", "text": "New sanctions \\udfff today."}')
    code, out, err = await newsmonitor("test-rule", "sanction*", story)
    assert code == 0, err
    assert out.startswith("MATCH") and "[title] **Sanctions** \ufffd" in out and "Traceback" not in err


def test_test_rule_and_match_decide_the_language_as_the_daemon_does(tmp_path: Path) -> None:
    """A saved page on an English template holding a French article, and story lines with no
    language or the wrong one: ``lang:`` rules and inflections see the language of the text."""
    from tests.support.paths import DATA

    page = str(DATA / "lang" / "fr-article-declared-en.html")
    result = CliRunner().invoke(rule_command, ["lang:fr élection", page])
    assert result.exit_code == 0, result.output
    text = ("Die Außenminister der Europäischen Union haben am Montag in Brüssel ein weiteres Paket von "
            "Sanktionen beschlossen. Betroffen sind vor allem Banken und Energieunternehmen.")
    lines = [json.dumps({"id": 1, "title": "EU", "text": text}),
             json.dumps({"id": 2, "title": "EU", "text": text, "lang": "en"}),
             json.dumps({"id": 3, "title": "EU", "text": "Neue Sanktionen", "lang": "en"})]
    stories = write(tmp_path, "s.jsonl", "\n".join(lines) + "\n")
    rules = write(tmp_path, "rules.yaml", "- name: de\n  query: lang:de Sanktion\n")
    result = CliRunner().invoke(match, ["--rules", rules, stories])
    assert result.exit_code == 0, result.output
    found = {row["id"]: [m["rule"] for m in row["matches"]] for row in map(json.loads, result.output.splitlines())}
    assert found == {1: ["de"], 2: ["de"], 3: []}  # 3: too short to overrule its "en"


def test_match_keeps_the_compiled_rules_in_the_state_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.daemon import rulecache

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(rulecache, "CACHE_FROM", 1)  # the three rules are worth keeping here
    rules = write(tmp_path, "rules.yaml", RULES)
    stories = write(tmp_path, "s.jsonl", json.dumps({"id": 1, "text": "Japan will raise its defence budget"}) + "\n")
    first = CliRunner().invoke(match, ["--rules", rules, stories])
    (kept,) = (tmp_path / "state" / "newsmonitor" / "cache").iterdir()
    written = kept.stat().st_mtime_ns
    second = CliRunner().invoke(match, ["--rules", rules, stories])
    assert first.exit_code == second.exit_code == 0 and first.output == second.output
    assert '"rule": "jp-defence"' in second.output
    assert kept.stat().st_mtime_ns == written  # read back, not written again


TOPIC_STORY = {"title": "Beijing tightens licences for gallium and germanium exports",
               "text": "China's commerce ministry said exporters of gallium, germanium and several lanthanides "
                       "will need a licence from next month. Chip makers fear shortages."}
TOPIC = "export restrictions on critical minerals such as gallium and rare earths"


def test_test_rule_about_explains_the_score(tmp_path: Path) -> None:
    story = write(tmp_path, "s.json", json.dumps(TOPIC_STORY))
    result = CliRunner().invoke(rule_command, ["--about", TOPIC, story])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "MATCH"
    assert lines[1].startswith("topic: similarity 0.") and lines[1].endswith("reaches the threshold 0.300")
    assert lines[2] == f"  about: {TOPIC}"
    assert lines[3].startswith("  closest sentence (similarity 0.") and "exporters of gallium" in lines[3]
    assert any(line.startswith("  [text] (similarity 0.") and "**gallium**" in line for line in lines)

    # with a query that does not hold: no match, and both parts explained
    result = CliRunner().invoke(rule_command, ["--about", TOPIC, "Russia", story])
    assert result.exit_code == 1 and result.output.startswith("NO MATCH\ntopic: similarity 0.")
    assert "Russia                   not found" in result.output
    result = CliRunner().invoke(rule_command, ["--about", TOPIC, "--threshold", "0.9", "-"],
                                input=json.dumps(TOPIC_STORY))
    assert result.exit_code == 1 and "is below the threshold 0.900" in result.output


@pytest.mark.parametrize(("args", "says"), [
    (["--about", "minerals", "-"], "in a few words"),
    (["--about", TOPIC, "--threshold", "1.5", "-"], "between 0 and 1"),
    (["--threshold", "0.5", "gallium", "-"], "--threshold applies only with --about"),
])
def test_test_rule_refuses_bad_topic_options(args: list[str], says: str) -> None:
    result = CliRunner().invoke(rule_command, args, input="x")
    assert result.exit_code == 2 and says in result.output


def test_match_with_a_topic_rule_gives_its_similarity(tmp_path: Path) -> None:
    rules = write(tmp_path, "rules.yaml", f"- name: minerals\n  about: {TOPIC}\n- name: kw\n  query: gallium\n")
    stories = write(tmp_path, "s.jsonl", json.dumps({"id": 1, **TOPIC_STORY}) + "\n")
    result = CliRunner().invoke(match, ["--rules", rules, stories])
    assert result.exit_code == 0, result.output
    (minerals, kw) = json.loads(result.output)["matches"]
    assert minerals["rule"] == "minerals" and 0.4 <= minerals["similarity"] < 1 and minerals["terms"] == []
    assert kw["rule"] == "kw" and "similarity" not in kw
    bad = write(tmp_path, "bad.yaml", "- name: minerals\n  about: x\n- name: t\n  query: y\n  threshold: 0.5\n")
    result = CliRunner().invoke(match, ["--rules", bad, stories])
    assert result.exit_code == 2 and "bad.yaml:1:3: rules[0]" in result.output and "rules[1]" in result.output


def test_rules_lists_a_topic_rule_with_its_description(tmp_path: Path) -> None:
    from monitor.cli import main

    config = write(tmp_path, "nm.yaml", f"rules:\n  - name: minerals\n    about: {TOPIC}\n    threshold: 0.3\n"
                                        f"  - name: both\n    query: China\n    about: {TOPIC}\n")
    result = CliRunner().invoke(main, ["rules", "--config", config])
    assert result.exit_code == 0, result.output
    assert f"about: {TOPIC}" in result.output and f"China + about: {TOPIC}" in result.output
    result = CliRunner().invoke(main, ["rules", "--config", config, "--json"])
    first = json.loads(result.output)["rules"][0]
    assert (first["query"], first["about"], first["threshold"]) == ("", TOPIC, 0.3)
