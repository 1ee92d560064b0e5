"""``newsmonitor test-rule`` and ``newsmonitor match``: the rule stage run alone on real input.

* ``test-rule 'QUERY' [URL|FILE|-]`` shows whether one story matches, which terms matched
  where, and the snippets; with ``--about TEXT`` (a topic rule) also the similarity, the
  threshold and the sentence closest to the topic. A file or stdin may be gzip, bzip2 or xz compressed (told by its
  first bytes, not its name). Exit 0 on a match, 1 on no match, 2 on an invalid query or
  input (a binary file, a damaged archive).
* ``match (--config FILE | --rules FILE) STORIES.jsonl`` matches every story of a JSON-lines
  file against a rule set and writes one JSON line per story, in input order::

      {"id": ..., "matches": [{"rule": NAME, "snippets": ["... **hit** ..."], "terms": [...]}]}

  (a topic rule's match also has ``"similarity"``).

  A line that is not a JSON object with an ``id`` becomes ``{"line": N, "error": "..."}``
  and the exit status is 1; an invalid rule or rules file exits 2 before any output.
"""

from __future__ import annotations

import gc
import json
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from json.encoder import encode_basestring
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from monitor.cli.base import inherited_config, main
from monitor.cli.inputs import ARCHIVE_ERRORS, input_lines, read_input
from monitor.config.yamlload import Path as KeyPath
from monitor.config.yamlload import YAMLDocument, YAMLProblem, load_yaml
from monitor.errors import ConfigError, MonitorError, QueryError, TopicModelError
from monitor.extract.language import story_language
from monitor.models import Hit, Match, Snippet, Story, TopicScore
from monitor.rules import Matcher, RuleSpec, parse_query, topics
from monitor.rules.ast import walk_terms
from monitor.rules.document import StoryDoc
from monitor.rules.evaluate import Evaluation

if TYPE_CHECKING:
    from monitor.config import SourceSettings
    from monitor.daemon.rulecache import CompiledRules, RuleCache

_HTML_HINT = re.compile(rb"<(?:!doctype\s+html|html|head|body|article|p|div)[\s>]", re.IGNORECASE)
_STR_FIELDS = ("title", "text", "summary", "source", "outlet", "url", "lang")
_SURROGATE = re.compile("[\ud800-\udfff]")
#: ``match``'s output objects are trees (dicts and lists made here, an ``id`` from
#: ``json.loads``): the encoder's watch for containers inside themselves, a dict of every
#: container met, is a tenth of the encoding of a line with 45 matches
_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate: the one thing strict UTF-16 (as UTF-8) cannot
    encode. Encoding a story's text costs a fraction of searching it with a regex, and to
    UTF-16 a fraction of encoding it to UTF-8: ~1 instruction a character instead of ~10 for
    Latin-1 text, ~7 instead of ~11 for text with characters beyond it."""
    if text.isascii():
        return False
    try:
        text.encode("utf-16-le")
    except UnicodeEncodeError:
        return True
    return False


def _without_surrogates(text: str) -> str:
    """``text`` with each lone surrogate (JSON allows ``"\\ud800"``; no encoder writes it) as U+FFFD."""
    return _SURROGATE.sub("\ufffd", text) if _has_surrogates(text) else text


def _json_line(obj: object) -> str:
    """``obj`` as one line of JSON that any output encoding takes: a lone surrogate (from an
    ``id`` given with one) stays the ``\\ud800`` escape it came in as, so the id reads back
    the same."""
    return _surrogates_escaped(_JSON.encode(obj))


def _surrogates_escaped(line: str) -> str:
    """JSON text ``line`` with each lone surrogate written as its ``\\udXXXX`` escape."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", line) if _has_surrogates(line) else line


def story_from_json(obj: dict[str, Any]) -> Story:
    """A :class:`Story` from a JSON object (title, text, summary, source, outlet, url, lang,
    source_tags, published); raises ValueError naming a field of the wrong type. Lone
    surrogates in the text fields become U+FFFD, so the story matches and prints. The story's
    language is decided as the daemon decides it (``lang`` is what the story declares)."""
    for key in _STR_FIELDS:
        if key in obj and obj[key] is not None and not isinstance(obj[key], str):
            raise ValueError(f'"{key}" must be a string')
    tags = obj.get("source_tags") or ()
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise ValueError('"source_tags" must be a list of strings')
    obj = {**obj, **{key: _without_surrogates(obj[key]) for key in _STR_FIELDS if isinstance(obj.get(key), str)}}
    tags = tuple(_without_surrogates(tag) for tag in tags)
    published = None
    if isinstance(obj.get("published"), str):
        try:
            published = datetime.fromisoformat(obj["published"].replace("Z", "+00:00"))
        except ValueError:
            published = None  # the date plays no part in matching
    source = obj.get("source") or ""
    title, text = obj.get("title") or "", obj.get("text") or obj.get("summary") or ""
    return Story(
        source=source,
        url=obj.get("url") or "",
        title=title,
        text=text,
        summary=obj.get("summary") or "",
        lang=story_language(obj.get("lang") or None, title, text),
        outlet=obj.get("outlet") or source,
        source_tags=tuple(tags),
        published=published,
    )


def _story_from_html(data: bytes) -> Story:
    try:
        from monitor.extract.article import extract_article
    except ImportError:
        article = None
    else:
        article = extract_article(data)
    if article is not None:
        return Story(source="file", url=article.canonical_url or "", title=article.title or "",
                     text=article.text, lang=story_language(article.lang, article.title or "", article.text),
                     text_origin="extracted")
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["script", "style", "noscript", "title"]):
        tag.decompose()
    text = soup.get_text("\n", strip=True)
    return Story(source="file", url="", title=title, text=text, lang=story_language(None, title, text),
                 text_origin="fallback")


def load_story(arg: str) -> Story:
    """The story named by a ``test-rule`` argument: an http(s) URL, a file path, or ``-``
    (stdin) holding a JSON object, an HTML page or plain text, each possibly gzip, bzip2 or
    xz compressed. Raises MonitorError (see :func:`~monitor.cli.inputs.read_input`) or OSError."""
    if arg.startswith(("http://", "https://")):
        import asyncio  # only a URL needs the event loop

        try:
            from monitor.daemon.probe import story_from_url
        except ImportError:
            raise MonitorError("fetching a URL is not available in this build; save the page "
                               "and pass the file instead") from None
        return asyncio.run(story_from_url(arg))
    data = read_input(arg)
    head = data.lstrip()[:1]
    if head == b"{":
        try:
            obj = json.loads(data)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            try:
                return story_from_json(obj)
            except ValueError as exc:
                raise MonitorError(f"{arg}: {exc}") from None
    if _HTML_HINT.search(data[:4096]):
        return _story_from_html(data)
    from monitor.extract.charset import decode_html

    text = decode_html(data)
    return Story(source="file", url="", title="", text=text, lang=story_language(None, "", text))


def _caret(query: str, column: int) -> str:
    return f"  {query}\n  {' ' * max(0, column - 1)}^"


def _show_topic(score: TopicScore, about: str) -> None:
    """The explanation of a topic rule's score: similarity against threshold, best sentence."""
    verdict = "reaches" if score.similarity >= score.threshold else "is below"
    click.echo(f"topic: similarity {score.similarity:.3f} {verdict} the threshold {score.threshold:.3f}")
    click.echo(f"  about: {about}")
    if score.sentence:
        click.echo(f"  closest sentence (similarity {score.sentence_similarity:.3f}): {score.sentence}")


def _show_match(match: Match, story: Story) -> None:
    if not match.hits:
        click.echo("snippets:")
        for snippet in match.snippets:
            click.echo(f"  [{snippet.field}] {snippet.plain()}")
        return
    click.echo("terms:")
    texts = {"title": story.title, "text": story.text}
    for hit in match.hits:
        where = texts.get(hit.field)
        shown = where[hit.start : hit.end] if where is not None else ""
        click.echo(f"  {hit.term:<24} {hit.field:<6} word {hit.position:<6} {shown!r}")
    click.echo("snippets:")
    for snippet in match.snippets:
        click.echo(f"  [{snippet.field}] {snippet.plain()}")


def _show_terms(query: str, story: Story) -> None:
    """Why a story did not match: which terms of the query occur in it at all."""
    parsed = parse_query(query)
    evaluation = Evaluation(StoryDoc(story))
    for term, positive in walk_terms(parsed.root):
        found = len(evaluation.term_occ(term))
        state = f"found {found}x" if found else "not found"
        role = "" if positive else " (negated)"
        click.echo(f"  {term.label:<24} {state}{role}")


def topic_options(about: str | None, threshold: float | None) -> tuple[str, float | None]:
    """``--about`` and ``--threshold`` checked as a rule's ``about:`` and ``threshold:`` are
    (exits 2 with the reason otherwise)."""
    if about is None:
        if threshold is not None:
            _fail("--threshold applies only with --about")
        return "", None
    if len(about.split()) < 2:
        _fail("--about must describe the topic in a few words, e.g. 'export controls on rare earths'")
    if threshold is not None and not 0 < threshold < 1:
        _fail(f"--threshold must be a similarity between 0 and 1 (exclusive), got {threshold}")
    if not topics.available():
        _fail(f"--about needs the embedding model of the 'topics' extra, which is not installed: {topics.EXTRA_HINT}")
    return about, threshold


@click.command("test-rule")
@click.argument("args", nargs=-1, metavar="[QUERY] [URL|FILE|-]")
@click.option("--about", metavar="TEXT", help="A topic in a few words: the rule's about: (with QUERY, both must hold).")
@click.option("--threshold", type=float, metavar="SIMILARITY",
              help="The similarity to --about a story needs (default: the rules' default, 0.3).")
def test_rule(args: tuple[str, ...], about: str | None, threshold: float | None) -> None:
    """Show whether one story matches QUERY (and/or --about), which terms matched where,
    the similarity to the topic, and the snippets.

    STORY is an http(s) URL, a file (JSON object, HTML page or plain text) or - for stdin.
    Without --about, QUERY is required; with it, one argument is the STORY and two are
    QUERY and STORY. Exit status: 0 match, 1 no match, 2 invalid query or unreadable input.
    """
    about, threshold = topic_options(about, threshold)
    if len(args) > 2 or (not args and not about):
        _fail("expected QUERY [URL|FILE|-], or --about TEXT [QUERY] [URL|FILE|-]")
    if len(args) == 2 or not about:
        query, story = (*args, "-")[:2]
    else:
        query, story = "", (*args, "-")[0]
    try:
        if query:
            parse_query(query)
        matcher = Matcher.compile([RuleSpec("test-rule", query, about=about, threshold=threshold)])
    except QueryError as exc:
        _fail(f"invalid query: {exc.message} at column {exc.column}\n{_caret(query, exc.column)}")
    except TopicModelError as exc:
        _fail(str(exc))
    try:
        loaded = load_story(story)
    except (MonitorError, OSError) as exc:
        _fail(str(exc))
    matches = matcher.match(loaded)
    scores = matcher.topic_scores(loaded)
    click.echo("MATCH" if matches else "NO MATCH")
    for _, score in scores:
        _show_topic(score, about)
    if matches:
        _show_match(matches[0], loaded)
        sys.exit(0)
    if query:
        click.echo("terms:")
        _show_terms(query, loaded)
    sys.exit(1)


def _rules_document(path: str) -> tuple[list[Any], KeyPath, YAMLDocument]:
    """The rule entries of rules file ``path``, the key path of their list, and the parsed file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read rules: {exc}"]) from None
    try:
        doc = load_yaml(text, path)
    except YAMLProblem as exc:
        raise ConfigError([f"{path}:{exc.line}:{exc.column}: {exc.message}"]) from None
    data = doc.data
    where: KeyPath = ()
    if isinstance(data, dict) and "rules" in data:
        data, where = data["rules"], ("rules",)
    if not isinstance(data, list):
        raise ConfigError([f"{path}: expected a list of rules with name and query"])
    return data, where, doc


def _rule_spec(item: object) -> RuleSpec | str:
    """The rule entry ``item`` as a RuleSpec, or what is wrong with it."""
    if not isinstance(item, dict):
        return "expected a mapping with name and query"
    name, query, about, threshold = (item.get(k) for k in ("name", "query", "about", "threshold"))
    if not isinstance(name, str) or not name:
        return 'missing or non-string "name"'
    if about is not None and (not isinstance(about, str) or len(about.split()) < 2):
        return '"about" must describe the topic in a few words'
    if not isinstance(query, str) and not (query is None and about):
        return 'missing or non-string "query" (a rule has a query, an "about", or both)'
    if threshold is not None and (about is None or isinstance(threshold, bool)
                                  or not isinstance(threshold, (int, float)) or not 0 < threshold < 1):
        return '"threshold" must be a similarity between 0 and 1 (exclusive), on a rule with "about"'
    if about and not topics.available():
        return f'"about" needs the embedding model of the "topics" extra, which is not installed: {topics.EXTRA_HINT}'
    lists = [item.get(k) or [] for k in ("sources", "tags")]
    if not all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in lists):
        return "sources and tags must be lists of strings"
    return RuleSpec(name, query or "", tuple(lists[0]), tuple(lists[1]), about or "",
                    None if threshold is None else float(threshold))


def load_rules_file(path: str) -> list[RuleSpec]:
    """Rules from a YAML list of ``{name, query[, sources, tags]}`` (or a mapping with a
    ``rules:`` list), read as the configuration is (line numbers, duplicate keys refused,
    aliases and nesting bounded). Raises ConfigError listing every problem as
    ``file:line:col: ...``."""
    entries, where, doc = _rules_document(path)
    problems = [f"{path}:{dup.line}:{dup.column}: {dup.message}" for dup in doc.duplicates]
    specs: list[RuleSpec] = []
    for i, item in enumerate(entries):
        spec = _rule_spec(item)
        if isinstance(spec, str):
            line, col = doc.lines.get((*where, i), (1, 1))
            problems.append(f"{path}:{line}:{col}: rules[{i}]: {spec}")
        else:
            specs.append(spec)
    if problems:
        raise ConfigError(problems)
    return specs


class ConfiguredSources:
    """The sources of a configuration, as ``match --config`` applies them to story lines.

    A story whose ``source`` names a configured source (case aside) gets that source's
    ``tags`` unless its line gives ``source_tags``, and its ``outlet`` unless the line gives
    one, as the daemon's stories do; so rules limited by ``tags:`` match it as they would in
    the daemon. The names of sources the configuration lacks, on lines without
    ``source_tags``, are kept in :attr:`unknown`.
    """

    def __init__(self, sources: Iterable[SourceSettings]) -> None:
        self._by_name = {src.name.casefold(): src for src in sources}
        #: source names no configured source has (on lines without tags), in order of first use
        self.unknown: list[str] = []

    def apply(self, story: Story, obj: Mapping[str, Any]) -> None:
        """Give ``story``, read from line ``obj``, what the configuration says of its source."""
        if not story.source:
            return
        src = self._by_name.get(story.source.casefold())
        if src is None:
            if obj.get("source_tags") is None and story.source not in self.unknown:
                self.unknown.append(story.source)
            return
        if obj.get("source_tags") is None:
            story.source_tags = tuple(src.tags)
        if not obj.get("outlet") and src.outlet:
            story.outlet = src.outlet


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic collector paused while one input line is worked on.

    As in ``Matcher.match``: a line makes thousands of short-lived containers (its JSON, the
    story, the matches' evidence, the output), none in a reference cycle, and a collection
    set off amid them walks them all, and any of the heap not frozen, for nothing; between
    lines, what is left young is little. (With a matcher unpickled unfrozen,
    benchmarks/cli_instructions.py: a fifth of the instructions at 100 000 rules on the mix
    generator; with the matcher frozen, as this command's is, the CPU time is the same
    within noise.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _line_story(
    number: int, line: str, sources: ConfiguredSources | None
) -> tuple[dict[str, Any], Story] | dict[str, Any]:
    """Input line ``line`` (its ``number``, from 1) as its JSON object and story, or the
    output object saying what is wrong with it."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        return {"line": number, "error": f"invalid JSON: {exc}"}
    if not isinstance(obj, dict):
        return {"line": number, "error": "not a JSON object"}
    if "id" not in obj:
        return {"line": number, "error": 'missing "id"'}
    try:
        story = story_from_json(obj)
    except ValueError as exc:
        return {"line": number, "error": str(exc)}
    if sources is not None:
        sources.apply(story, obj)
    return obj, story


def output_lines(
    matcher: Matcher, lines: Iterable[str], sources: ConfiguredSources | None = None, *, evidence: bool = True
) -> Iterator[tuple[str, bool]]:
    """What ``match`` writes: for each non-blank input line, its output line (without the
    newline) and whether the input line was valid. Each story gets what ``sources`` (the
    configuration's, if any) says of its source. A line is the story's id and its matches,
    each with its rule, snippets (``Snippet.plain``), sorted matched terms and (topic rules)
    similarity; without ``evidence`` the rule (and similarity) alone, its hits and snippets
    not built. It is the text :func:`_json_line` gives for that object, written without
    building the object (``tests/cli/test_output_lines.py`` holds the two to each other).

    A line with 45 matches is ~14 KB of JSON, and encoding it as a whole escaped every string
    in it, each snippet as often as matches print it (half of them are another match's) and
    each rule name once a story: ~1 M instructions a story on the mix benchmark at 100 000
    rules (``benchmarks/cli_instructions.py``). Here a story's snippets and term lists are
    rendered and escaped once each, a rule's name once a run, and the line is put together
    from those pieces with the encoder's separators: rendering and writing a story's matches
    went from ~1.74 M to ~1.1 M instructions, of which escaping is ~0.2 M (the standard
    library's escape costs ~34 instructions a character); then to ~0.96 M (a sentence with
    nothing to escape is quoted as it is, terms' JSON kept for the run, the line no longer
    encoded whole to look for lone surrogates: ~0.13 M). What is left is mostly the
    interpreter's: ~10 k instructions a snippet rendered, ~2 k a match. orjson, measured: it writes only
    compact separators (``{"id":0,...``), so it cannot give these bytes whole, and escaping
    the pieces with it would save ~0.18 M of the ~13 M a story: not worth a dependency."""
    names: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line or line.isspace():  # (``strip`` would copy every line)
            continue
        with _collector_paused():
            read = _line_story(number, line, sources)
            if isinstance(read, dict):
                out = _json_line(read), False
            else:
                obj, story = read
                found = _matches_json(matcher.match(story), names, evidence)
                out = f'{{"id": {_json_line(obj["id"])}, "matches": [{found}]}}', True
        yield out


def _matches_json(found: list[Match], names: dict[str, str], evidence: bool) -> str:
    """The JSON text of a story's list of matches, without its brackets, as :func:`_json_line`
    writes the list of their output objects (see :func:`output_lines`). ``names``: the
    JSON of the rule names and terms met before in the run.

    Each piece that may hold a lone surrogate (a rule name, a term; the id, in
    :func:`output_lines`) has it escaped as :func:`_json_line` escapes the whole line; a
    snippet cannot hold one (:func:`story_from_json` replaced them in the story's fields):
    the line is not searched for them again (a ~14 KB line encoded to UTF-8 cost ~0.13 M
    instructions a story on the mix benchmark)."""
    # by identity: matches share their reports' tuples (a rule of one term has that term's)
    # and, between reports, snippets
    lists: dict[int, str] = {}
    snippets: dict[int, str] = {}
    terms: dict[int, str] = {}
    #: whether a snippet's text (a sentence: 36 snippets a story have 21 texts on the mix
    #: benchmark) has nothing JSON escapes; most news sentences have not
    clean: dict[str, bool] = {}
    entries = []
    for match in found:
        name = names.get(match.rule)
        if name is None:
            name = names[match.rule] = _surrogates_escaped(encode_basestring(match.rule))
        if not evidence:
            entry = f'{{"rule": {name}'
        else:
            # (each ``id`` once: a call costs ~0.3 k instructions, an audit event each)
            shown = match.snippets
            key = id(shown)
            texts = lists.get(key)
            if texts is None:
                parts = []
                for snippet in shown:
                    known = id(snippet)
                    text = snippets.get(known)
                    if text is None:
                        text = snippets[known] = _snippet_json(snippet, clean)
                    parts.append(text)
                texts = lists[key] = ", ".join(parts)
            hits = match.hits
            key = id(hits)
            words = terms.get(key)
            if words is None:
                words = terms[key] = _terms_json(hits, names)
            entry = f'{{"rule": {name}, "snippets": [{texts}], "terms": [{words}]'
        topic = match.topic
        if topic is None:
            entries.append(f"{entry}}}")
        else:
            entries.append(f'{entry}, "similarity": {_JSON.encode(topic.similarity)}}}')
    return ", ".join(entries)


def _terms_json(hits: tuple[Hit, ...], names: dict[str, str]) -> str:
    """The JSON of the sorted terms of ``hits``, without brackets; ``names``: terms' JSON
    met before in the run. Half the matches of the mix benchmark have two hits: their terms
    are sorted without a set and a sort (a set comprehension makes a function each call)."""
    if len(hits) == 2:
        first, second = hits[0].term, hits[1].term
        found: Iterable[str] = (first,) if first == second else (first, second) if first < second else (second, first)
    else:
        found = sorted({h.term for h in hits})
    encoded = []
    for term in found:
        text = names.get(term)
        if text is None:
            text = names[term] = _surrogates_escaped(encode_basestring(term))
        encoded.append(text)
    return ", ".join(encoded)


def _snippet_json(snippet: Snippet, clean: dict[str, bool]) -> str:
    """``snippet.plain()`` as a JSON string. A text with nothing to escape (``clean``: known
    texts) is quoted as it is, its hit marked: its text escaped once, not once a snippet."""
    text = snippet.text
    spans = snippet.spans
    if len(spans) == 1:
        ((start, end),) = spans
        if start >= 0:
            plain = clean.get(text)
            if plain is None:
                plain = clean[text] = len(encode_basestring(text)) == len(text) + 2
            if plain:
                return f'"{text[:start]}**{text[start:end]}**{text[end:]}"'
    return encode_basestring(_plain(snippet))


def _plain(snippet: Snippet) -> str:
    """``snippet.plain()``; a snippet with one hit (most: 1.05 hits a snippet on the mix
    benchmark) without its list of pieces, two calls and a sort."""
    spans = snippet.spans
    if len(spans) == 1:
        ((start, end),) = spans
        if start >= 0:  # (``plain`` skips a span that starts before the text)
            text = snippet.text
            return f"{text[:start]}**{text[start:end]}**{text[end:]}"
    return snippet.plain()


def _rule_set(
    config_path: str | None, rules_path: str | None
) -> tuple[list[RuleSpec], CompiledRules, ConfiguredSources | None, RuleCache]:
    """The rules of ``match``, compiled (or read back from the cache of their file, see
    :mod:`monitor.daemon.rulecache`), from a configuration file its sources, and that cache.
    Raises ConfigError, or QueryError for an invalid query of a rules file."""
    from monitor.daemon.rulecache import RuleCache, rule_specs

    if config_path is not None:
        from monitor.config import load_for_matching
        from monitor.config.rulesection import checked_rules_of

        rule_cache = RuleCache.for_file(config_path)
        queries, known = rule_cache.known()
        config = load_for_matching(config_path, queries=queries, known_rules=known)
        specs = rule_specs(r for r in config.settings.rules if r.enabled)
        compiled = rule_cache.compile(specs, queries, checked=checked_rules_of(config))
        return specs, compiled, ConfiguredSources(config.settings.sources), rule_cache
    assert rules_path is not None
    specs = load_rules_file(rules_path)
    rule_cache = RuleCache.for_file(rules_path)
    return specs, rule_cache.compile(specs), None, rule_cache


def _warn_unknown_sources(config_path: str, specs: list[RuleSpec], sources: ConfiguredSources) -> None:
    # a rule limited by tags can never match a story of a source the configuration lacks:
    # say so, or a backtest under-reports without a word
    if not sources.unknown or not any(spec.tags for spec in specs):
        return
    names = ", ".join(sources.unknown[:10]) + (", ..." if len(sources.unknown) > 10 else "")
    click.echo(
        f"warning: stories name sources that {config_path} does not have ({names}): they have no "
        'tags, so rules limited by tags: do not match them (give the line "source_tags" to set them)',
        err=True,
    )


@click.command("match")
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    callback=inherited_config(unless="rules_path"),
    help="Take the rules (and the sources' tags) from this configuration file.",
)
@click.option("--rules", "rules_path", metavar="FILE", help="Take the rules from a YAML list of name+query.")
@click.option("--names-only", is_flag=True,
              help="Give each match's rule name (and similarity) alone, without snippets and terms: "
                   "about three times faster on many matches.")
@click.argument("stories", default="-", metavar="STORIES.jsonl")
def match(config_path: str | None, rules_path: str | None, names_only: bool, stories: str) -> None:
    """Match every story of a JSON-lines file (- for stdin; a file may be gzip, bzip2 or
    xz compressed) against a rule set.

    Each input line is an object with id, title, text and optionally url, source, outlet,
    source_tags, lang, published. With --config, a story whose source is a configured
    source gets that source's tags (unless the line gives source_tags) and outlet, as in
    the daemon. Output: one JSON object per line, in input order: the story's id and its
    matches, each with its rule, snippets and matched terms (--names-only: the rule alone).
    Exit status 1 when some line was invalid, 2 when the rules are.
    """
    if (config_path is None) == (rules_path is None):
        _fail("give exactly one of --config FILE or --rules FILE")
    try:
        specs, rules, sources, rule_cache = _rule_set(config_path, rules_path)
    except (ConfigError, QueryError) as exc:
        _fail(str(exc))
    matcher = rules.matcher
    try:
        lines = input_lines(stories)
        ok = True
        for out, valid in output_lines(matcher, lines, sources, evidence=not names_only):
            ok = ok and valid
            # ``color=True``: not searched for ANSI escape codes to strip (as on output that
            # is not a terminal), which a line of JSON cannot hold (the encoder escapes every
            # control character): a ~14 KB line is written in ~0.20 M instructions, not ~0.28
            click.echo(out, color=True)
    except ARCHIVE_ERRORS as exc:
        _fail(f"{stories}: {exc}")
    # stories in other languages had the matcher build their indexes: the next run reads them
    rule_cache.keep_indexes(rules)
    if config_path is not None and sources is not None:
        _warn_unknown_sources(config_path, specs, sources)
    sys.exit(0 if ok else 1)


main.add_command(test_rule)
main.add_command(match)
