"""The compiled-rules cache: a start or reload whose rules did not change compiles nothing (issue 14).

A damaged, stale or foreign file is ignored and replaced, never an error; the header is read
without running any code; a reload whose rules are the running ones keeps the running matcher.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
from pathlib import Path

import pytest
import yaml

from monitor.config import Config, load_config
from monitor.config import queries as queries_module
from monitor.config.queries import QueryCheck
from monitor.config.rulesection import checked_rules_of
from monitor.daemon import rulecache
from monitor.daemon.rulecache import MAGIC, CompiledRules, RuleCache, compile_rules, rule_specs
from monitor.daemon.runtime import enabled_rules
from monitor.daemon.service import Daemon
from monitor.errors import ConfigError
from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from tests.support.configs import config_data
from tests.support.matching import index_builds

SPECS = [
    RuleSpec("storm", "storm NEAR/5 coast"),
    RuleSpec("quake", 'earthquake OR "seismic event"', tags=("world",)),
    RuleSpec("local", "flood*", sources=("wire",)),
]
STORY = Story(source="wire", url="https://news.example/1", title="Floods", text="A storm hit the coast; flooding.")


def matched(matcher: Matcher) -> list[str]:
    return [m.rule for m in matcher.match(STORY)]


def no_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> Matcher:
        raise AssertionError("compiled")

    monkeypatch.setattr(Matcher, "compile", refuse)


@pytest.fixture
def cache(tmp_path: Path) -> RuleCache:
    return RuleCache.for_file(str(tmp_path / "newsmonitor.yaml"), tmp_path / "cache", min_rules=1)


def test_the_same_rules_are_read_back_not_compiled(cache: RuleCache, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = cache.compile(SPECS)
    assert cache.path is not None and cache.path.read_bytes().startswith(MAGIC)
    assert os.stat(cache.path).st_mode & 0o777 == 0o600
    assert [p.name for p in cache.path.parent.iterdir()] == [cache.path.name]  # no temporary file left
    no_compiling(monkeypatch)
    again = RuleCache(cache.path, min_rules=1).compile(SPECS)
    assert again.digest == compiled.digest and again.matcher is not compiled.matcher
    assert matched(again.matcher) == matched(compiled.matcher) == ["storm", "local"]


@pytest.mark.parametrize(
    "changed",
    [
        [*SPECS[:2], RuleSpec("local", "flood* -dam", sources=("wire",))],  # a query
        [*SPECS[:2], RuleSpec("local2", "flood*", sources=("wire",))],  # a name
        [*SPECS[:2], RuleSpec("local", "flood*", sources=("agency",))],  # what it is limited to
        [SPECS[1], SPECS[0], SPECS[2]],  # the order (matches are reported in it)
        SPECS[:2],  # one rule fewer
        [*SPECS, RuleSpec("topic", "", about="storms and floods on the coast")],  # a topic rule
        [*SPECS[:2], RuleSpec("local", "flood*", sources=("wire",), about="floods after heavy rain")],  # a topic
        [*SPECS[:2], RuleSpec("local", "flood*", sources=("wire",), about="floods after heavy rain",
                              threshold=0.9)],  # a topic's threshold
    ],
)
def test_other_rules_are_compiled_and_replace_the_file(cache: RuleCache, changed: list[RuleSpec]) -> None:
    first = cache.compile(SPECS)
    second = cache.compile(changed)
    assert second.digest != first.digest
    assert matched(second.matcher) == [m.rule for m in Matcher.compile(changed).match(STORY)]
    assert RuleCache(cache.path, min_rules=1).compile(changed).digest == second.digest


def test_a_cached_set_with_topic_rules_reads_back_and_matches(
    cache: RuleCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = [*SPECS, RuleSpec("coast", "", about="a storm and floods on the coast"),
             RuleSpec("strict", "", about="a storm and floods on the coast", threshold=0.99)]
    compiled = cache.compile(specs)
    assert matched(compiled.matcher) == ["storm", "local", "coast"]
    no_compiling(monkeypatch)
    again = RuleCache(cache.path, min_rules=1).compile(specs)
    assert again.matcher is not compiled.matcher and matched(again.matcher) == ["storm", "local", "coast"]
    assert [m.topic for m in again.matcher.match(STORY)] == [m.topic for m in compiled.matcher.match(STORY)]


def test_other_code_makes_the_file_stale(cache: RuleCache, monkeypatch: pytest.MonkeyPatch) -> None:
    first = cache.compile(SPECS)
    # a change to the rules package, the newsmonitor or Python version, or a library's
    monkeypatch.setattr(rulecache, "code_version", lambda: "other code")
    calls: list[int] = []
    compile_ = Matcher.compile
    monkeypatch.setattr(Matcher, "compile", lambda *a, **k: calls.append(1) or compile_(*a, **k))
    again = cache.compile(SPECS)
    assert calls == [1] and again.digest != first.digest


def test_the_digest_covers_the_code(cache: RuleCache) -> None:
    version = rulecache.code_version()
    assert "newsmonitor " in version and "Python " in version and "rules " in version
    assert "simplemma=" in version  # a library the rules package imports
    source = (
        'import re\nfrom lemminflect.core import x\nspec = importlib.util.find_spec("wordfreq")\n'
        "from monitor.rules import y\nfrom its notes, in a docstring\nimport numpy as np\n"
    )
    assert rulecache._top_level_imports(source) == {"lemminflect", "wordfreq", "numpy"}


def damaged(data: bytes) -> list[bytes]:
    header_end = len(MAGIC) + len(pickle.dumps(pickle.loads(data[len(MAGIC):])))
    return [
        b"",
        b"not a cache file",
        data[: len(MAGIC) + 10],  # cut inside the header
        data[: header_end + 100],  # cut inside the matcher
        data[:header_end] + b"\x80\x05garbage",  # a matcher that is not a pickle
        data[:header_end] + pickle.dumps({"not": "a matcher"}),
        MAGIC + pickle.dumps(("code", "digest")),  # a header of another shape
    ]


@pytest.mark.parametrize("case", range(7))
def test_a_damaged_file_is_ignored_and_replaced(cache: RuleCache, case: int) -> None:
    assert cache.path is not None
    cache.compile(SPECS)
    cache.path.write_bytes(damaged(cache.path.read_bytes())[case])
    compiled = cache.compile(SPECS)
    assert matched(compiled.matcher) == ["storm", "local"]
    assert pickle.loads(cache.path.read_bytes()[len(MAGIC):])[1] == compiled.digest  # written again


def test_a_file_others_may_write_is_not_read(cache: RuleCache, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache.path is not None
    cache.compile(SPECS)
    cache.path.chmod(0o666)
    assert cache.queries().known == {}
    calls: list[int] = []
    compile_ = Matcher.compile
    monkeypatch.setattr(Matcher, "compile", lambda *a, **k: calls.append(1) or compile_(*a, **k))
    cache.compile(SPECS)
    assert calls == [1]
    assert cache.path.stat().st_mode & 0o777 == 0o600  # written again, as ours alone


class _Runs:
    """Unpickled, it would call ``os.mkdir(path)``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.path),)


def test_the_header_runs_no_code(cache: RuleCache, tmp_path: Path) -> None:
    assert cache.path is not None
    cache.path.parent.mkdir()
    marker = tmp_path / "ran"
    cache.path.write_bytes(MAGIC + pickle.dumps(_Runs(marker)))
    cache.path.chmod(0o600)
    assert cache.queries().known == {}
    assert not marker.exists()


def test_a_cache_that_cannot_be_written_is_only_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "cache").write_text("a file where the directory should be")
    cache = RuleCache(tmp_path / "cache" / "rules.pickle", min_rules=1)
    with caplog.at_level(logging.WARNING, logger="monitor.daemon"):
        compiled = cache.compile(SPECS)
    assert matched(compiled.matcher) == ["storm", "local"]
    assert "cannot write the cache" in caplog.text


def test_small_rule_sets_are_not_kept(tmp_path: Path) -> None:
    cache = RuleCache(tmp_path / "rules.pickle", min_rules=4)
    cache.compile(SPECS)
    assert not (tmp_path / "rules.pickle").exists()


def test_the_running_rules_are_kept_when_they_did_not_change(cache: RuleCache) -> None:
    running = cache.compile(SPECS)
    assert cache.compile(list(SPECS), running=running) is running
    assert cache.compile(SPECS[:2], running=running) is not running


# ---------------------------------------------------------------------------- the indexes of other languages

#: German inflections: the German index files the lemma of each word (``Küsten`` → ``Küste``)
GERMAN = [RuleSpec("sturm", "Stürme NEAR/5 Küste"), RuleSpec("flut", "Flut* OR Hochwasser", sources=("wire",)),
          RuleSpec("fremd", "Erdbeben")]
GERMAN_STORY = Story(source="wire", url="https://news.example/de", title="Stürme an den Küsten", lang="de",
                     text="Schwere Stürme trafen am Montag die Küsten; das Hochwasser stieg weiter.")


def german_matches(matcher: Matcher) -> list[tuple[str, tuple[str, ...]]]:
    return [(m.rule, tuple(s.plain() for s in m.snippets)) for m in matcher.match(GERMAN_STORY)]


def test_a_languages_index_is_kept_and_read_back_not_built(cache: RuleCache, monkeypatch: pytest.MonkeyPatch) -> None:
    first = cache.compile(GERMAN)
    expected = german_matches(first.matcher)
    assert [rule for rule, _ in expected] == ["sturm", "flut"]
    cache.keep_indexes(first)
    assert cache.path is not None
    kept = cache.path.with_suffix(".de.pickle")
    assert kept.read_bytes().startswith(rulecache.INDEX_MAGIC) and kept.stat().st_mode & 0o777 == 0o600
    built = index_builds(monkeypatch)
    again = RuleCache(cache.path, min_rules=1).compile(GERMAN)
    assert german_matches(again.matcher) == expected
    assert built == []  # English's came with the matcher, German's from its file
    assert german_matches(Matcher.compile(GERMAN)) == expected
    assert built == ["en", "de"]


def test_a_kept_index_is_written_once(cache: RuleCache, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = cache.compile(GERMAN)
    german_matches(compiled.matcher)
    cache.keep_indexes(compiled)
    assert cache.path is not None
    kept = cache.path.with_suffix(".de.pickle")
    kept.unlink()
    cache.keep_indexes(compiled)  # this process wrote it already
    assert not kept.exists()
    reader = RuleCache(cache.path, min_rules=1)
    again = reader.compile(GERMAN)
    german_matches(again.matcher)
    reader.keep_indexes(again)  # built again (the file was gone): written again
    assert kept.exists()
    written = kept.stat().st_mtime_ns
    third = RuleCache(cache.path, min_rules=1)
    german_matches(third.compile(GERMAN).matcher)
    third.keep_indexes(third.compile(GERMAN))  # read from its file: not written again
    assert kept.stat().st_mtime_ns == written


def test_the_index_of_other_rules_is_not_taken(cache: RuleCache, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of the rules before a change (or of other code, or damaged, or that others may
    write) is ignored: the index is built, and the answers are those of the new rules."""
    old = cache.compile(GERMAN)
    german_matches(old.matcher)
    cache.keep_indexes(old)
    assert cache.path is not None
    kept = cache.path.with_suffix(".de.pickle")
    changed = [GERMAN[0], RuleSpec("flut", "Hochwasser NOT Küste", sources=("wire",)), GERMAN[2]]
    expected = german_matches(Matcher.compile(changed))
    assert [rule for rule, _ in expected] == ["sturm"]
    built = index_builds(monkeypatch)
    assert german_matches(RuleCache(cache.path, min_rules=1).compile(changed).matcher) == expected
    assert built == ["en", "de"]
    for damage in (lambda: kept.write_bytes(kept.read_bytes()[:-40]), lambda: kept.chmod(0o666)):
        cache.compile(GERMAN)  # the main file of these rules again, and their index's
        kept.unlink(missing_ok=True)
        RuleCache(cache.path, min_rules=1).keep_indexes(old)
        damage()
        built.clear()
        assert german_matches(RuleCache(cache.path, min_rules=1).compile(GERMAN).matcher) == german_matches(
            old.matcher)
        assert built == ["de"]


def test_the_index_reader_is_neither_pickled_nor_patched_into_other_rules(cache: RuleCache) -> None:
    rules = [*GERMAN, *(RuleSpec(f"f{i}", f"Wort{i}") for i in range(20))]  # enough to patch one
    compiled = cache.compile(rules)
    german_matches(compiled.matcher)
    cache.keep_indexes(compiled)
    loaded = RuleCache(cache.path, min_rules=1).compile(rules).matcher
    assert loaded._stored_index is not None
    assert pickle.loads(pickle.dumps(loaded))._stored_index is None
    changed = [*rules[:2], RuleSpec("fremd", "Erdbeben OR Beben"), *rules[3:]]
    patched = Matcher.compile(changed, previous=loaded)
    assert patched._stored_index is None and patched._patches == 1


# ---------------------------------------------------------------------------- queries known


def test_the_stored_queries_are_not_parsed_again(cache: RuleCache, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [*SPECS, RuleSpec("advice", "Japan and defence")]
    queries = QueryCheck()
    for spec in specs:
        queries.hints(spec.query)
    cache.compile(specs, queries)
    known = cache.queries()
    monkeypatch.setattr("monitor.config.queries.parse_query", lambda query: pytest.fail(f"parsed {query!r}"))
    assert known.hints("storm NEAR/5 coast") == ()
    (hint,) = known.hints("Japan and defence")
    assert (hint.word, hint.column, hint.operator) == ("and", 7, "AND")


def test_a_checked_file_gives_the_same_warnings_from_known_queries(tmp_path: Path) -> None:
    path = tmp_path / "newsmonitor.yaml"
    rules = [{"name": "advice", "query": "Japan and defence"}, {"name": "bad", "query": "a AND (", "enabled": False}]
    data = config_data(tmp_path, sources=[], rules=rules, notifiers={"desk": "json://127.0.0.1:1/x"}, allow=[])
    path.write_text(yaml.safe_dump({**data, "rules": rules[:1]}))
    cache = RuleCache.for_file(str(path), tmp_path / "cache", min_rules=1)
    queries = cache.queries()
    config = load_config(str(path), queries=queries)
    cache.compile(rule_specs(enabled_rules(config)), queries)
    again = load_config(str(path), queries=cache.queries())
    assert again.warnings == config.warnings and '"and" at column 7' in again.warnings[0]
    # a query the cached set does not know is still checked, disabled or not
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"rules\[1\]\.query"):
        load_config(str(path), queries=cache.queries())


# ---------------------------------------------------------------------------- the daemon


async def test_a_reload_with_the_same_rules_keeps_the_running_matcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "newsmonitor.yaml"
    rules = [{"name": s.name, "query": s.query} for s in SPECS]
    data = config_data(tmp_path, sources=[], rules=rules, notifiers={"desk": "json://127.0.0.1:1/x"}, allow=[])
    path.write_text(yaml.safe_dump(data))
    daemon = Daemon(load_config(str(path)), workers=0)
    try:
        matcher = daemon.rt.matcher
        data["notifiers"]["desk2"] = "json://127.0.0.1:1/y"  # another setting changed
        path.write_text(yaml.safe_dump(data))
        assert await daemon.reload()
        assert daemon.rt.matcher is matcher and "desk2" in daemon.rt.targets
        # one rule changed: only its query is parsed, the others are the running rules'
        parsed: list[str] = []
        parse = queries_module.parse_query
        monkeypatch.setattr(queries_module, "parse_query", lambda query: parsed.append(query) or parse(query))
        monkeypatch.setattr("monitor.rules.matcher.parse_query", lambda query: pytest.fail(f"parsed {query!r}"))
        data["rules"] = [*rules[:2], {"name": "local", "query": "flood* OR dam"}]
        path.write_text(yaml.safe_dump(data))
        assert await daemon.reload()
        assert daemon.rt.matcher is not matcher and parsed == ["flood* OR dam"]
        assert [m.rule for m in daemon.rt.matcher.match(STORY)] == ["storm", "local"]
    finally:
        await daemon.close()


def test_the_queries_a_check_parsed_are_compiled_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    queries = QueryCheck()
    for spec in SPECS:
        queries.hints(spec.query)
    monkeypatch.setattr("monitor.rules.matcher.parse_query", lambda query: pytest.fail(f"parsed {query!r}"))
    assert matched(compile_rules(SPECS, queries).matcher) == ["storm", "local"]


# ---------------------------------------------------------------------------- the rules section kept with the set

CONFIG = """\
database: sqlite:///{db}
notifiers:
  desk: "json://127.0.0.1:1/x"
defaults:
  notify: [desk]
rules:
  - name: storm
    query: "storm NEAR/5 coast"
  - name: quake
    query: earthquake OR "seismic event"
  - name: local
    query: flood*
"""


def started(path: Path, cache: RuleCache) -> tuple[Config, CompiledRules]:
    """What `run` does before its first poll: the cache's known queries and section, the file, the rules."""
    queries, known = cache.known()
    config = load_config(str(path), queries=queries, known_rules=known)
    return config, cache.compile(lambda: rulecache.rule_specs(enabled_rules(config)), queries,
                                 checked=checked_rules_of(config))


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "newsmonitor.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "state.db"))
    return path


def test_a_start_with_the_same_rules_section_reads_no_rule(
    config_file: Path, cache: RuleCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, compiled = started(config_file, cache)
    no_compiling(monkeypatch)
    monkeypatch.setattr(rulecache, "rule_specs", lambda rules: pytest.fail("rules listed"))
    monkeypatch.setattr("monitor.config.check.check_rules_alone", lambda *a: pytest.fail("rules checked"))
    again, read = started(config_file, cache)
    assert checked_rules_of(again) is not None and read.digest == compiled.digest
    assert again.settings.model_dump() == config.settings.model_dump()
    assert matched(read.matcher) == matched(compiled.matcher) == ["storm", "local"]


def test_a_changed_rule_of_the_same_size_is_compiled(config_file: Path, cache: RuleCache) -> None:
    _, compiled = started(config_file, cache)
    config_file.write_text(config_file.read_text().replace("query: flood*", "query: storm*"))
    config, again = started(config_file, cache)
    assert again.digest != compiled.digest and [r.query for r in config.settings.rules][2] == "storm*"
    assert matched(again.matcher) == ["storm", "local"]
    assert cache.known()[1] is not None and cache.known()[1].digest == checked_rules_of(config).digest  # type: ignore[union-attr]


def test_a_damaged_section_is_ignored_with_one_line(
    config_file: Path, cache: RuleCache, caplog: pytest.LogCaptureFixture
) -> None:
    started(config_file, cache)
    assert cache.path is not None
    data = cache.path.read_bytes()
    header_end = len(MAGIC) + len(pickle.dumps(pickle.loads(data[len(MAGIC):])))
    cache.path.write_bytes(data[:header_end] + b"\x80\x05damaged")
    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        queries, known = cache.known()
    assert known is None and queries.known  # the queries are still known
    assert [r.message for r in caplog.records] == [f"rules: ignoring the damaged cache {cache.path} (UnpicklingError)"]
    config, _ = started(config_file, cache)  # read in full and written again
    assert checked_rules_of(config) is not None and cache.known()[1] is not None


def test_a_cache_of_another_version_is_ignored_with_one_line(
    config_file: Path, cache: RuleCache, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    started(config_file, cache)
    monkeypatch.setattr(rulecache, "code_version", lambda: "other code")
    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        assert cache.known()[1] is None
    assert [r.message for r in caplog.records] == [
        f"rules: ignoring the cache {cache.path} (written by another version, or damaged)"
    ]


async def test_a_reload_with_the_same_rules_section_reads_no_rule(
    config_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = Daemon(load_config(str(config_file)), workers=0)
    try:
        rules, matcher = daemon.rt.rules, daemon.rt.matcher
        config_file.write_text(config_file.read_text().replace("notify: [desk]", "notify: [desk, desk2]").replace(
            "  desk:", '  desk2: "json://127.0.0.1:1/y"\n  desk:'))
        with monkeypatch.context() as patched:
            patched.setattr("monitor.config.check.check_rules_alone", lambda *a: pytest.fail("rules checked"))
            patched.setattr("monitor.daemon.runtime.rule_specs", lambda rules: pytest.fail("rules listed"))
            assert await daemon.reload()
        assert daemon.rt.matcher is matcher and "desk2" in daemon.rt.targets
        assert all(a is b for a, b in zip(daemon.rt.rules, rules, strict=True))
        assert daemon.rt.config.rule_targets(daemon.rt.rules[0]) == ["desk", "desk2"]
        # one rule changed, the file's size the same: read again and compiled
        config_file.write_text(config_file.read_text().replace("query: flood*", "query: storm*"))
        assert await daemon.reload()
        assert daemon.rt.matcher is not matcher and daemon.rt.rules[2].query == "storm*"
    finally:
        await daemon.close()


async def test_the_daemon_writes_the_rules_once_it_runs_not_before(config_file: Path, tmp_path: Path) -> None:
    cache = RuleCache.for_file(str(config_file), tmp_path / "cache", min_rules=1)
    daemon = Daemon(load_config(str(config_file)), workers=0, rule_cache=cache)
    assert cache.path is not None and not cache.path.exists()  # the start did not wait for it
    try:
        config_file.write_text(config_file.read_text().replace("query: flood*", "query: storm*"))
        assert await daemon.reload()
        await asyncio.gather(*daemon._writes)  # written on the CPU thread after the reload
        known = cache.known()[1]
        assert known is not None and known.digest == checked_rules_of(daemon.rt.config).digest  # type: ignore[union-attr]
    finally:
        await daemon.close()
    # a daemon that never ran (`once`) writes what it compiled when it closes
    cache.path.unlink()
    daemon = Daemon(load_config(str(config_file)), workers=0, rule_cache=cache)
    await daemon.close()
    assert cache.known()[1] is not None


async def test_a_closing_daemon_keeps_the_indexes_its_stories_made_it_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A story in German made the daemon's matcher build German's index: the daemon writes it
    when it closes, and the next start's matcher reads it rather than build it."""
    path = tmp_path / "newsmonitor.yaml"
    path.write_text(CONFIG.format(db=tmp_path / "state.db").split("rules:")[0] + "rules:\n" + "".join(
        f"  - name: {spec.name}\n    query: \"{spec.query}\"\n" for spec in GERMAN))

    def start() -> Daemon:
        cache = RuleCache.for_file(str(path), tmp_path / "cache", min_rules=1)
        return Daemon(load_config(str(path)), workers=0, rule_cache=cache)

    daemon = start()
    try:
        expected = german_matches(daemon.rt.matcher)
    finally:
        await daemon.close()
    assert [rule for rule, _ in expected] == ["sturm", "flut"]
    assert (tmp_path / "cache").is_dir() and [p.name for p in (tmp_path / "cache").glob("*.de.pickle")]
    daemon = start()
    try:
        built = index_builds(monkeypatch)
        assert german_matches(daemon.rt.matcher) == expected
        assert built == []  # read from the file the first daemon wrote
    finally:
        await daemon.close()


def test_a_section_with_a_spike_rule_is_not_kept_on_disk(
    config_file: Path, cache: RuleCache, caplog: pytest.LogCaptureFixture
) -> None:
    # its spike: is a settings model of its own, not plain data the header-safe reader takes
    config_file.write_text(config_file.read_text() + "  - name: storm-spike\n    spike: {rule: storm}\n")
    config, compiled = started(config_file, cache)
    assert checked_rules_of(config) is not None and matched(compiled.matcher) == ["storm", "local"]
    with caplog.at_level(logging.INFO, logger="monitor.daemon"):
        assert cache.known()[1] is None
    assert not caplog.records
