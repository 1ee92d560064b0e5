"""A story's language from its declaration and its text (``monitor.extract.language``)."""

from __future__ import annotations

import gzip
import json
import random
import re
from array import array
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.extract.article import extract_article
from monitor.extract.language import MAX_CHARS, MIN_LETTERS, detect_language, story_language
from monitor.sources.feedparse import parse_feed
from tests.support.paths import need_corpus

GERMAN = ("Die Außenminister der Europäischen Union haben am Montag in Brüssel ein weiteres Paket von "
          "Sanktionen beschlossen. Betroffen sind vor allem Banken und Energieunternehmen.")
FRENCH = ("La participation au premier tour des élections municipales a nettement progressé dimanche dans "
          "les grandes villes, selon les chiffres publiés par le ministère de l'Intérieur.")
#: as much English as German: detection is unsure (p ~0.6)
BILINGUAL = ("The government said on Monday that it would raise taxes. "
             "Die Regierung sagte am Montag, sie werde die Steuern erhöhen.")
#: a little of four languages: detection's best guess is Luxembourgish, unsure
MIXED = ("Die Regierung hat beschlossen the government has decided la gouvernement a décidé "
         "el gobierno ha decidido")
#: written Cantonese, which py3langid tells apart from Mandarin (yue), surely
CANTONESE = ("佢哋話今日會落雨，你哋記得帶遮啊。我哋聽日再傾啦。"
             "政府發言人表示，佢哋會喺下個禮拜公布新嘅防疫措施，市民唔使太擔心。") * 2

# (declared, title, text, decided, why)
CASES = [
    (None, "", GERMAN, "de", "declares none: the text's"),
    ("en", "", GERMAN, "de", "declared wrong (a site-wide lang=en): detection is sure and wins"),
    ("de-AT", "", GERMAN, "de-AT", "agrees: the declared tag as it is, region and all"),
    ("DE_de", "", GERMAN, "DE_de", "agrees, whatever the tag's spelling"),
    ("de", "Élections municipales", FRENCH, "fr", "title and text together"),
    ("fr-FR", "Tour de France: Pogačar wins the Alpe d'Huez stage", "", "fr-FR",
     "a title alone is too short to tell: the declaration stands"),
    (None, "Tour de France: Pogačar wins the Alpe d'Huez stage", "", None, "too short, nothing declared"),
    ("de", "", BILINGUAL, "de", "unsure: the declaration stands"),
    (None, "", BILINGUAL, None, "unsure and nothing declared: unknown, not a guess"),
    (None, "", MIXED, None, "no wrong guess (Luxembourgish) when unsure"),
    ("ja", "", "2024-03-17 12:00 | 10,000 | 25.5 % | https://example.com/a/b/c?d=1 " * 5, "ja",
     "no letters: nothing to tell"),
    ("  ", "", GERMAN, "de", "a blank declaration is none"),
    (None, "", "", None, "no text"),
    ("zh-HK", "", CANTONESE, "zh-HK", "Cantonese (yue) is Chinese as stories declare it: it agrees"),
    (None, "", CANTONESE, "zh", "a variety the detector tells apart is given as its macrolanguage"),
]


@pytest.mark.parametrize(("declared", "title", "text", "decided", "why"), CASES, ids=[c[4] for c in CASES])
def test_story_language(declared: str | None, title: str, text: str, decided: str | None, why: str) -> None:
    assert story_language(declared, title, text) == decided, why


def test_short_texts_are_not_detected() -> None:
    assert detect_language("Sanktionen gegen Russland beschlossen") is None
    assert detect_language("日本の防衛費" * (MIN_LETTERS // 6)) is not None


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_detection_never_raises(text: str) -> None:
    found = detect_language(text * 3)
    assert found is None or (found.code.isalpha() and found.code.islower() and 0.0 <= found.probability <= 1.0)


def _pages(set_: str) -> list[tuple[dict[str, str], bytes]]:
    index = need_corpus("articles", "index.jsonl")
    out = []
    for line in index.open(encoding="utf-8"):
        row = json.loads(line)
        if row["set"] == set_:
            with gzip.open(index.parent / row["file"]) as page:
                out.append((row, page.read()))
    return out


@pytest.mark.corpus
def test_the_multilingual_corpus_pages_get_their_language() -> None:
    """The 14 newspaper4k pages (Arabic, Chinese, Japanese, Thai, Spanish, Latvian, English):
    three declare no language (two Chinese, one English), which left them without one."""
    decided, declared = {}, {}
    for row, html in _pages("newspaper4k"):
        article = extract_article(html, row["url"])
        assert article is not None
        name = row["id"].split(":")[1]
        declared[name] = article.lang
        decided[name] = story_language(article.lang, article.title or "", article.text)
    truth = {name: ("lv" if name == "latvian_article" else "en" if name == "article_with_divs"
                    else next(r["language"] for r, _ in _pages("newspaper4k") if r["id"].endswith(name)))
             for name in decided}
    assert len(decided) == 14
    assert [n for n in decided if declared[n] != truth[n]] == [
        "article_with_divs", "chinese_article_001", "chinese_article_002"]
    assert decided == truth


@pytest.mark.corpus
@pytest.mark.parametrize(("prefix", "declared", "language"), [
    ("57b4dafd18cf", "en", "de"),  # blog.comwrap.com: German posts on an English template
    ("ba07d1e64775", "en", "de"),
    ("f81c6c05d9cb", "de", "en"),  # businessinsider: English stories declared German
    ("fde930b01859", "de", "en"),
])
def test_corpus_pages_declaring_the_wrong_language(prefix: str, declared: str, language: str) -> None:
    ((row, html),) = [(r, h) for r, h in _pages("scrapinghub-aeb") if r["id"].startswith(prefix)]
    article = extract_article(html, row["url"])
    assert article is not None and article.lang == declared
    assert story_language(article.lang, article.title or "", article.text) == language


@pytest.mark.corpus
def test_a_chinese_feed_keeps_its_declared_language() -> None:
    """kc0011's items declare zh-cn; py3langid's best guess for two of them is Wu Chinese
    (unsure, and Chinese as stories declare it): every item keeps zh-cn."""
    feed = parse_feed(need_corpus("feeds", "rsparser", "kc0011.rss").read_bytes(), url="https://kc0011.example/")
    assert len(feed.entries) == 20
    assert {story_language(e.lang, e.title, e.summary) for e in feed.entries} == {"zh-cn"}


# the classifier computed here against py3langid's own: the same language and the same
# probability, to the last bit, so a story's language is what the library would decide
def _library_and_ours() -> tuple[Any, Any]:
    from monitor.extract.language import _identifier, _library_identifier

    return _library_identifier(), _identifier()


@pytest.mark.corpus
def test_the_classifier_gives_the_librarys_answers_on_the_corpus_articles() -> None:
    library, ours = _library_and_ours()
    texts = []
    for line in need_corpus("articles", "index.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        text = f"{row['title'] or ''}\n{row['ground_truth'] or ''}"
        texts += [text[:MAX_CHARS], text[:150], text[:MAX_CHARS].upper()]
    assert len(texts) > 500
    assert [ours.classify(t) for t in texts] == [library.classify(t) for t in texts]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(min_size=0, max_size=400))
def test_the_classifier_gives_the_librarys_answers_on_any_text(text: str) -> None:
    library, ours = _library_and_ours()
    assert ours.classify(text) == library.classify(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from("ab1_ .-\n日本\u0301٣ß"), max_size=150))
def test_enough_letters_is_counting_the_letters(text: str) -> None:
    from monitor.extract.language import _ENOUGH_LETTERS

    assert (_ENOUGH_LETTERS.match(text) is not None) == (len(re.findall(r"[^\W\d_]", text)) >= MIN_LETTERS)


def test_the_model_widened_by_its_bits_is_the_model_cast() -> None:
    import numpy as np

    _, ours = _library_and_ours()
    assert ours._negative_normal  # else the bit shift is not used and this tests nothing
    rows = ours._ptc
    for start in range(0, len(rows), 10_000):
        part = rows[start:start + 10_000]
        assert np.array_equal(ours._widened(part), part.astype(np.float32))


def test_the_log_count_table_is_the_ufunc_on_any_counts() -> None:
    """The looked-up log counts are, bit for bit, ``np.log1p`` on the counts as the library
    calls it (a single float array of a story's counts, of any length)."""
    import numpy as np

    _, ours = _library_and_ours()
    rng = np.random.default_rng(5)
    for size in [1, 2, 3, 7, 8, 15, 16, 17, 64, 399, 1000, ours.LOG_COUNTS]:
        counts = rng.integers(0, ours.LOG_COUNTS, size)
        counts[:2] = [ours.LOG_COUNTS - 1, 1][:size]
        looked_up = ours._log_counts[counts]
        assert looked_up.tobytes() == np.log1p(counts.astype(np.float32)).tobytes()


def test_the_classifier_gives_the_librarys_answers_on_long_texts() -> None:
    """Samples of ``LOG_COUNTS`` bytes and more, whose log counts are not looked up."""
    library, ours = _library_and_ours()
    texts = ["日本語の文章です。" * 200, GERMAN * 40, (FRENCH + CANTONESE) * 11, "a" * ours.LOG_COUNTS,
             "a" * (ours.LOG_COUNTS - 1)]
    assert min(len(t.encode()) for t in texts) >= ours.LOG_COUNTS - 1
    assert [ours.classify(t) for t in texts] == [library.classify(t) for t in texts]


# the automaton run over all positions at once (_Automaton) against the library's walk

#: code point ranges random texts are drawn from: one- to four-byte UTF-8, combining marks,
#: scripts without spaces, and lone surrogates (the library encodes them too)
SCRIPTS = [(0x20, 0x7E), (0xC0, 0x17F), (0x300, 0x36F), (0x391, 0x3C9), (0x400, 0x44F),
           (0x5D0, 0x5EA), (0x600, 0x64A), (0x900, 0x97F), (0xE01, 0xE5B), (0x3041, 0x30FF),
           (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xD800, 0xDFFF), (0x1F300, 0x1F64F)]


def _random_texts(seed: int, count: int) -> list[str]:
    """Texts of one to three scripts, with spaces, of every length from empty to a page."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        ranges = rng.sample(SCRIPTS, rng.randint(1, 3))
        size = rng.choice([0, 1, 2, 3, 5, 8, 20, 60, 200, MAX_CHARS])
        chars = [chr(rng.randint(*rng.choice(ranges))) if rng.random() > 0.15 else " " for _ in range(size)]
        texts.append("".join(chars))
    return texts


def test_the_classifier_gives_the_librarys_answers_on_random_scripts() -> None:
    library, ours = _library_and_ours()
    assert ours._automaton is not None  # else this compares the walk with itself
    texts = _random_texts(14, 300)
    texts += [GERMAN[:n] for n in range(8)] + [CANTONESE[:n] for n in range(8)] + [GERMAN.upper(), "\U0001F600" * 9]
    assert [ours.classify(t) for t in texts] == [library.classify(t) for t in texts]


def test_the_automaton_finds_the_walks_ngrams_in_any_bytes() -> None:
    from monitor.extract.language import _walked

    _, ours = _library_and_ours()
    rng = random.Random(16)
    samples = [rng.randbytes(rng.choice([0, 1, 5, 6, 7, 100, 3000])) for _ in range(60)]
    samples += [t.encode("utf8", errors="surrogatepass") for t in _random_texts(15, 60)]
    bases = [r << 8 for r in ours._row_of]
    for data in samples:
        ngrams, counts = ours._automaton.visits(data)
        walked, walked_counts = _walked(ours._next, bases, ours._out, data)
        assert ngrams.tolist() == walked.tolist() and counts.tolist() == walked_counts.tolist(), data[:40]


def test_without_the_automaton_the_classifier_walks_to_the_librarys_answers() -> None:
    from monitor.extract.language import _Classifier

    library, _ = _library_and_ours()
    walking = _Classifier(library)
    walking._automaton = None  # as for a model _Automaton.of does not take
    texts = [*_random_texts(17, 40), GERMAN, CANTONESE, MIXED]
    assert [walking.classify(t) for t in texts] == [library.classify(t) for t in texts]


def _small_automaton(moves: dict[int, dict[str, int]]) -> tuple[array, array]:
    """``tk_nextmove`` and ``tk_row`` of an automaton over bytes: each state's moves on some
    letters, every other byte back to the start."""
    nextmove, rows = array("I"), array("H")
    for state in range(len(moves)):
        row = [0] * 256
        for letter, target in moves[state].items():
            row[ord(letter)] = target
        nextmove.extend(row)
        rows.append(state)
    return nextmove, rows


#: the Aho-Corasick automaton of the n-grams "ab" (0) and "b" (1): states start, a, ab, b
AB = {0: {"a": 1, "b": 3}, 1: {"a": 1, "b": 2}, 2: {"a": 1, "b": 3}, 3: {"a": 1, "b": 3}}
AB_OUTPUT = [-1, -1, 0, 1]
#: the Aho-Corasick automaton of the n-grams "abc" (0) and "bc" (1), three bytes deep:
#: states start, a, ab, abc, b, bc (abc's failure state bc, whose is the start)
ABC = {0: {"a": 1, "b": 4}, 1: {"a": 1, "b": 2}, 2: {"a": 1, "b": 4, "c": 3}, 3: {"a": 1, "b": 4},
       4: {"a": 1, "b": 4, "c": 5}, 5: {"a": 1, "b": 4}}
ABC_OUTPUT = [-1, -1, -1, 0, -1, 1]
#: the moves of a start where every byte is an n-gram of its own (byte b to state b + 1)
EVERY_BYTE = {chr(b): b + 1 for b in range(256)}


def test_the_automaton_is_taken_when_it_is_aho_corasicks() -> None:
    from monitor.extract.language import _Automaton, _walked

    nextmove, rows = _small_automaton(AB)
    automaton = _Automaton.of(nextmove, rows, AB_OUTPUT)
    assert automaton is not None and automaton.depth == 2
    rng = random.Random(3)
    for data in [b"", b"b", b"ab", b"aab"] + [bytes(rng.choice(b"abc") for _ in range(30)) for _ in range(30)]:
        ngrams, counts = automaton.visits(data)
        walked, walked_counts = _walked(nextmove, [r << 8 for r in rows], AB_OUTPUT, data)
        assert (ngrams.tolist(), counts.tolist()) == (walked.tolist(), walked_counts.tolist()), data


def test_an_automaton_three_bytes_deep_finds_the_walks_ngrams() -> None:
    from monitor.extract.language import _Automaton, _walked

    nextmove, rows = _small_automaton(ABC)
    automaton = _Automaton.of(nextmove, rows, ABC_OUTPUT)
    assert automaton is not None and automaton.depth == 3
    rng = random.Random(4)
    for data in [b"", b"c", b"bc", b"abc", b"abcbc"] + [bytes(rng.choice(b"abcd") for _ in range(40)) for _ in range(40)]:
        ngrams, counts = automaton.visits(data)
        walked, walked_counts = _walked(nextmove, [r << 8 for r in rows], ABC_OUTPUT, data)
        assert (ngrams.tolist(), counts.tolist()) == (walked.tolist(), walked_counts.tolist()), data


@pytest.mark.parametrize(("moves", "why"), [
    ({**AB, 2: {"a": 1, "b": 0}}, "ab then b goes back to the start, not to b (its failure state's move)"),
    ({**AB, 3: {"a": 1, "b": 2}}, "b then b goes to ab, a state that b is no suffix of"),
    ({0: {"a": 1, "b": 1}, 1: {}}, "two bytes lead to one child of the start"),
    ({0: {"a": 1}, 1: {"a": 0}}, "a parity of a's: the state depends on more than the last bytes"),
    ({0: {"a": 1}, 1: {"a": 1}}, "one byte deep: no pair of bytes to look up"),
    ({0: EVERY_BYTE, **{1 + b: EVERY_BYTE for b in range(256) if b != 97}, 98: {**EVERY_BYTE, "b": 257},
      257: EVERY_BYTE}, "every byte starts an n-gram: nothing to stand for the bytes before a text"),
])
def test_an_automaton_not_built_as_aho_corasick_is_walked(moves: dict[int, dict[str, int]], why: str) -> None:
    from monitor.extract.language import _Automaton

    nextmove, rows = _small_automaton(moves)
    assert _Automaton.of(nextmove, rows, list(range(-1, len(moves) - 1))) is None, why
