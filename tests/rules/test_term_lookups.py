"""The plan table keeps, by language, the lemma keys of each term of lone words
(``Evaluation._present_of``): whether a term is there is then what looking its words up
anew in every story says, in every language."""

from __future__ import annotations

import random

from monitor.models import Story
from monitor.rules import Matcher, RuleSpec
from monitor.rules.ast import walk_terms
from monitor.rules.document import StoryDoc
from monitor.rules.encoding import DEFAULT_FIELDS, FIELD_OF
from monitor.rules.evaluate import _FIELD_BITS, Evaluation
from monitor.rules.text import word_keys

_WORDS = ["runs", "running", "ran", "Häuser", "haus", "election", "elections", "markets", "market", "Mercado",
          "mercados", "title", "x", "courts", "Court", "said"]
_QUERIES = ["run", "runs OR ran", "title:election", "haus NEAR/2 markets", "(court OR market) NEAR/3 (said OR x)",
            "mercado -elections", '"market said" OR haus', "text:running", "election AND NOT title:court"]


def _reference(doc: StoryDoc, term: object) -> bool:
    fields = DEFAULT_FIELDS if term.field is None else (FIELD_OF[term.field],)  # type: ignore[attr-defined]
    return any(k in doc.field_feats[f] for alt in term.alts for f in fields  # type: ignore[attr-defined]
               for k in word_keys(alt[0].text, doc.lang))


def test_kept_lookups_tell_what_looking_up_anew_tells() -> None:
    matcher = Matcher.compile([RuleSpec(f"r{i}", q) for i, q in enumerate(_QUERIES)])
    rng = random.Random(5)
    for _ in range(200):
        story = Story(source="s", url="", title=" ".join(rng.choices(_WORDS, k=3)),
                      text=" ".join(rng.choices(_WORDS, k=rng.randrange(1, 30))), lang=rng.choice(["en", "de", "es"]))
        doc = matcher._doc(story)
        kept = Evaluation(doc, matcher._plans.table)
        alone = Evaluation(StoryDoc(story))
        for r, rule in enumerate(matcher._rules):
            plan = matcher._plans[r] or matcher._plans.made(r, rule.query.root)
            assert kept.holds(plan) == alone.truth(rule.query.root), (story, rule.query.text)
            for term, _ in walk_terms(rule.query.root):
                if all(len(alt) == 1 and alt[0].mode.name == "LEMMA" for alt in term.alts):
                    assert kept._term_truth(term) == _reference(doc, term), (story, term)
    assert set(matcher._plans.table.lookups) > {"en"}
    # each kept lookup: the term's fields and the keys of its words, each once, in order
    terms = {~(id(t.alts) << 3 | _FIELD_BITS[t.field]): t for rule in matcher._rules
             for t, _ in walk_terms(rule.query.root)}
    checked = 0
    for lang, lookups in matcher._plans.table.lookups.items():
        for key, lookup in lookups.items():
            term = terms[key]
            if lookup is None:
                assert not all(len(alt) == 1 and alt[0].mode.name == "LEMMA" for alt in term.alts), term
                continue
            keys = tuple(dict.fromkeys(k for alt in term.alts for k in word_keys(alt[0].text, lang)))
            assert lookup == (DEFAULT_FIELDS if term.field is None else (FIELD_OF[term.field],), keys), term
            checked += 1
    assert checked > 10


def test_occurrences_found_by_kept_lookups_are_those_of_the_words_keys() -> None:
    """``term_occ`` of a term of one word with the plan table's lookup (its keys each once)
    finds what it finds from the word's keys, without a table, and what the general path
    (``_occ_in_fields``, each unit's spans) finds."""
    queries = [*_QUERIES, "markets", "title:runs", "text:haus", "Court said", "elections OR x"]
    matcher = Matcher.compile([RuleSpec(f"r{i}", q) for i, q in enumerate(queries)])
    rng = random.Random(77)
    looked_up = 0
    for _ in range(200):
        story = Story(source="s", url="", title=" ".join(rng.choices(_WORDS, k=3)),
                      text=" ".join(rng.choices(_WORDS, k=rng.randrange(1, 30))), lang=rng.choice(["en", "de", "es"]))
        doc = matcher._doc(story)
        deciding = Evaluation(doc, matcher._plans.table)
        for r, rule in enumerate(matcher._rules):
            deciding.holds(matcher._plans[r] or matcher._plans.made(r, rule.query.root))
        kept = Evaluation(doc, matcher._plans.table)
        alone = Evaluation(doc)
        for rule in matcher._rules:
            for term, _ in walk_terms(rule.query.root):
                key = ~(id(term.alts) << 3 | _FIELD_BITS[term.field])
                looked_up += len(term.alts) == 1 and kept._lookups.get(key) is not None
                found = kept.term_occ(term)
                assert found == alone.term_occ(term), (story, term)
                fields = DEFAULT_FIELDS if term.field is None else (FIELD_OF[term.field],)
                assert found == Evaluation(doc)._occ_in_fields(fields, term.alts), (story, term)
    assert looked_up > 500
