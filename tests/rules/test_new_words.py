"""A story's new words: the shortcuts that analyse them (the English key table, the bulk
paths of ``LangCache.add_all`` and ``ChunkNotes.add_all``) give what the one-by-one ways give."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from lemminflect import Lemmatizer
from pytest import MonkeyPatch

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules import text as text_module
from monitor.rules.document import ChunkNotes
from monitor.rules.encoding import PREFIX_TAG, SURFACE_TAG
from monitor.rules.text import BRITISH_ENGLISH_SPELLINGS, LangCache, analyse_pieces, analyse_word, word_keys


def seeded_words(count: int, seed: int = 14) -> list[str]:
    """Words of lemminflect's and breame's tables, as written and mangled (capitals, digits,
    accents, other scripts, apostrophes), and random letters."""
    rng = random.Random(seed)
    lemmatizer = Lemmatizer()
    table = [*lemmatizer._getLemmaDict(), *lemmatizer._getOverridesDict(), *BRITISH_ENGLISH_SPELLINGS,
             *BRITISH_ENGLISH_SPELLINGS.values()]
    mangles = [
        lambda w: w, lambda w: w.lower(), lambda w: w.capitalize(), lambda w: w.upper(),
        lambda w: w + str(rng.randrange(100)), lambda w: str(rng.randrange(10)) + w,
        lambda w: w.replace("e", "é", 1), lambda w: w.replace("o", "ö"), lambda w: w + "ß",
        lambda w: w + "'s", lambda w: w.replace("a", "а"),  # a Cyrillic a
        lambda w: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(len(w))),
        lambda w: w + rng.choice(["ing", "ed", "s", "ies", "ised", "isation", "our"]),
    ]
    words = [rng.choice(mangles)(rng.choice(table)) for _ in range(count)]
    return [*words, "", "a", "I", "i", "s", "x1", "1990s", "2019", "_", "İstanbul", "ǅemal", "ŉ", "한국", "日本",
            "colour", "colours", "analyses", "went", "leaves", "left", "Colour"]


def test_english_key_table_holds_the_keys_of_every_word_of_the_tables() -> None:
    """Every word lemminflect or breame knows (the only ones whose keys can be more than the
    word itself): the table's keys are the lemmatisers' keys."""
    table = text_module.english_key_table()
    lemmatizer = Lemmatizer()
    words = {w.lower() for t in (lemmatizer._getLemmaDict(), lemmatizer._getOverridesDict(),
                                 BRITISH_ENGLISH_SPELLINGS) for w in t}
    words = {w for w in words if w.isascii() and w.islower()}
    differ = [w for w in words if table.get(w, (w,)) != text_module._analysed_keys(w, "en")]
    assert differ == []
    assert table["went"] == ("went", "go") and table["colours"] == ("colours", "color", "colors")
    assert "xyzzy" not in table


def test_word_keys_equal_the_lemmatisers_keys_on_any_word() -> None:
    words = seeded_words(12_000)
    for lang in ("en", "de"):
        differ = [w for w in words[:: 1 if lang == "en" else 10]
                  if word_keys.__wrapped__(w.lower(), lang) != text_module._analysed_keys(w.lower(), lang)]
        assert differ == [], lang
    # the words as written, not lower-cased (the query side may pass any)
    differ = [w for w in words if word_keys.__wrapped__(w, "en") != text_module._analysed_keys(w, "en")]
    assert differ == []


_LETTERS = st.sampled_from(["a", "B", "s", "S", "é", "É", "ß", "ö", "а", "Д", "한", "ı", "İ", "ǅ", "ŉ", "ﬁ", "x"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_LETTERS, min_size=1, max_size=8).map("".join))
def test_a_word_of_any_letters_is_analysed_as_the_expressions_analyse_it(word: str) -> None:
    for lang in ("en", "de"):
        assert analyse_word(word, lang) == analyse_pieces(word, lang)
        assert text_module.analyse_chunk(word, lang) == analyse_pieces(word, lang)


_CHUNKS = st.one_of(
    st.sampled_from(seeded_words(300, seed=7)),
    st.tuples(st.sampled_from(["", "(", "“", "'"]), st.sampled_from(seeded_words(100, seed=8)),
              st.sampled_from(["", ".", ",", "’s", "'s", ").", "!”", "-", "-up"])).map("".join),
    st.sampled_from(["U.S.", "re-elected", "didn’t", "400,000", "https://x.example/a-b", "—", "", "日本の", "5th"]),
    # words of other letters, alone or with punctuation: a fold that is a British spelling,
    # a lower case that is ASCII (the kelvin sign), words the tables hold
    st.tuples(st.sampled_from(["", "(", "“"]),
              st.sampled_from(["Condé", "한국의", "Кристина", "\u212a", "\u212aing", "İstanbul", "naïve", "café",
                               "Colóur", "COLÓURS", "ǅemal", "Straße", "déjà", "señor", "ÉLITE", "vis-à-vis",
                               "Purée", "formulæ", "Puréed", "1993", "44", "했다", "日本", "日本の", "ｆｕｌｌ",
                               "ﬁx", "Ǆ"]),
              st.sampled_from(["", ".", ",", "’s", ")."])).map("".join),
)


def _rev(cache: LangCache) -> dict[str, list[str]]:
    return {feature: sorted(chunks) for feature, chunks in cache.rev.items()}


def _add_both_ways(chunks: list[str], one: tuple[LangCache, ChunkNotes], together: tuple[LangCache, ChunkNotes],
                   *also: LangCache) -> None:
    """A story's chunks the caches lack: added chunk by chunk to ``one`` (``add``), at once to
    ``together`` and ``also`` (``add_all``)."""
    new = [c for c in dict.fromkeys(chunks) if c not in one[0].chunks]
    for chunk in new:
        one[0].add(chunk)
    for cache in (together[0], *also):
        cache.add_all(new)
    fresh = [c for c in dict.fromkeys(chunks) if c not in one[1].notes]
    for chunk in fresh:
        one[1].add(chunk)
    together[1].add_all(fresh)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_CHUNKS, max_size=30), min_size=1, max_size=4))
def test_chunks_added_together_are_added_as_one_by_one(stories: list[list[str]]) -> None:
    """``LangCache.add_all`` and ``ChunkNotes.add_all`` make the caches ``add`` makes, story
    after story (each adds the chunks the caches lack)."""
    matcher = Matcher.compile([RuleSpec("a", "colour* went"), RuleSpec("b", '"re elected" OR leaves'),
                               RuleSpec("c", "analys* NEAR/2 us")])
    for lang in ("en", "de"):
        words = matcher._index(lang).words
        one, together, surfaced = LangCache(lang), LangCache(lang), LangCache(lang)
        # filed under the surfaces from the start, as after an exact-case term's lookup
        surfaced.index_surfaces()
        notes_one = ChunkNotes(one, frozenset({"re", "us", "went"}), matcher._prefixes, words)
        notes_together = ChunkNotes(together, frozenset({"re", "us", "went"}), matcher._prefixes, words)
        for chunks in stories:
            _add_both_ways(chunks, (one, notes_one), (together, notes_together), surfaced)
        assert together.chunks == one.chunks
        assert _rev(together) == _rev(one)
        assert (together.complex, together.wordless) == (one.complex, one.wordless)
        assert notes_together.notes == notes_one.notes
        # the surfaces filed at the first exact-case lookup are those filed as chunks come
        assert not any(feature.startswith(SURFACE_TAG) for feature in one.rev)
        one.index_surfaces()
        together.index_surfaces()
        assert _rev(together) == _rev(one) == _rev(surfaced)
        assert any(feature.startswith(SURFACE_TAG) for feature in one.rev) or not one.chunks.keys() - one.wordless


def test_an_exact_case_term_finds_the_words_cached_before_the_first_such_lookup(monkeypatch: MonkeyPatch) -> None:
    """Words are filed under their surfaces only once an exact-case term looks one up:
    those cached before are filed then, and match as if they had been filed as they came."""
    story = Story(source="s", url="https://x.example/1", title="Apple, said apple growers",
                  text="The Apple budget (Apple’s) and “Apple” re-Apple APPLE apple. Apple-pie Apple.")
    rules = [RuleSpec("exact", "=Apple"), RuleSpec("hyphen", '"=re-Apple"'), RuleSpec("phrase", '"=Apple budget"')]

    def answers() -> list[tuple[str, list[tuple[str, int, int, int]]]]:
        return [(m.rule, [(h.field, h.position, h.start, h.end) for h in m.hits])
                for m in Matcher.compile(rules).match(story)]

    monkeypatch.setattr(text_module, "_CACHES", {})
    from_start = text_module.lang_cache("en")
    from_start.index_surfaces()
    expected = answers()
    assert [rule for rule, _ in expected] == ["exact", "hyphen", "phrase"]
    monkeypatch.setattr(text_module, "_CACHES", {})
    Matcher.compile([RuleSpec("plain", "budget")]).match(story)
    cache = text_module.lang_cache("en")
    assert cache.chunks and not cache.surfaced
    assert answers() == expected
    assert cache.surfaced


def test_seeded_stories_added_together_are_added_as_one_by_one() -> None:
    """The bulk paths (``LangCache.add_all``, filing each new word under its features in one
    loop; ``ChunkNotes.add_all``, intersecting only the chunks with a feature a rule looks up
    and finding the words under a wildcard from their first characters) against ``add``
    chunk by chunk, on seeded stories of table words, punctuation, foreign and compound
    words, with hundreds of wildcard prefixes of several lengths sharing their first letters."""
    rng = random.Random(18)
    pool = [*seeded_words(1200, seed=18), "re-elected", "U.S.-led", "(Trump’s", "said,", "“Moreover,", "3.5.",
            "Condé", "Koalitions-Vertrag", "12,500", "didn’t", "日本の", "—"]
    punct = ["", "", "", ",", ".", "’s", ")", "”", ":"]
    stories = [[rng.choice(["", "", "", "(", "“"]) + rng.choice(pool) + rng.choice(punct) for _ in range(80)]
               for _ in range(6)]
    folds = sorted({text_module.fold(w) for w in pool if len(w) > 3 and w.isalpha()})
    # prefixes of two to seven letters of the pool's words (so that many words are under one,
    # some under several), and a few no word starts with
    prefixes = frozenset({w[: rng.randint(2, 7)] for w in rng.sample(folds, 300)} | {"zzq", "qqqq"})
    words = frozenset(rng.sample(folds, 200))
    firsts = frozenset(rng.sample(folds, 50))
    for lang in ("en", "de"):
        one, together = LangCache(lang), LangCache(lang)
        if lang == "de":
            # filed under the surfaces too, as after an exact-case term's lookup
            one.index_surfaces()
            together.index_surfaces()
        notes_one = ChunkNotes(one, firsts, prefixes, words)
        notes_together = ChunkNotes(together, firsts, prefixes, words)
        for chunks in stories:
            _add_both_ways(chunks, (one, notes_one), (together, notes_together))
        assert together.chunks == one.chunks
        assert _rev(together) == _rev(one)
        assert notes_together.notes == notes_one.notes
        # some words were under a prefix, some under several, some had features
        under = [note[2] for note in notes_together.notes.values() if note and note[2]]
        assert under and any(len(found) > 1 for found in under)
        assert any(f[:1] != PREFIX_TAG for note in notes_together.notes.values() if note for f in note[0])


def test_ascii_word_is_ascii_letters_or_an_ascii_number() -> None:
    """``_ascii_word`` (``_ascii_number`` written inline) against its definition, on seeded
    chunks of letters, digits, separators and other characters."""
    rng = random.Random(28)
    alphabet = ["a", "Z", "0", "7", ".", ",", "-", "é", "٣", "²", "'", "s", ""]
    chunks = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(20_000)]
    chunks += ["", "1", "1.5", "1,500.25", "1.", ".5", "1..5", "abc", "ab1", "١٢", "x1"]
    for chunk in chunks:
        expected = (chunk.isascii() and chunk.isalpha()) or text_module._ascii_number(chunk)
        assert text_module._ascii_word(chunk) == expected, chunk


def test_sparse_rule_words_and_prefixes_are_noted_as_one_by_one() -> None:
    """``ChunkNotes.add_all`` where few words have a note of their own (the usual case: a few
    rule words, prefixes and pair starts among a story's words), so that the shared notes are
    set by the loops over the few, some words with both a feature and a prefix."""
    rng = random.Random(29)
    pool = [*seeded_words(1500, seed=29), "re-elected", "U.S.-led", "(Trump’s", "said,", "“Moreover,", "—", ""]
    punct = ["", "", "", ",", ".", "’s", ")"]
    folds = sorted({text_module.fold(w) for w in pool if len(w) > 3 and w.isalpha()})
    for seed in range(4):
        pick = random.Random(seed)
        prefixes = frozenset({w[: pick.randint(3, 5)] for w in pick.sample(folds, 12)})
        # some words under a prefix are rule words and start a pair too
        under = [f for f in folds if f.startswith(tuple(prefixes))]
        both = pick.sample(under, min(len(under), 10))
        words = frozenset(pick.sample(folds, 40) + both)
        firsts = frozenset(pick.sample(folds, 25) + both)
        one, together = LangCache("en"), LangCache("en")
        notes_one = ChunkNotes(one, firsts, prefixes, words)
        notes_together = ChunkNotes(together, firsts, prefixes, words)
        for _ in range(8):
            chunks = [rng.choice(["", "", "("]) + rng.choice(pool) + rng.choice(punct) for _ in range(150)]
            _add_both_ways(chunks, (one, notes_one), (together, notes_together))
        assert notes_together.notes == notes_one.notes
        noted = [note for note in notes_together.notes.values() if note]
        assert any(note[1] and note[2] and any(f[:1] != PREFIX_TAG for f in note[0]) for note in noted)
        assert sum(1 for note in notes_together.notes.values() if not note) > len(noted)
