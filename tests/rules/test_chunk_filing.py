"""What ``Evaluation._none_near`` relies on, held directly: every lemma key of every word of a
story's field (a part or a joined form of one of its chunks) is among that field's features,
and its chunk is filed under it in the word cache's reverse index. The probe rules a word
out of a NEAR by looking it up among the chunks around the other side's occurrences; a key
missing from either place would let it answer "none near" for a word that is there.

Checked on seeded random stories in several languages, made of words with capitals,
punctuation, hyphens, apostrophes, digit groups, invisible characters and scripts written
without spaces, analysed cold (empty caches) and again warm."""

from __future__ import annotations

import random

import pytest

from monitor.models import Story
from monitor.rules import text as rules_text
from monitor.rules.document import StoryDoc
from monitor.rules.text import ALIASES, KEYS, PARTS

#: words of each language, with the shapes that take the slow paths of the analysis
_WORDS = {
    "en": ["report", "Reports", "reported,", "(markets", "semi-conductor", "co-operation", "don't", "Tesla's",
           "U.S.", "e-mail", "12,500", "3.5", "well-known", "mice", "geese.", "analysed", "analyzed", "“Moreover,",
           '"pulled', "—", "...", "2024", "state-of-the-art", "x\u200bray", "naïve", "rock'n'roll"],
    "de": ["Berichte", "berichtete", "Straße", "Strasse", "Zusammenarbeit,", "EU-Kommission", "Häuser",
           "(Bundesregierung", "Mäuse", "2,5", "gibt's", "—"],
    "fr": ["l'Europe", "d'accord", "aujourd'hui", "États-Unis", "coopération", "rapports,", "élections.",
           "porte-parole", "«", "»"],
    "ja": ["東京都", "防衛", "協力", "レアアース", "日本の", "、", "。", "2024年"],
}


def _story(rng: random.Random, lang: str) -> Story:
    words = _WORDS[lang] + _WORDS["en"][:6]

    def some(count: int) -> str:
        return " ".join(rng.choice(words) for _ in range(count))

    return Story(source="s", url="", title=some(rng.randint(0, 8)), text=some(rng.randint(0, 80)),
                 summary=some(rng.randint(0, 10)), lang=lang)


def _unfiled(doc: StoryDoc) -> list[tuple[int, str, str]]:
    """(field, chunk, key) of every key of a word of ``doc`` that its field's features lack
    or its chunk is not filed under."""
    missing = []
    for f, field in enumerate(doc.fields):
        feats, filed = doc.field_feats[f], field.cache.rev
        for chunk in field.chunks:
            info = field.cache.chunks[chunk]
            for word in (*info[PARTS], *info[ALIASES]):
                missing.extend((f, chunk, key) for key in word[KEYS]
                               if key not in feats or chunk not in filed.get(key, ()))
    return missing


@pytest.mark.parametrize("lang", sorted(_WORDS))
def test_every_key_of_every_word_is_a_feature_and_files_its_chunk(lang: str) -> None:
    rng = random.Random(f"filing-{lang}")
    stories = [_story(rng, lang) for _ in range(40)]
    rules_text._CACHES.clear()
    words = 0
    for _ in range(2):  # cold, then every chunk from the caches
        for story in stories:
            doc = StoryDoc(story)
            assert _unfiled(doc) == [], story
            words += sum(len(doc.fields[f].chunks) for f in range(len(doc.fields)))
    assert words > 1_000
