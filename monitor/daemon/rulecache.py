"""Compiled rule sets kept between runs: a start or reload whose rules did not change compiles nothing.

Compiling 100 000 rules takes seconds. :class:`RuleCache` keeps the last rule set compiled
from one file (a configuration, or a ``match --rules`` file) in the state directory and
reads it back when the rules are the same, and a reload whose rules are the running ones
takes the running matcher as it is. The file also lists every query of that set with its
operator hints (words like ``and`` that probably meant an operator), so checking the same
file again parses none of them (:class:`~monitor.config.queries.QueryCheck`).

A rule set is the same when its digest is: a hash of every enabled rule's name, query,
sources and tags in order, of the newsmonitor version, the Python version, the source of
the rules package (any change to the matcher's code makes every cached set stale) and the
versions of the libraries it imports or reads (lemmatisers, word lists). A stale, damaged or
unreadable file is ignored (the rules are compiled and the file written again), never an
error; so is a failure to write.

Trust boundary: the matcher is stored as a pickle, and reading a pickle runs whatever code
it names. The file lives in the daemon's own state directory (``$XDG_STATE_HOME/newsmonitor/
cache``, which the systemd unit and the Docker image give to the daemon's user alone),
written with mode 0600 and replaced atomically. It is read only when it belongs to the
user reading it and nobody else may write it; whoever can write there can change the
daemon's database too. The list of queries before the matcher is read without allowing
any code (``check`` reads nothing more).

A configuration file's cache also keeps what its ``rules:`` section validated to
(:class:`~monitor.config.rulesection.CheckedRules`), so that a start, ``check`` or
``match --config`` of a file whose rules section has the same bytes reads and validates
only the file's other sections, and the compiled set is found by the digest the section
remembers (nothing is hashed or rebuilt per rule).

File: ``MAGIC``, then a pickle of the header ``(code, digest, queries, hints)`` (plain
strings, tuples and ints), then a pickle of the checked rules section (plain data too: the
rules as rows of values, or None), then a pickle of the :class:`~monitor.rules.Matcher`.

Beside it, one file per language other than English whose index the matcher built (see
:meth:`~monitor.rules.Matcher.built_indexes`; seconds each at 100 000 rules, and a run of
``match`` on stories in Italian, Portuguese and Russian built three): ``INDEX_MAGIC``, a
pickle of ``(code, digest, language)``, a pickle of the index. :meth:`RuleCache.keep_indexes`
writes them; a matcher of the cache reads one the first time a story in that language
comes (not at start: most runs need none of them). The same trust boundary applies.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import operator
import os
import pickle
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any

import monitor
from monitor.config import RuleSettings, state_dir
from monitor.config.problem import Problem
from monitor.config.queries import QueryCheck
from monitor.config.rulesection import CheckedRules
from monitor.config.yamlload import collector_paused
from monitor.errors import QueryError
from monitor.rules import Matcher, OperatorHint, Query, RuleSpec

log = logging.getLogger("monitor.daemon")

#: rule sets smaller than this are compiled every time: they take less than reading them back
#: would save (2 000 rules compile in ~0.1 s), and no file is written for them
CACHE_FROM = 2_000
#: the first bytes of a cache file (the format's version is in it)
MAGIC = b"newsmonitor compiled rules 2\n"
#: the first bytes of the file of one language's index
INDEX_MAGIC = b"newsmonitor language index 1\n"
#: a language code as the cache names its index files by it (the lemmatisers' codes)
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_RULES_PACKAGE = Path(__file__).resolve().parents[1] / "rules"
#: what validates a rules section (a checked section depends on it as a matcher on the rules package)
_CONFIG_PACKAGE = Path(__file__).resolve().parents[1] / "config"


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """A rule set compiled: its :func:`rules_digest`, the matcher, and every query of the set
    with its operator hints and as parsed (a reload that changes some rules parses only theirs)."""

    digest: str
    matcher: Matcher
    hints: Mapping[str, tuple[OperatorHint, ...]]
    parsed: Mapping[str, Query]


def rule_specs(rules: Iterable[RuleSettings]) -> list[RuleSpec]:
    """The configured ``rules`` as the matcher takes them, in their order."""
    return [
        RuleSpec(name=r.name, query=r.query, sources=tuple(r.sources), tags=tuple(r.tags), about=r.about or "",
                 threshold=r.threshold)
        for r in rules
        if r.spike is None  # a spike rule matches no story
    ]


def compile_rules(specs: Sequence[RuleSpec], queries: QueryCheck | None = None) -> CompiledRules:
    """``specs`` compiled, reusing the queries ``queries`` parsed (nothing is read or written).
    Raises :class:`~monitor.errors.QueryError` for the first invalid query."""
    return RuleCache(None).compile(specs, queries)


def _digest_of(
    specs: Sequence[RuleSpec] | Callable[[], Sequence[RuleSpec]], checked: CheckedRules | None
) -> tuple[Sequence[RuleSpec] | None, str, int]:
    """The specs (None when not made), their digest and their number: the digest as the
    rules section ``checked`` remembers it, else hashed (and remembered there)."""
    if checked is not None and checked.specs_digest is not None:
        return None, checked.specs_digest, sum(1 for rule in checked.rules if rule.enabled and rule.matches_stories)
    listed = specs() if callable(specs) else specs
    digest = rules_digest(listed)
    if checked is not None:
        checked.specs_digest = digest
    return listed, digest, len(listed)


@cache
def code_version() -> str:
    """What a compiled matcher and a checked rules section depend on besides the rules: the
    newsmonitor and Python versions, a hash of every file of the rules package and of the
    config package's modules, and the versions of the distributions the rules package
    imports and of pydantic."""
    digest = hashlib.sha256()
    imported: set[str] = set()
    for path in sorted(p for p in _RULES_PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        content = path.read_bytes()
        digest.update(path.relative_to(_RULES_PACKAGE).as_posix().encode() + b"\0" + content + b"\0")
        if path.suffix == ".py":
            imported.update(_top_level_imports(content.decode("utf-8", "replace")))
    config = hashlib.sha256()
    for path in sorted(_CONFIG_PACKAGE.glob("*.py")):
        config.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    imported.add("pydantic")
    versions = ",".join(f"{name}={_version_of(name)}" for name in sorted(imported))
    return (
        f"newsmonitor {monitor.__version__}; Python {sys.version}; rules {digest.hexdigest()}; "
        f"config {config.hexdigest()}; {versions}"
    )


#: ``import x``, ``from x import``, and a package looked up by name (its data files read without importing it)
_IMPORT = re.compile(
    r"^\s*(?:import\s+([A-Za-z_]\w*)|from\s+([A-Za-z_]\w*)[\w.]*\s+import\b)"
    r"|(?:find_spec|import_module)\(\s*[\"']([A-Za-z_]\w*)",
    re.MULTILINE,
)


def _top_level_imports(source: str) -> set[str]:
    """The top-level modules ``source`` imports or looks up that are neither ours nor the
    standard library's."""
    names = {"".join(groups) for groups in _IMPORT.findall(source)}
    return {name for name in names if name != "monitor" and name not in sys.stdlib_module_names}


def _version_of(module: str) -> str:
    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        names = importlib.metadata.packages_distributions().get(module, [])
        return "+".join(importlib.metadata.version(name) for name in names) or "?"


#: what the digest holds of a rule
_ROW = operator.attrgetter("name", "query", "sources", "tags", "about", "threshold")


def rules_digest(specs: Sequence[RuleSpec]) -> str:
    """The hash that says whether two rule sets compile to the same matcher (see the module)."""
    rows = list(map(_ROW, specs))  # tuples: JSON writes them as lists
    return hashlib.sha256((code_version() + "\n" + json.dumps(rows)).encode()).hexdigest()


class RuleCache:
    """The compiled rules of one file, kept at ``path`` (None: kept nowhere, compiled every time).

    Rule sets of fewer than ``min_rules`` rules (default :data:`CACHE_FROM`) are neither read
    nor written.
    """

    def __init__(self, path: Path | None, *, min_rules: int | None = None) -> None:
        self.path = path
        self.min_rules = CACHE_FROM if min_rules is None else min_rules
        #: hold what :meth:`compile` would write until :meth:`flush` (the daemon writes it
        #: once it runs, so that its start does not wait for the file)
        self.deferred = False
        self._pending: tuple[CompiledRules, CheckedRules | None] | None = None
        #: the languages whose index file for the rule set of this digest was read or written
        self._indexes_kept: tuple[str, set[str]] = ("", set())

    def flush(self) -> None:
        """Write the rule set a deferred :meth:`compile` holds, if any (a failure is logged)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            self._store(*pending)

    @classmethod
    def for_file(cls, source: str, directory: Path | None = None, *, min_rules: int | None = None) -> RuleCache:
        """The cache of the rules of file ``source``, in ``directory`` (default: the state
        directory's ``cache``): one file per source file, named by a hash of its real path."""
        real = os.path.realpath(source)
        name = "rules-" + hashlib.sha256(real.encode("utf-8", "surrogateescape")).hexdigest()[:20] + ".pickle"
        return cls((directory or state_dir() / "cache") / name, min_rules=min_rules)

    def queries(self, running: CompiledRules | None = None) -> QueryCheck:
        """A query check that knows the queries of ``running`` (a reload), or else those of
        the stored rule set: none of them is parsed again."""
        if running is not None:
            return QueryCheck(running.hints, running.parsed)
        return self.known()[0]

    def known(self) -> tuple[QueryCheck, CheckedRules | None]:
        """What the stored file knows before any matcher is read: a query check that knows
        its queries, and the rules section it was compiled from (None: none kept), which a
        load of the same file takes as it is (see :func:`~monitor.config.load_config`).
        Nothing in it runs code."""
        with _reading(self.path) as stream:
            header = _read_header(stream) if stream is not None else None
            if stream is not None and header is None:
                log.info("rules: ignoring the cache %s (written by another version, or damaged)", self.path)
            checked = _read_checked(stream, self.path) if stream is not None and header is not None else None
        return QueryCheck(header.hints if header is not None else None), checked

    def compile(
        self,
        specs: Sequence[RuleSpec] | Callable[[], Sequence[RuleSpec]],
        queries: QueryCheck | None = None,
        running: CompiledRules | None = None,
        *,
        checked: CheckedRules | None = None,
    ) -> CompiledRules:
        """``specs`` compiled: ``running`` when its rules are these, else the stored set when
        it is these rules, else compiled now (taking the queries ``queries`` parsed) and
        stored. Raises :class:`~monitor.errors.QueryError` for the first invalid query.

        ``specs`` may be a function that makes them, called only when they are needed: not
        when ``checked`` (the rules section they come from) already knows their digest. The
        stored file keeps ``checked`` too, for the next load of the file."""
        listed, digest, count = _digest_of(specs, checked)
        if running is not None and running.digest == digest:
            return running
        caching = self.path is not None and count >= self.min_rules
        loaded = self._load(digest) if caching else None
        if loaded is not None:
            stored, stored_section = loaded
            if checked is not None and stored_section != checked.digest:
                self._write(stored, checked)  # the same rules, written in another section: keep this one
            stored.matcher.find_indexes_with(lambda lang: self._read_index(digest, lang))
            return stored
        if listed is None:
            listed = specs() if callable(specs) else specs
        started = time.perf_counter()
        queries = queries or QueryCheck()
        parsed: dict[str, Query] = {}
        for spec in listed:
            if not spec.query:
                continue  # a topic rule alone (about:)
            try:
                parsed[spec.query] = queries.query(spec.query)
            except QueryError as exc:
                raise QueryError(f'rule "{spec.name}": {exc.message}', exc.column) from None
        matcher = Matcher.compile(listed, parsed, running.matcher if running is not None else None)
        compiled = CompiledRules(digest, matcher, {query: queries.known[query] for query in parsed}, parsed)
        if caching:
            log.info("rules: %d compiled in %.1f s", len(listed), time.perf_counter() - started)
            self._write(compiled, checked)
            matcher.find_indexes_with(lambda lang: self._read_index(digest, lang))
        return compiled

    def keep_indexes(self, compiled: CompiledRules) -> None:
        """Write the index of each language ``compiled``'s matcher has built that has no file
        yet (a failure is logged, nothing more), for the next process that reads these rules
        from this cache. Nothing when the rule set is not cached (:attr:`min_rules`)."""
        if self.path is None or len(compiled.matcher) < self.min_rules:
            return
        kept = self._kept(compiled.digest)
        for lang, index in compiled.matcher.built_indexes().items():
            if lang in kept or not _LANGUAGE.fullmatch(lang):
                continue
            started = time.perf_counter()
            if self._replace(self._index_path(lang), INDEX_MAGIC, (code_version(), compiled.digest, lang), index):
                log.info("rules: the index of language %s kept in %.1f s", lang, time.perf_counter() - started)
            kept.add(lang)  # written, or not writable: tried once

    def _kept(self, digest: str) -> set[str]:
        if self._indexes_kept[0] != digest:
            self._indexes_kept = (digest, set())
        return self._indexes_kept[1]

    def _index_path(self, lang: str) -> Path:
        assert self.path is not None
        return self.path.with_suffix(f".{lang}{self.path.suffix}")

    def _read_index(self, digest: str, lang: str) -> object:
        """The index of language ``lang`` kept for the rule set of ``digest``, or None when
        there is none (or it is of other rules or code, damaged, or not ours alone)."""
        if self.path is None or not _LANGUAGE.fullmatch(lang):
            return None
        started = time.perf_counter()
        with _reading(self._index_path(lang), INDEX_MAGIC) as stream:
            if stream is None:
                return None
            try:
                header = _PlainUnpickler(stream).load()
                if header != (code_version(), digest, lang):
                    return None
                with collector_paused():
                    index = pickle.load(stream)  # noqa: S301 (our own file: see the trust boundary above)
            except Exception as exc:  # a damaged file can fail to unpickle in any way: the index is built
                log.warning("rules: ignoring the damaged index file %s (%s)", self._index_path(lang),
                            type(exc).__name__)
                return None
        self._kept(digest).add(lang)
        log.info("rules: the index of language %s read in %.1f s", lang, time.perf_counter() - started)
        return index

    def _write(self, compiled: CompiledRules, checked: CheckedRules | None) -> None:
        if self.deferred:
            self._pending = (compiled, checked)
        else:
            self._store(compiled, checked)

    # ------------------------------------------------------------------ the file

    def _load(self, digest: str) -> tuple[CompiledRules, str | None] | None:
        """The stored set when its digest is ``digest``, and the digest of the rules section
        stored with it (None: none)."""
        started = time.perf_counter()
        with _reading(self.path) as stream:
            if stream is None:
                return None
            header = _read_header(stream)
            if header is None or header.digest != digest:
                return None
            try:
                with collector_paused(large=True):
                    section = _PlainUnpickler(stream).load()
                    matcher, parsed = pickle.load(stream)  # noqa: S301 (our own file: see the trust boundary above)
            except Exception as exc:  # a damaged file can fail to unpickle in any way: compile instead
                log.warning("rules: ignoring the damaged cache %s (%s)", self.path, type(exc).__name__)
                return None
        if not isinstance(matcher, Matcher) or not isinstance(parsed, dict):
            log.warning("rules: ignoring the damaged cache %s (not a rule set)", self.path)
            return None
        log.info("rules: %d unchanged, read from %s in %.1f s", len(matcher), self.path, time.perf_counter() - started)
        section_digest = section[0] if isinstance(section, tuple) and section and isinstance(section[0], str) else None
        return CompiledRules(digest, matcher, header.hints, parsed), section_digest

    def _store(self, compiled: CompiledRules, checked: CheckedRules | None = None) -> None:
        """Write ``compiled`` (and the rules section ``checked`` it was compiled from) to
        :attr:`path` atomically; a failure is logged, nothing more."""
        assert self.path is not None
        queries = tuple(compiled.hints)
        hints = {i: tuple((h.word, h.column, h.operator) for h in compiled.hints[q])
                 for i, q in enumerate(queries) if compiled.hints[q]}
        header = (code_version(), compiled.digest, queries, hints)
        # the parsed queries are the matcher's own (shared objects are written once)
        self._replace(self.path, MAGIC, header, _section_rows(checked), (compiled.matcher, dict(compiled.parsed)))

    @staticmethod
    def _replace(path: Path, magic: bytes, header: object, *parts: object) -> bool:
        """Write ``magic``, then ``header`` and each of ``parts`` pickled, to ``path``
        atomically, readable by this user alone; whether it was written (a failure is
        logged, nothing more)."""
        temporary = None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".rules-", suffix=".tmp")
            with os.fdopen(handle, "wb") as stream:
                os.fchmod(stream.fileno(), 0o600)
                stream.write(magic)
                pickle.dump(header, stream, protocol=pickle.HIGHEST_PROTOCOL)
                with collector_paused():
                    for part in parts:
                        pickle.dump(part, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
            temporary = None
        except Exception as exc:  # a full disk, a read-only state directory, a matcher that cannot be pickled
            log.warning("rules: cannot write the cache %s: %s: %s", path, type(exc).__name__, exc)
            return False
        finally:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
        return True


@contextmanager
def _reading(path: Path | None, magic: bytes = MAGIC) -> Iterator[IO[bytes] | None]:
    """The cache file at ``path`` opened after its ``magic`` bytes, or None when there is
    none, it is not ours alone (see the module) or it is not such a file."""
    try:
        stream = path.open("rb") if path is not None else None
    except OSError:
        stream = None
    if stream is None:
        yield None
        return
    with stream:
        yield stream if _ours(stream, magic) else None


def _ours(stream: IO[bytes], magic: bytes) -> bool:
    """Whether the open file ``stream`` belongs to this user, nobody else may write it, and it
    starts with ``magic`` (read past it)."""
    try:
        status = os.fstat(stream.fileno())
        owner = status.st_uid == os.getuid() if hasattr(os, "getuid") else True
        return owner and not status.st_mode & 0o022 and stream.read(len(magic)) == magic
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class _Header:
    code: str
    digest: str
    hints: dict[str, tuple[OperatorHint, ...]]


class _PlainUnpickler(pickle.Unpickler):
    # the header is plain data: naming any class or function is refused
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


_NONE: tuple[OperatorHint, ...] = ()


def _read_header(stream: IO[bytes]) -> _Header | None:
    """The header of an open cache file, or None when it is damaged or of other code."""
    try:
        code, digest, queries, hints = _PlainUnpickler(stream).load()
    except Exception:  # a damaged header can fail to unpickle in any way: the file is ignored
        return None
    if code != code_version() or not isinstance(digest, str) or not isinstance(queries, tuple):
        return None
    known = dict.fromkeys(queries, _NONE)
    try:
        for i, found in hints.items():
            known[queries[i]] = tuple(OperatorHint(word, column, operator) for word, column, operator in found)
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
    return _Header(code, digest, known)


# ---------------------------------------------------------------------------- a checked rules section as plain data

_RULE_FIELDS = tuple(RuleSettings.model_fields)


def _section_rows(checked: CheckedRules | None) -> tuple[Any, ...] | None:
    """``checked`` as plain data: each rule as a row of its field values (in the order of
    ``RuleSettings``' fields) and the number of its set of written keys."""
    if checked is None or not all(_plain(rule) for rule in checked.rules):
        return None  # a spike or event: setting is a model of its own: such sections are read in full
    written: dict[frozenset[str], int] = {}
    rows = []
    for rule in checked.rules:
        keys = frozenset(rule.model_fields_set)
        rows.append((*(rule.__dict__[name] for name in _RULE_FIELDS), written.setdefault(keys, len(written))))
    advice = tuple((p.path, p.message, p.at) for p in checked.advice)
    return (
        checked.digest, checked.line, _RULE_FIELDS, tuple(written), rows, checked.notifiers, checked.sources,
        checked.tags, checked.inherits_notify, advice, checked.anchors_possible, checked.specs_digest,
    )


def _plain(rule: RuleSettings) -> bool:
    return all(
        value is None or isinstance(value, (str, bool)) or (isinstance(value, list) and all(
            isinstance(item, str) for item in value))
        for value in rule.__dict__.values()
    )


def _read_checked(stream: IO[bytes], path: Path | None) -> CheckedRules | None:
    """The checked rules section after the header of an open cache file, or None when it has
    none (one log line when it is damaged)."""
    try:
        with collector_paused(large=True):
            rows = _PlainUnpickler(stream).load()
        return None if rows is None else _checked_from(rows)
    except Exception as exc:  # a damaged file can fail to unpickle in any way: the file is read in full
        log.warning("rules: ignoring the damaged cache %s (%s)", path, type(exc).__name__)
        return None


def _checked_from(rows: tuple[Any, ...]) -> CheckedRules | None:
    (digest, line, fields, written, rules, notifiers, sources, tags, inherits_notify, advice, anchors,
     specs_digest) = rows
    if fields != _RULE_FIELDS:
        return None
    sets = [set(keys) for keys in written]
    width = len(fields)
    if not all(isinstance(row, tuple) and len(row) == width + 1 and 0 <= row[width] < len(sets) for row in rules):
        return None

    def build() -> tuple[RuleSettings, ...]:
        built = []
        new = RuleSettings.__new__
        for row in rules:
            rule = new(RuleSettings)
            # pydantic's own unpickling (BaseModel.__setstate__): the values were validated when written
            rule.__setstate__({
                "__dict__": dict(zip(fields, row[:width], strict=True)),
                "__pydantic_fields_set__": set(sets[row[width]]),
                "__pydantic_extra__": None,
                "__pydantic_private__": None,
            })
            built.append(rule)
        return tuple(built)

    return CheckedRules(
        digest, line, build, notifiers=frozenset(notifiers), sources=frozenset(sources),
        tags=frozenset(tags), inherits_notify=bool(inherits_notify),
        advice=tuple(Problem(tuple(path), message, at) for path, message, at in advice),
        anchors_possible=bool(anchors), specs_digest=specs_digest,
    )
