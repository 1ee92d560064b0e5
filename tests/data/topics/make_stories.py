"""Rebuild stories.jsonl from the corpus: ``python tests/data/topics/make_stories.py``.

Run from the project root, with ../shared/corpus beside it. The selection is fixed below
(article pages by language, feed items by file and title), so the output is the same on every
run; the labels in needs.yaml refer to the ids it writes.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import feedparser
import py3langid
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT.parent / "shared" / "corpus"
OUT = Path(__file__).resolve().parent / "stories.jsonl"
CUT = 1500
#: sentence ends: a full stop, question or exclamation mark (a closing quote may follow) and a
#: space, or a Chinese or Japanese full stop, question or exclamation mark
SENTENCE_END = re.compile(r"[.?!][\"'”’)]?(?=\s)|[。！？]」?")

#: article pages left out: not news (a shop page, a personal blog, a results table) or a title the
#: page does not give
SKIPPED_ARTICLES = {
    "0e014df693", "4219d09690",  # a hiking kit and a jam recipe
    "5211188428", "8cad00dc22",  # a theatre's own review pages
    "95301fb788", "a860fb5eda",  # a game studio's blog
    "ac3c035520", "ad9e9e596f",  # a charity's blog
    "5f03fc173e", "ec3878db7e", "e593d7fe88",  # diet and fitness advice
    "c582d3b772", "ec7fc408c5",  # online-business coaching
    "e1cd54e557", "3ce1c8fdf6",  # riding tips, a table of swim results
    "30b771a40a", "612cd29826",  # book reviews in a motorbike shop
    "33fe2471fd", "94fbcc2677",  # design-exhibition pages
    "dfd43bc0d4", "57e2e98887",  # an ad platform's own press pages
    "article_with_divs",  # the same page as a-34a7328535
}

#: news pages in other languages, kept so that the scores show what either method does with
#: them (the keyword rules are written in English; the embedding model is English)
OTHER_LANGUAGES = {
    "arabic_article",  # Syrian rebels take missile depots near Damascus
    "japanese_article",  # the US-North Korea summit and China
    "japanese_article2",  # a suicide attack in Nigeria
    "spanish_article",  # Spain's anti-corruption prosecutors and the Infanta's case
    "chinese_article_001",  # foreign experts on US-China cooperation
    "latvian_article",  # a landslide in Norway
    "20b2b64916",  # Black Friday deals for nostalgics (Italian)
}

#: feed items, by file and title prefix: the news items of the news and tech-news feeds whose
#: summary says enough to judge
FEED_ITEMS: dict[str, list[str]] = {
    "rsparser/livemint.xml": [
        "PM Modi-Xi Jinping informal summit", "US takes India off watchlist", "Singapore dethrones US",
        "FDI", "Apple and Nike brace", "Revised tax treaties", "Amnesty loses five bosses",
        "Now that elections are over, fuel prices", "NIA to join Sri Lanka",
        "China rejects US envoy", "GST Council to examine", "Inside the printing press",
        "PM Modi's landslide victory",
    ],
    "rsparser/macworld.rss": [
        "macOS High Sierra ‘root’ security issue", "Face ID on the iPhone X: Security firm", "iPad 2018 rumors",
        "The iMac Pro might be the first ARM Mac", "HomePod is looking more", "Not cool for Yule",
        "A big complaint: The iPhone X’s major flaw", "Google Docs, Sheets, and Slides updates",
    ],
    "rsparser/DaringFireball.rss": [
        "Donald Trump Vows", "Most Android Phones Are Not Encrypted", "Gogo Wi-Fi and Email Security",
        "Apple’s Motion to Vacate FBI Order", "Microsoft Will File Amicus Brief", "Apple to Tighten iCloud Backup",
        "The Dangerous All Writs Act", "Sharp Accepts Foxconn", "Bill Gates Breaks Ranks",
        "WSJ: ‘Justice Department Seeks", "FBI Director James Comey", "New York Times Publishes Report on iPhone",
    ],
    "rsparser/DaringFireball.atom": [
        "Uber Founder Travis Kalanick Resigns", "Inside Travis Kalanick’s Resignation", "Scott Galloway on Amazon",
        "Verizon to Block Email Addresses", "Google Will Stop Reading Your Emails", "Gizmodo Investigation Exposes",
        "Nintendo: Switch Shortages", "Chris Lattner Out at Tesla", "Virgin Mobile Partners With Apple",
        "Amazon’s New Echo Show", "The Outline: ‘Inside Apple’s Global War on Leakers’",
    ],
}


def cut(text: str, limit: int = CUT) -> str:
    """The text up to the last sentence end before ``limit`` characters (all of it when shorter)."""
    text = re.sub(r"[ \t]+", " ", text).strip()
    if len(text) <= limit:
        return text
    ends = [m.end() for m in SENTENCE_END.finditer(text, 0, limit)]
    good = [e for e in ends if e >= limit // 2]
    return text[: good[-1]] if good else text[:limit].rsplit(" ", 1)[0] + " …"


def full_title(title: str, page: Path) -> str:
    """The page's headline when the index's title is empty or cut short (its og:title stops at a
    quotation mark on some sites): the ``<h1>``, or the ``<title>`` without the site's name."""
    with gzip.open(page) as f:
        soup = BeautifulSoup(f.read(), "html.parser")
    h1 = soup.find("h1")
    head = soup.find("title")
    candidates = [" ".join(h1.get_text(" ").split()) if h1 else "",
                  re.split(r" [-|] ", " ".join(head.get_text(" ").split()))[0] if head else ""]
    for c in candidates:
        if len(c) > len(title) and c.startswith(title):
            return c
    for c in candidates:
        if title and title in c and len(c) > len(title):
            return c
    return title


def language(title: str, text: str) -> str:
    lang, _ = py3langid.classify(f"{title}\n{text[:1000]}")
    return str(lang)


def articles() -> list[dict[str, str]]:
    rows = [json.loads(line) for line in (CORPUS / "articles" / "index.jsonl").open(encoding="utf-8")]
    out = []
    for r in rows:
        title, body = " ".join((r["title"] or "").split()), r["ground_truth"] or ""
        short = r["id"].split(":")[-1] if r["set"] == "newspaper4k" else r["id"][:10]
        if short in SKIPPED_ARTICLES or not body:
            continue
        title = full_title(title, CORPUS / "articles" / r["file"])
        if not title:
            continue
        lang = r.get("language") or language(title, body)
        if lang != "en" and short not in OTHER_LANGUAGES:
            continue
        outlet = r["domain"] or ""
        prefix = "n" if r["set"] == "newspaper4k" else "a"
        out.append({"id": f"{prefix}-{short}", "outlet": outlet.removeprefix("www."), "url": r["url"] or "",
                    "title": title, "text": cut(body), "language": lang,
                    "source": f"articles/index.jsonl#{r['id']}"})
    return out


def feed_items() -> list[dict[str, str]]:
    out = []
    for file, prefixes in FEED_ITEMS.items():
        parsed = feedparser.parse(str(CORPUS / "feeds" / file))
        outlet = parsed.feed.get("title", "")
        stem = Path(file).name.lower().replace(".", "-")
        for n, e in enumerate(parsed.entries):
            title = (e.get("title") or "").strip()
            if not any(title.startswith(p) for p in prefixes):
                continue
            content = e.content[0].value if e.get("content") else ""
            body = max(content, e.get("summary", ""), key=len)
            text = BeautifulSoup(body, "html.parser").get_text(" ", strip=True)
            out.append({"id": f"f-{stem}-{n:02d}", "outlet": outlet, "url": e.get("link", ""), "title": title,
                        "text": cut(text), "language": language(title, text),
                        "source": f"feeds/{file}#{n}"})
    return out


def main() -> None:
    stories = articles() + feed_items()
    with OUT.open("w", encoding="utf-8") as f:
        for s in stories:
            f.write(json.dumps(s, ensure_ascii=False) + "\n")
    print(f"{len(stories)} stories -> {OUT}")


if __name__ == "__main__":
    main()
