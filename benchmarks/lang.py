"""Language detection: which library, and what deciding a story's language from its text gives.

Usage::

    /work/venv/bin/python benchmarks/lang.py               # every candidate, then the policy
    /work/venv/bin/python benchmarks/lang.py --only py3langid

lingua is not a dependency: ``pip install lingua-language-detector`` to compare it.

Data, all from ../shared/corpus:

* **pages**: the 195 article pages (181 scrapinghub benchmark pages, mostly English, and the
  14 multilingual newspaper4k pages), their title and text as ``extract_article`` gives them.
  The label is the newspaper4k index's ``language``, else the page's declared language;
  ``HAND_LABELS`` overrides the pages that declare none and the four whose declaration is
  wrong (read by hand: two German blog posts declared ``en``, two English Business Insider
  stories declared ``de``).
* **items**: the items of the corpus feeds in ``FEED_LABELS`` (title and summary, as the
  feed parser gives them; items with fewer than 20 characters are left out), labelled by
  feed, read by hand: an item in another language than its feed counts as an error for
  every candidate alike.
* **titles**: the same items' titles alone: what a titles-only feed gives.

Each candidate sees at most ``language.MAX_CHARS`` characters, as the daemon's detector does.
Accuracy is the share of texts whose primary language code is the label (a candidate that
abstains is wrong); speed is the median of 3 runs in µs of CPU time per text (one core,
after a warm-up: the accuracy pass); "load" is a fresh interpreter's import and model load with the first detection,
and "RSS" that interpreter's resident memory afterwards, both measured in a subprocess.
The machine is shared: expect ±20 % noise on times.

The second table is the daemon's decision (``monitor.extract.language.story_language``:
the declared language, or the detected one when the text is long enough and detection is
sure) against the declared language alone; a story left without a language counts as
wrong. Titles only: the declared language is kept (too short to tell).
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from monitor.extract import language
from monitor.extract.article import extract_article
from monitor.sources.feedparse import parse_feed

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"

#: pages without a declared language, or with a wrong one: the language a reader sees
HAND_LABELS = {
    # declared en, written in German
    "57b4dafd18cfd0531b69f81e87158648227c673ef159f8d8c87d34e34bdb21f2": "de",
    "ba07d1e64775f4": "de",
    # declared de, written in English
    "f81c6c05d9cbc9": "en",
    "fde930b01859de": "en",
    # no declaration, Brazilian Portuguese
    "11ea381ad92b54": "pt",
    "cc03ddb5ef7d5f": "pt",
    # newspaper4k's Latvian page has no language in the index
    "newspaper4k:latvian_article": "lv",
}
#: every other page without a declared language is English (read by hand)
UNDECLARED = "en"

FEED_LABELS = {
    "feed-rs/atom/atom_mediarss_reddit_1.xml": "en",
    "feedparser/large_atom_feed_that_needs_css_sanitisation.xml": "ru",
    "miniflux/encoding_ISO-8859-1.xml": "de",
    "miniflux/encoding_WINDOWS-1251.xml": "ru",
    "miniflux/large_rss.xml": "en",
    "miniflux/no_encoding_ISO-8859-1.xml": "fr",
    "miniflux/rdf_UTF8.xml": "de",
    "miniflux/small_atom.xml": "en",
    "miniflux/urdu_UTF8.xml": "ur",
    "rsparser/3960.json": "de",
    "rsparser/489.rss": "en",
    "rsparser/4fsodonline.atom": "en",
    "rsparser/DaringFireball.rss": "en",
    "rsparser/EMarley.rss": "en",
    "rsparser/KatieFloyd.rss": "en",
    "rsparser/OneFootTsunami.atom": "en",
    "rsparser/aktuality.rss": "sk",
    "rsparser/allthis.atom": "en",
    "rsparser/bio.rdf": "en",
    "rsparser/cloudblog.rss": "en",
    "rsparser/donthitsave.xml": "en",
    "rsparser/expertopinionent.atom": "en",
    "rsparser/inessential.json": "en",
    "rsparser/kc0011.rss": "zh",
    "rsparser/livemint.xml": "en",
    "rsparser/macworld.rss": "en",
    "rsparser/manton.rss": "en",
    "rsparser/monkeydom.rss": "en",
    "rsparser/natasha.xml": "en",
    "rsparser/phpxml.rss": "nl",
    "rsparser/pxlnv.json": "en",
    "rsparser/rubenerd.rss": "en",
    "rsparser/scriptingNews.rss": "en",
    "rsparser/theomnishow.rss": "en",
}


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    label: str
    declared: str | None
    title: str
    text: str


def _label(row: dict[str, object], declared: str | None) -> str:
    for key in (str(row["id"]), str(row["id"])[:14]):
        if key in HAND_LABELS:
            return HAND_LABELS[key]
    return str(row.get("language") or declared or UNDECLARED)


def pages() -> list[Sample]:
    out = []
    with (CORPUS / "articles" / "index.jsonl").open(encoding="utf-8") as index:
        for line in index:
            row = json.loads(line)
            with gzip.open(CORPUS / "articles" / row["file"]) as page:
                article = extract_article(page.read(), row.get("url"))
            if article is None:
                continue
            out.append(Sample(row["id"], _label(row, article.lang), article.lang, article.title or "", article.text))
    return out


def items() -> list[Sample]:
    out = []
    for name, label in FEED_LABELS.items():
        feed = parse_feed((CORPUS / "feeds" / name).read_bytes(), url="https://feed.example/")
        for i, entry in enumerate(feed.entries):
            if len(entry.title) + len(entry.summary) >= 20:
                out.append(Sample(f"{name}#{i}", label, entry.lang, entry.title, entry.summary))
    return out


Detect = Callable[[str], str | None]


def py3langid_detector() -> Detect:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return lambda text: str(identifier.classify(text)[0])


def lingua_detector(low_accuracy: bool = False) -> Detect:
    from lingua import LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_all_languages()
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    detector = builder.build()

    def detect(text: str) -> str | None:
        found = detector.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found is not None else None

    return detect


CANDIDATES: dict[str, Callable[[], Detect]] = {
    "py3langid": py3langid_detector,
    "lingua": lingua_detector,
    "lingua low-accuracy": lambda: lingua_detector(low_accuracy=True),
}


def _load_cost(name: str) -> tuple[float, int]:
    """Seconds to import and load ``name`` and detect once, and the RSS after, in a fresh interpreter."""
    code = (
        "import sys, time; sys.path.insert(0, '.'); t = time.perf_counter();"
        "from benchmarks.lang import CANDIDATES; d = CANDIDATES[sys.argv[1]](); d(sys.argv[2]);"
        "rss = int(open('/proc/self/statm').read().split()[1]) * 4096;"
        "print(time.perf_counter() - t, rss)"
    )
    base = (
        "import sys, time; sys.path.insert(0, '.'); t = time.perf_counter(); from benchmarks.lang import CANDIDATES;"
        "rss = int(open('/proc/self/statm').read().split()[1]) * 4096; print(time.perf_counter() - t, rss)"
    )
    root = Path(__file__).resolve().parents[1]
    sample = "Die Bundesregierung hat am Dienstag einen Notfallplan für die Gasversorgung beschlossen."
    with_it = subprocess.run([sys.executable, "-c", code, name, sample], capture_output=True, text=True, check=True,
                             cwd=root)
    without = subprocess.run([sys.executable, "-c", base], capture_output=True, text=True, check=True, cwd=root)
    (t1, r1), (t0, r0) = (line.split() for line in (with_it.stdout, without.stdout))
    return float(t1) - float(t0), (int(r1) - int(r0)) // 2**20


def _texts(samples: list[Sample], title_only: bool = False) -> list[str]:
    return [s.title if title_only else f"{s.title}\n{s.text}"[: language.MAX_CHARS] for s in samples]


def _score(detect: Detect, texts: list[str], samples: list[Sample]) -> tuple[float, float]:
    found = [detect(t) for t in texts]
    right = sum(f == s.label for f, s in zip(found, samples, strict=True))
    runs = []
    for _ in range(3):
        t0 = time.process_time()
        for t in texts:
            detect(t)
        runs.append((time.process_time() - t0) / len(texts) * 1e6)
    return right / len(texts), statistics.median(runs)


def compare(names: list[str], sets: dict[str, tuple[list[Sample], list[str]]]) -> None:
    print("| candidate | " + " | ".join(f"{k} ({len(v[0])}) acc | µs/text" for k, v in sets.items())
          + " | load | RSS |")
    print("|---|" + "---|---|" * len(sets) + "---|---|")
    for name in names:
        try:
            detect = CANDIDATES[name]()
        except ImportError as exc:  # lingua is no dependency of newsmonitor: pip install lingua-language-detector
            print(f"| {name} | not installed: {exc} |")
            continue
        cells = []
        for samples, texts in sets.values():
            accuracy, micros = _score(detect, texts, samples)
            cells.append(f"{accuracy:6.1%} | {micros:7.0f}")
        load, rss = _load_cost(name)
        print(f"| {name} | " + " | ".join(cells) + f" | {load:4.1f} s | {rss} MiB |")
        sys.stdout.flush()


def policy(samples: list[Sample], label: str, title_only: bool = False) -> None:
    """Right languages with the declared language alone, and with ``story_language``: how
    many it changed, left without a language, and got wrong (with examples)."""
    declared = decided = changed = unknown = 0
    wrong: list[str] = []
    t0 = time.process_time()
    got = [language.story_language(s.declared, s.title, "" if title_only else s.text) for s in samples]
    micros = (time.process_time() - t0) / len(samples) * 1e6
    for s, tag in zip(samples, got, strict=True):
        primary = _primary(s.declared)
        decided_primary = _primary(tag)
        declared += primary == s.label
        decided += decided_primary == s.label
        changed += decided_primary != primary
        if decided_primary is None:
            unknown += 1
        elif decided_primary != s.label:
            wrong.append(f"{s.name[:44]} declared {primary}, decided {decided_primary}, is {s.label}")
    print(f"| {label} | {len(samples)} | {declared} ({declared / len(samples):.1%}) "
          f"| {decided} ({decided / len(samples):.1%}) | {changed} | {unknown} | {len(wrong)} | {micros:.0f} |")
    for line in wrong[:5]:
        print(f"|  | wrong: {line} | | | | | | |")


def _primary(tag: str | None) -> str | None:
    return tag.replace("_", "-").split("-")[0].lower() if tag else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(CANDIDATES), help="one candidate (repeatable)")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"corpus not found at {CORPUS}")
    page_samples, item_samples = pages(), items()
    multilingual = [s for s in page_samples if s.name.startswith("newspaper4k:")]
    sets = {
        "pages": (page_samples, _texts(page_samples)),
        "items": (item_samples, _texts(item_samples)),
        "titles": (item_samples, _texts(item_samples, title_only=True)),
    }
    print(f"Python {sys.version.split()[0]}; at most {language.MAX_CHARS} characters a text\n")
    compare(args.only or list(CANDIDATES), sets)
    language.detect_language("Die Bundesregierung hat am Dienstag einen Notfallplan für die Gasversorgung beschlossen")
    print("\n| story_language | texts | declared alone right | decided right | changed | unknown | wrong "
          "| µs/story |")
    print("|---|---|---|---|---|---|---|---|")
    policy(multilingual, "14 multilingual pages")
    policy(page_samples, "all pages")
    policy(item_samples, "feed items")
    policy(item_samples, "feed titles only", title_only=True)


if __name__ == "__main__":
    main()
