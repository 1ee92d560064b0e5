"""The matcher's shortcuts give the same answers as the slow, obvious ways."""

from __future__ import annotations

import contextlib
import random
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lemminflect import Lemmatizer, getAllLemmas

from monitor.errors import QueryError
from monitor.models import Story
from monitor.rules import Matcher, RuleSpec, parse_query
from monitor.rules import document as document_module
from monitor.rules import matcher as matcher_module
from monitor.rules import text as text_module
from monitor.rules.ast import And, Near, Node, Not, Or, Term, walk_terms
from monitor.rules.document import StoryDoc
from monitor.rules.evaluate import (
    _INSIDE_LOOKBACK,
    MAX_HITS,
    Evaluation,
    Occ,
    _any_pairs,
    _near_exists,
    _pairs,
    _width_of,
)
from monitor.rules.snippets import Sentences, make_snippets
from monitor.rules.text import english_lemmas


def test_english_lemmas_equal_lemminflect_get_all_lemmas() -> None:
    lemmatizer = Lemmatizer()
    table = list(lemmatizer._getLemmaDict())
    words = table[::7] + list(lemmatizer._getOverridesDict()) + ["went", "leaves", "analyses", "xyzzy", "'s"]
    differ = [w for w in words
              if sorted(english_lemmas(w.lower())) != sorted(x for v in getAllLemmas(w.lower()).values() for x in v)]
    assert differ == []
    assert "go" in english_lemmas("went")
    assert english_lemmas("xyzzy") == []


VOCAB = ["semi-conductor", "semiconductor", "semi", "conductor", "U.S.", "US", "us", "Japan's", "japan",
         "COVID-19", "covid", "19", "O'Brien", "obrien", "rare", "earths", "earth", "bbc.co.uk", "co",
         "_", "-'-", "3.5", "Défense", "defence", "日本", "の", "trade", "war", "weapons", "earthquake", "Japanese",
         "semiconductors", "traded", "rarely", "semi\u00adconductor", "\u200bJapan", "ear\u2060ths",
         "کتاب\u200cها"]
QWORDS = ["semi-conductor", "semiconductor", "semi", "conductor", "U.S.", "US", "us", "japan", "covid-19",
          "covid", "19", "O'Brien", "rare", "earths", "earth", "bbc", "co", "uk", "3.5", "defense", "日本",
          "trade", "war"]
seps = st.sampled_from([" ", " ", ". ", ", ", " - ", "\n", " _ "])
texts = st.lists(st.tuples(st.sampled_from(VOCAB), seps), max_size=16).map(
    lambda items: "".join(w + s for w, s in items))
phrase = st.lists(st.sampled_from(QWORDS), min_size=1, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"')
term = st.one_of(st.sampled_from(QWORDS), phrase, phrase.map(lambda p: "=" + p),
                st.sampled_from(["weap*", "eart*", "semi*", "japa*", "rar*", "tra*", "co*"]))
field = st.sampled_from(["", "", "title:", "text:", "source:", "url:"])
@contextlib.contextmanager
def _pairs_from(count: int) -> Iterator[None]:
    saved = matcher_module._PAIRS_FROM
    matcher_module._PAIRS_FROM = count
    try:
        yield
    finally:
        matcher_module._PAIRS_FROM = saved


def compile_both(specs: Sequence[RuleSpec]) -> list[Matcher]:
    """The rules compiled with word pairs in the candidate filter and without them (the
    size threshold decides which one a real rule set gets)."""
    with _pairs_from(0):
        with_pairs = Matcher.compile(specs)
    with _pairs_from(1 << 62):
        without = Matcher.compile(specs)
    return [with_pairs, without]


rule = st.one_of(
    st.tuples(field, term).map("".join),
    st.tuples(field, term, field, term).map(lambda t: f"{t[0]}{t[1]} {t[2]}{t[3]}"),
    st.tuples(term, term).map(lambda t: f"{t[0]} OR title:{t[1]}"),
    st.tuples(term, st.integers(0, 3), term).map(lambda t: f"{t[0]} NEAR/{t[1]} {t[2]}"),
    # a NEAR with an OR side: decided in one step, a lone word first looked for among the
    # chunks around the other side (filed under the keys the matcher's notes give a field)
    st.tuples(term, term, st.integers(0, 5), term).map(lambda t: f"({t[0]} OR {t[1]}) NEAR/{t[2]} {t[3]}"),
    # words only under NOT: the evaluation looks them up too
    st.tuples(term, term).map(lambda t: f"{t[0]} -{t[1]}"),
    st.tuples(term, term, term).map(lambda t: f"{t[0]} AND NOT ({t[1]} OR title:{t[2]})"),
    st.tuples(term, st.integers(0, 3), term).map(lambda t: f"{t[0]} NEAR/{t[1]} NOT {t[2]}"),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rule, min_size=1, max_size=10), texts, texts, texts)
def test_candidate_filter_never_drops_a_match(queries: list[str], title: str, text: str, source: str) -> None:
    """Field-tagged words and word pairs in the filter: whatever the evaluator (run on every
    rule, no index) says matches is still reached through the index."""
    specs = []
    for i, q in enumerate(queries):
        try:
            parse_query(q)
        except QueryError:
            continue
        specs.append(RuleSpec(f"r{i}", q))
    story = Story(source=source, url=f"https://{text[:40].replace(' ', '-')}.example/{title[:20]}",
                  title=title, text=text)
    for matcher in compile_both(specs):
        evaluation = Evaluation(StoryDoc(story))
        expected = [spec.name for spec, rule in zip(specs, matcher._rules, strict=True)
                    if evaluation.truth(rule.query.root)]
        assert [m.rule for m in matcher.match(story)] == expected, [s.query for s in specs]


def test_pairs_are_features_of_consecutive_words() -> None:
    with _pairs_from(0):
        matcher = Matcher.compile([RuleSpec("p", '"rare earths"'), RuleSpec("c", '"semi conductor maker"'),
                                   RuleSpec("t", "title:japan")])
    assert matcher.candidates(Story(source="s", url="", title="x", text="rare metals and earths")) == []
    assert matcher.candidates(Story(source="s", url="", title="x", text="rare, _ earths")) == [0]
    assert matcher.candidates(Story(source="s", url="", title="x", text="A semi-conductor maker")) == [1]
    assert matcher.candidates(Story(source="s", url="", title="x", text="Japan")) == []
    assert matcher.candidates(Story(source="s", url="", title="Japan's", text="x")) == [2]


def test_small_rule_sets_skip_word_pairs() -> None:
    """Below the size threshold a phrase's words alone make its rule a candidate (no pair
    search per story); the match itself is unchanged."""
    specs = [RuleSpec("p", '"rare earths"')]
    story = Story(source="s", url="", title="x", text="rare metals and earths")
    with_pairs, without = compile_both(specs)
    assert with_pairs.candidates(story) == []
    assert without.candidates(story) == [0]
    assert with_pairs.match(story) == without.match(story) == []
    assert len(Matcher.compile(specs)._pair_firsts) == 0


def test_compound_next_to_a_wordless_chunk_is_located() -> None:
    # widths 2 and 0 add up to one word per chunk: positions must still come from the widths
    [match] = Matcher.compile([RuleSpec("c", "semi-conductor")]).match(
        Story(source="s", url="", title="", text="semi-conductor _ "))
    assert match.snippets[0].plain() == "**semi-conductor** _"


def test_positions_and_offsets_around_compounds_and_wordless_chunks() -> None:
    text = "a semi-conductor _ b U.S. c COVID-19 _ -'- d"
    rules = [RuleSpec(w, w) for w in ("a", "conductor", "semi-conductor", "b", "US", "c", "covid", "19", "d")]
    got = {m.rule: [(h.position, text[h.start:h.end]) for h in m.hits]
           for m in Matcher.compile(rules).match(Story(source="s", url="", title="", text=text))}
    assert got == {
        "a": [(0, "a")], "conductor": [(2, "conductor")],
        "semi-conductor": [(1, "semi-conductor")],
        "b": [(3, "b")], "US": [(4, "U.S.")], "c": [(5, "c")], "covid": [(6, "COVID")],
        "19": [(7, "19")], "d": [(8, "d")],
    }


@contextlib.contextmanager
def _cut_by_expression() -> Iterator[None]:
    """Stories cut into chunks by ``CHUNK_RE`` instead of at their spaces (what a field with
    a chunk longer than ``MAX_CHUNK`` gets)."""
    saved = document_module.MAX_CHUNK
    document_module.MAX_CHUNK = -1
    try:
        yield
    finally:
        document_module.MAX_CHUNK = saved


spaced_seps = st.sampled_from([" ", "  ", ". ", ", ", " — ", "\n\n", "/", "(", ") ", "\t", "\u00a0", " _ ", "'"])
spaced_texts = st.lists(st.tuples(st.sampled_from(VOCAB), spaced_seps), max_size=16).map(
    lambda items: "".join(w + s for w, s in items))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rule, min_size=1, max_size=8), spaced_texts, spaced_texts)
def test_cutting_at_spaces_equals_cutting_by_expression(queries: list[str], title: str, text: str) -> None:
    """The same matches, hits (positions and offsets) and snippets whichever way a story
    is cut into chunks, with word pairs in the filter or not."""
    specs = []
    for i, q in enumerate(queries):
        with contextlib.suppress(QueryError):
            parse_query(q)
            specs.append(RuleSpec(f"r{i}", q))
    story = Story(source="s", url="https://x.example/a", title=title, text=text)
    spaced = [m.match(story) for m in compile_both(specs)]
    with _cut_by_expression():
        cut = [m.match(story) for m in compile_both(specs)]
    assert spaced == cut, [s.query for s in specs]


def test_pairs_reach_joined_forms_inside_a_chunk() -> None:
    with _pairs_from(0):
        matcher = Matcher.compile([RuleSpec("j", '"semiconductor tariffs"'), RuleSpec("k", '"chip semiconductor"'),
                                   RuleSpec("x", '"tariffs chip"')])
    for text, expected in [("x/semi-conductor tariffs", [0]), ("(chip/semi-conductor)", [1]),
                           ("tariffs/chip/semi-conductor", [1, 2]), ("semi-conductor. Tariffs", [0]),
                           ("semi-conductor — tariffs", [0]), ("semi-conductor and tariffs", [])]:
        story = Story(source="s", url="", title="", text=text)
        assert matcher.candidates(story) == expected, text
        assert [m.rule for m in matcher.match(story)] == [["j", "k", "x"][i] for i in expected], text


def test_text_without_spaces_is_cut_by_expression() -> None:
    """A paragraph of Japanese has no spaces: it is not cached as one chunk, and its words
    are found and located as in spaced text."""
    text = "日本の防衛。" * 30 + " rare earths end"
    doc = StoryDoc(Story(source="s", url="", title="", text=text))
    assert doc.fields[1].pieces is not None
    assert doc.fields[1].chunks == ["日本の防衛"] * 30 + ["rare", "earths", "end"]
    matches = Matcher.compile([RuleSpec("r", '"rare earths"'), RuleSpec("j", "日本 防衛")]).match(
        Story(source="s", url="", title="", text=text))
    assert [m.rule for m in matches] == ["r", "j"]
    assert [text[h.start:h.end] for h in matches[0].hits] == ["rare earths"]
    assert {text[h.start:h.end] for h in matches[1].hits} == {"日本", "防衛"}


def test_caches_renewed_while_matching_keep_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared chunk cache is replaced when it grows past its bound, and the matcher's
    notes with it (they name chunks of one cache); notes past their own bound are renewed.
    Answers are the same as with caches that never fill up."""
    specs = [RuleSpec("p", '"rare earths"'), RuleSpec("w", "sanction*"), RuleSpec("j", "japan defence")]
    stories = [Story(source="s", url="", title=f"t{i}", text=f"w{i} Rare earths, sanctioned Japan's defence x{i}.")
               for i in range(30)]
    with _pairs_from(0):
        expected = [Matcher.compile(specs).match(s) for s in stories]
        monkeypatch.setattr(text_module, "_MAX_CACHE", 5)
        monkeypatch.setattr(matcher_module, "_MAX_CHUNK_NOTES", 7)
        text_module._CACHES.clear()
        matcher = Matcher.compile(specs)
        # the caches are kept: a freed one's id may be a later one's
        caches: dict[int, object] = {}
        for story, want in zip(stories, expected, strict=True):
            assert matcher.match(story) == want
            cache = text_module.lang_cache("en")
            caches[id(cache)] = cache
    assert len(caches) > 5
    assert [m.rule for m in expected[0]] == ["p", "w", "j"]


def test_words_only_under_not_are_looked_up() -> None:
    """A story's features are cut down to the words some rule may look up: that includes
    words that only appear under NOT, and the words under a negated wildcard."""
    specs = [RuleSpec("w", "nuclear -weapon*"), RuleSpec("a", "nuclear AND NOT arsenals"),
             RuleSpec("c", "nuclear NEAR/3 NOT =IAEA"), RuleSpec("p", 'nuclear -"test sites"'),
             RuleSpec("t", "nuclear -title:plant")]
    bad = Story(source="s", url="", title="Plant", text="Nuclear IAEA weapons in the arsenal; test sites.")
    good = Story(source="s", url="", title="x", text="Nuclear talks.")
    for matcher in compile_both(specs):
        assert matcher.match(bad) == []
        assert [m.rule for m in matcher.match(good)] == ["w", "a", "c", "p", "t"]


_CHUNK_ALPHABET = st.sampled_from(
    ["a", "B", "é", "e\u0301", "1", "_", ".", ",", "-", "'", "’", "(", ")", "\"", "“", "”", "…", "—", "!", ":",
     "日", "\u0e01", "\u0e34", "s", "U.S.", "S", "\\", "/", "\n", "\u00a0", "\u00ad", "\u200b", "\u200c",
     "\u200d", "\ufeff"])
_PIECES = st.lists(_CHUNK_ALPHABET, min_size=1, max_size=10).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=6))
def test_cache_reuses_the_analysis_of_a_chunk_without_its_punctuation(chunks: list[str]) -> None:
    """``"said,"`` and ``"(said"`` are analysed from ``"said"``: the same parts (offsets
    shifted), aliases and features as a fresh analysis."""
    cache = text_module.LangCache("en")
    for chunk in chunks:
        assert cache.add(chunk) == text_module.analyse_chunk(chunk, "en"), chunk
        assert cache.add(chunk) is cache.chunks[chunk]


_ASCII_WORDS = st.one_of(st.text(st.sampled_from("abcXYZsSiI"), min_size=1, max_size=12),
                         st.text(st.sampled_from("0123456789"), min_size=1, max_size=6),
                         st.sampled_from(["Said", "leaves", "went", "analyses", "US", "I", "A", "colour", "2019"]),
                         # numbers: digit groups joined by dots or commas
                         st.lists(st.text(st.sampled_from("0123456789"), min_size=1, max_size=4), min_size=2,
                                  max_size=4).flatmap(lambda groups: st.sampled_from([".", ","]).map(
                                      lambda sep: sep.join(groups))))


@settings(max_examples=300, deadline=None)
@given(_ASCII_WORDS)
def test_a_plain_word_is_analysed_as_the_expressions_analyse_it(word: str) -> None:
    """The shortcut for a chunk of ASCII letters only (or digits only, or a number of digit
    groups) gives what the expressions give, in English and in another language."""
    for lang in ("en", "de"):
        assert text_module.analyse_word(word, lang) == text_module.analyse_pieces(word, lang)
        assert text_module.analyse_chunk(word, lang) == text_module.analyse_pieces(word, lang)


_JOINED_CHUNKS = st.lists(st.text(st.sampled_from("abXYsSItre"), min_size=1, max_size=5), min_size=2, max_size=8).flatmap(
    lambda words: st.lists(st.sampled_from(["-", "'", "’"]), min_size=len(words) - 1, max_size=len(words) - 1).map(
        lambda seps: words[0] + "".join(sep + word for sep, word in zip(seps, words[1:], strict=True))))


@settings(max_examples=300, deadline=None)
@given(_JOINED_CHUNKS)
def test_a_compound_or_contraction_is_analysed_as_the_expressions_analyse_it(chunk: str) -> None:
    """The shortcut for ASCII words joined by hyphens or apostrophes (``well-known``,
    ``didn’t``, ``mother-in-law's``, more than six words, a possessive ``s``) gives what the
    expressions give, in English and in another language."""
    for lang in ("en", "de"):
        assert text_module.analyse_joined(chunk, lang) == text_module.analyse_pieces(chunk, lang)
        assert text_module.analyse_chunk(chunk, lang) == text_module.analyse_pieces(chunk, lang)


def _inside(occ: Occ, spans: list[Occ]) -> bool:
    """Whether a span of ``spans`` (sorted) contains ``occ``, looking at most
    ``_INSIDE_LOOKBACK`` spans back, one occurrence at a time (the product tests many at
    once, ``evaluate._within``)."""
    f, s, e = occ
    i = bisect_right(spans, (f, s, 1 << 62))
    for j in range(i - 1, max(-1, i - 1 - _INSIDE_LOOKBACK), -1):
        sf, ss, se = spans[j]
        if sf != f:
            break
        if ss <= s and se >= e:
            return True
    return False


def _reference_evidence(evaluation: Evaluation, node: Node, found: dict[Occ, str]) -> None:
    """The evidence of a matching node, the obvious way: every positive term's occurrences
    that made it match, each labelled by the first term (in the query) that has it."""
    if isinstance(node, Term):
        for occ in evaluation.term_occ(node)[:MAX_HITS]:
            found.setdefault(occ, node.label)
    elif isinstance(node, And):
        for c in node.children:
            _reference_evidence(evaluation, c, found)
    elif isinstance(node, Or):
        for c in node.children:
            if evaluation.truth(c):
                _reference_evidence(evaluation, c, found)
    elif isinstance(node, Near):
        spans = evaluation.occ(node)
        for side in (node.left, node.right):
            if not isinstance(side, Not):
                for term, positive in walk_terms(side):
                    for occ in evaluation.term_occ(term) if positive else ():
                        if _inside(occ, spans):
                            found.setdefault(occ, term.label)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rule, min_size=1, max_size=8), spaced_texts, spaced_texts)
def test_shared_reports_equal_reports_made_one_by_one(queries: list[str], title: str, text: str) -> None:
    """The matcher's hits and snippets (hits made once per story, evidence shared between
    the rules of a term, sentences and snippets cut once) are what each rule's own
    evidence, hits and ``make_snippets`` give."""
    specs = []
    for i, q in enumerate(queries):
        with contextlib.suppress(QueryError):
            parse_query(q)
            specs.append(RuleSpec(f"r{i}", q))
    story = Story(source="s", url="https://x.example/a", title=title, text=text + ". " + text)
    for matcher in compile_both(specs):
        texts = {"title": title, "text": story.text, "source": "s", "url": story.url}
        for match in matcher.match(story):
            rule = next(r for r in matcher._rules if r.name == match.rule)
            evaluation = Evaluation(StoryDoc(story))
            assert evaluation.truth(rule.query.root)
            found: dict[Occ, str] = {}
            _reference_evidence(evaluation, rule.query.root, found)
            hits = evaluation.hits_of(tuple(sorted(found.items())[:MAX_HITS]))
            assert evaluation.hits(rule.query.root) == hits, rule.query.text
            assert list(match.hits) == hits, rule.query.text
            assert match.snippets == make_snippets(texts, hits, sentences=Sentences()), rule.query.text


def _reference_word_keys(lower: str, lang: str) -> tuple[str, ...]:
    """``word_keys`` as first written (before its shortcuts for ASCII words)."""
    own = text_module.fold(lower)
    if text_module._CJK.search(lower) or not any(c.isalpha() for c in lower):
        return (own,)
    keys = {own}
    if lang == "en":
        american = text_module._american
        keys.add(american(own))
        for form in {lower, american(lower)}:
            keys.update(american(text_module.fold(lemma)) for lemma in english_lemmas(form))
    else:
        with contextlib.suppress(ValueError):
            keys.add(text_module.fold(str(text_module.simplemma.lemmatize(lower, lang=lang))))
    return tuple(sorted(keys, key=lambda k: (k != own, k)))


def test_word_keys_equal_the_first_way_of_finding_them() -> None:
    lemmatizer = Lemmatizer()
    words = list(lemmatizer._getLemmaDict())[::11] + list(lemmatizer._getOverridesDict())[::3] + [
        "analyses", "colour", "organisations", "went", "3.5", "19", "日本", "défense", "straße", "x1", "_"]
    for lang in ("en", "de"):
        differ = [w for w in words[:: 1 if lang == "en" else 7]
                  if text_module.word_keys(w.lower(), lang) != _reference_word_keys(w.lower(), lang)]
        assert differ == [], lang


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=8))
def test_fold_strips_the_generic_diacritics_only(word: str) -> None:
    expected = word.casefold()
    if not expected.isascii():
        decomposed = unicodedata.normalize("NFKD", expected)
        stripped = "".join(c for c in decomposed if not "\u0300" <= c <= "\u036f")
        expected = unicodedata.normalize("NFC", stripped).translate(text_module._EXTRA_FOLD)
    assert text_module.fold(word) == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=6))
def test_a_one_word_chunk_is_noted_as_any_chunk_is(chunks: list[str]) -> None:
    """The matcher's note of a chunk of one word (its features some rule looks up, whether
    it starts a rule's word pair, its words under a wildcard) is the general one."""
    cache = text_module.LangCache("en")
    notes = document_module.ChunkNotes(cache, frozenset({"b", "ab", "s"}), frozenset({"ab", "abb", "bé", "us"}),
                                       frozenset({"a", "b", "ab", "s", "us", "be"}))
    for chunk in chunks:
        info = cache.add(chunk)
        # (a one-word chunk's plain note is the falsy ``_PLAIN``; any other chunk's, an equal
        # truthy one, so that it is placed)
        assert (notes.add(chunk) or (frozenset(), False, ())) == notes._add_chunk(chunk, info), chunk


@pytest.mark.parametrize("text", ["a b a c a", "a", "b a", "a a a", "x a, a a. a"])
def test_where_lists_every_occurrence_of_a_chunk(text: str) -> None:
    """``FieldDoc.where`` finds a chunk at its first and last index and every one between."""
    field = StoryDoc(Story(source="s", url="", title="", text=text)).fields[1]
    for chunk in field.occurrences():
        assert field.where(chunk) == [i for i, c in enumerate(field.chunks) if c == chunk], chunk


occurrences = st.lists(st.tuples(st.sampled_from([0, 1]), st.integers(0, 120)), max_size=60).map(
    lambda found: sorted({(f, s, s) for f, s in found}))


@settings(max_examples=300, deadline=None)
@given(occurrences, occurrences, st.integers(0, 40))
def test_near_of_single_words_equals_the_general_way(left: list[Occ], right: list[Occ], n: int) -> None:
    """NEAR of two lists of one-word occurrences (bisection, pairs added in C) finds what
    comparing each occurrence with its neighbours does."""
    expected = [] if not left or not right else (
        _any_pairs(left, right, n) if len(left) >= len(right) else _any_pairs(right, left, n))
    assert _pairs(left, right, n) == expected


spans = st.lists(st.tuples(st.sampled_from([0, 1]), st.integers(0, 120), st.integers(0, 3)), max_size=60).map(
    lambda found: sorted({(f, s, s + w) for f, s, w in found}))


@settings(max_examples=400, deadline=None)
@given(st.one_of(occurrences, spans), st.one_of(occurrences, spans), st.integers(0, 40))
def test_near_decided_without_spans_equals_its_spans(left: list[Occ], right: list[Occ], n: int) -> None:
    """Whether a NEAR holds, found by bisecting the longer side for each occurrence of the
    shorter, is whether its spans (below the budgets) are there; on words and on phrases."""
    widths = _width_of(left), _width_of(right)
    assert _near_exists(left, right, n, *widths) == bool(_pairs(left, right, n))
    assert _near_exists(right, left, n, *reversed(widths)) == bool(_pairs(left, right, n))


def test_pairs_of_starters_no_rule_pair_ends_with_are_left_out() -> None:
    """The word pairs of chunks whose last word starts no rule's pair with a word the story
    has are not looked for: every story has the same candidates as with every pair."""
    rng = random.Random(14)
    words = ["new", "york", "times", "semi", "conductor", "rare", "earths", "hong", "kong", "the", "of"]
    specs = [RuleSpec(f"r{i}", '"' + " ".join(rng.sample(words, rng.choice([2, 2, 3]))) + '"')
             for i in range(60)]
    specs.append(RuleSpec("c", "=New =York"))
    with _pairs_from(0):
        matcher = Matcher.compile(specs)
    assert matcher._pair_seconds is not None
    every = Matcher.__new__(Matcher)
    every.__dict__.update(matcher.__dict__)
    every._pair_seconds = None
    every._notes = {}
    pieces = [*words, "New", "York's", "semi-conductor", "-", "_", "Hong-Kong", "earths.", "(rare", ""]
    for _ in range(200):
        story = Story(source="s", url="", title=" ".join(rng.choices(pieces, k=4)),
                      text=" ".join(rng.choices(pieces, k=rng.randint(1, 30))))
        assert matcher.candidates(story) == every.candidates(story), story
