"""Does a URL look like a news article, or like a listing, utility page, feed or file?

The default heuristic of section-page link discovery, as pure functions on a normalised
URL. It only looks at the URL (the anchor's position on the page is not used), so every
decision can be shown to a user as a one-line reason. Rules, in order:

1. file extensions of media, documents and assets → ``"media file"``
2. feed paths (``/feed``, ``/rss``, ``.xml``, ``?format=rss``...) → ``"feed"``
3. a path segment naming a listing (tag, category, topic, author, archive...) → ``"category page"``;
   search → ``"search page"``; ``/page/2`` or a bare ``?page=2`` → ``"pagination"``;
   login, subscribe, account... → ``"account page"``; about, contact, privacy, terms,
   imprint... → ``"site info page"``. A dated path (``/2024/05/01/slug``) is exempt from
   the listing words, because many sites put the section in front of the date.
4. article-shaped when the path has a date followed by a slug, a number of 5+ digits as a
   segment of its own (``/show/126203``, ``/articleshow/83827768.cms``) or glued to a slug
   of 2+ words (``/plane-disappears-165354627.html``), a final segment that is an id
   (:func:`_names_an_id`: a UUID, a hex hash, an opaque mixed id such as BBC's
   ``cn060pe01e5o``, a one-to-three-letter prefix and a 7+ digit number such as DW's
   ``a-42090155``, an id with an article extension such as ``article68123456.ece``), a
   slug of 2+ words numbered as a page (ARD's ``bundestagswahl-ergebnisse-104.html``), or a
   final slug of at least :data:`MIN_SLUG_WORDS` words; otherwise ``"not article-shaped"``
   (section fronts such as ``/world`` or ``/news/europe``, and the home page). An id is
   no proof on its own: a listing word anywhere in the path (``/topics/c1vw6q14rzqt``)
   still makes it a listing.
"""

from __future__ import annotations

import itertools
import re
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["MIN_SLUG_WORDS", "rejection_reason"]

#: the fewest hyphen/underscore-separated words a final path segment needs to look like a headline slug
MIN_SLUG_WORDS = 3

_STRONG_SLUG_WORDS = 5


def _words(text: str) -> list[str]:
    return text.split()


_MEDIA_EXT = frozenset(
    _words(
        "jpg jpeg png gif webp avif svg bmp ico tif tiff heic pdf mp3 mp4 m4a m4v mov avi wmv webm "
        "mkv ogg oga ogv wav flac aac zip gz tgz bz2 xz rar 7z exe msi dmg apk ipa iso doc docx xls "
        "xlsx ppt pptx odt ods odp rtf csv epub css js mjs json woff woff2 ttf otf eot swf "
        "flv f4v 3gp 3g2 mpg mpeg m2ts mts vob asf rm rmvb m3u m3u8 mpd wma opus aif aiff mid midi amr "
        "weba m4b torrent deb rpm jar "
    )
)
_FEED_EXT = frozenset({"rss", "atom", "xml", "rdf"})
_FEED_SEGMENTS = frozenset(
    {"feed", "feeds", "rss", "atom", "rss2", "rss.xml", "atom.xml", "feed.xml", "rdf", "rssfeeds", "rssfeed"}
)
_FEED_QUERY = re.compile(r"(?:^|&)(?:format|feed|output|type)=(?:rss2?|atom|feed|xml)(?:&|$)", re.IGNORECASE)

_REASONS: dict[str, frozenset[str]] = {
    "category page": frozenset(
        _words(
            "tag tags category categories cat topic topics section sections author authors autor "
            "autoren writer writers contributor contributors people person profile-page archive "
            "archives archiv label labels keyword keywords schlagwort schlagworte thema themen rubrik "
            "ressort series collection collections hub index articlelist stream "
        )
    ),
    "search page": frozenset(_words("search suche recherche buscar cerca ")),
    "account page": frozenset(
        _words(
            "login log-in logout signin sign-in signout sign-out signup sign-up register registration "
            "subscribe subscription subscriptions abo abonnement newsletter newsletters account "
            "accounts my myaccount profile user users settings preferences cart checkout donate "
            "membership wp-login.php wp-admin "
        )
    ),
    "site info page": frozenset(
        _words(
            "about about-us aboutus contact contact-us contactus kontakt impressum imprint privacy "
            "privacy-policy privacypolicy datenschutz datenschutzerklaerung terms terms-of-service "
            "terms-of-use terms-and-conditions tos legal cookies cookie-policy cookie-settings help faq "
            "faqs careers jobs karriere advertise advertising werbung sitemap site-map accessibility "
            "barrierefreiheit corrections ethics editorial-standards masthead staff team apps app "
            "mediadaten press-kit rss-feeds services "
        )
    ),
}
_PAGE_PARAMS = frozenset({"page", "p", "pg", "seite", "paged", "pagina", "start", "offset"})
_DATE_PATH = re.compile(r"/(?:19|20)\d{2}/(?:0?[1-9]|1[0-2])(?:/(?:0?[1-9]|[12]\d|3[01]))?/")
_DATE_INLINE = re.compile(r"(?:19|20)\d{2}-?(?:0[1-9]|1[0-2])-?(?:0[1-9]|[12]\d|3[01])")
_LONG_NUMBER = re.compile(r"(?<![0-9a-f])\d{5,}(?![0-9a-f])")
_PAGE_EXT = re.compile(r"\.(?:s?html?|php\d?|aspx?|jsp|cms|cfm|ece|stm)$", re.IGNORECASE)
#: extensions only article pages carry (Times of India's .cms, Escenic's .ece, old BBC .stm)
_ARTICLE_EXT = re.compile(r"\.(?:cms|ece|stm)$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_HEX_HASH = re.compile(r"(?<![0-9a-z])(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{16,}(?![0-9a-z])")
#: a short prefix and a number of 7+ digits (DW's a-42090155); sections have small numbers (s-9097)
_PREFIXED_ID = re.compile(r"[a-z]{1,3}-\d{7,}")
_OPAQUE = re.compile(r"[a-z0-9]{8,24}")
#: a slug numbered as a page of the CMS (ARD's bundestagswahl-ergebnisse-104.html)
_NUMBERED_PAGE = re.compile(r"-\d{1,4}\.(?:s?html?|php\d?|aspx?|jsp)$")
_WORD = re.compile(r"[^\W\d_]{2,}|\d+")


_INDEX_FILE = re.compile(r"(?:index|default|main)\.(?:s?html?|php\d?|aspx?|jsp|cms)$")


def _segments(path: str) -> list[str]:
    segments = [unquote(s).lower() for s in path.split("/") if s]
    if segments and _INDEX_FILE.fullmatch(segments[-1]):
        # /2014/07/24/world/slug/index.html names the same thing as /2014/07/24/world/slug/
        segments.pop()
    return segments


def _extension(segment: str) -> str:
    stem, dot, ext = segment.rpartition(".")
    return ext if dot and stem else ""


def _slug_words(segment: str) -> int:
    stem = _PAGE_EXT.sub("", segment)
    return sum(1 for w in re.split(r"[-_+.,]+|%20|\s+", stem) if w and _WORD.fullmatch(w) and not w.isdigit())


def _has_id(segment: str) -> bool:
    # an id glued to a headline slug (yahoo: algeria-plane-disappears-093510948.html); an id
    # next to one word (London-44418, p6790352.aspx) is a place code or a form, not a story
    return bool(_LONG_NUMBER.search(segment)) and _slug_words(segment) >= 2


def _is_opaque_id(stem: str) -> bool:
    """A made-up token, not a word: letters and digits interleaved (``cn060pe01e5o``) or a
    digit among consonants (``cgrjvgzq8nbo``); ``nikkei225`` or ``asx100`` are names."""
    if not _OPAQUE.fullmatch(stem):
        return False
    digits = sum(c.isdigit() for c in stem)
    letters = len(stem) - digits
    if digits == 0 or letters == 0:
        return False
    transitions = sum(1 for a, b in itertools.pairwise(stem) if a.isdigit() != b.isdigit())
    vowels = sum(c in "aeiou" for c in stem)
    return (transitions >= 4 and digits >= 2) or (letters >= 6 and vowels * 4 <= letters)


def _names_an_id(segment: str) -> bool:
    """Whether a final path segment is a story's id rather than a name (see the module docstring)."""
    stem = _PAGE_EXT.sub("", segment)
    if _UUID.search(segment) or _HEX_HASH.search(stem) or _PREFIXED_ID.fullmatch(stem):
        return True
    if _LONG_NUMBER.fullmatch(stem) or _is_opaque_id(stem):
        return True
    return bool(_ARTICLE_EXT.search(segment)) and re.search(r"\d{5,}", stem) is not None


def _listing_reason(segments: list[str]) -> str | None:
    for segment in segments:
        stem = _PAGE_EXT.sub("", segment)
        for reason, words in _REASONS.items():
            if stem in words:
                return reason
    return None


def _is_pagination(segments: list[str], query: str) -> bool:
    for i, segment in enumerate(segments[:-1]):
        if segment in _PAGE_PARAMS and segments[i + 1].isdigit():
            return True
    if segments and segments[-1].isdigit() and len(segments[-1]) < 4 and len(segments) >= 2:
        return segments[-2] in _PAGE_PARAMS
    return False


def _is_article_shaped(path: str, segments: list[str], query: str) -> bool:
    if _DATE_PATH.search(path + "/"):
        # a date must be followed by something (a slug or id), or it is a date archive
        after = _DATE_PATH.split(path + "/", maxsplit=1)[-1].strip("/")
        return bool(after) and not after.isdigit()
    last = segments[-1] if segments else ""
    if _has_id(last) or any(_LONG_NUMBER.fullmatch(seg) for seg in segments) or _DATE_INLINE.search(last):
        return True
    if _names_an_id(last) or (_NUMBERED_PAGE.search(last) and _slug_words(last) >= 2):
        return True
    if any(_LONG_NUMBER.fullmatch(v) for _, v in parse_qsl(query)):
        # old CMSs: /article.php?id=123456
        return True
    return _slug_words(last) >= MIN_SLUG_WORDS or (
        len(segments) >= 2 and _slug_words(segments[-2]) >= MIN_SLUG_WORDS + 1 and len(last) <= 12
    )


def rejection_reason(url: str) -> str | None:
    """Why the normalised absolute ``url`` is not an article link, or ``None`` if it looks like one.

    Only the URL itself is judged (same-site and duplicate checks are the caller's).
    Never raises.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "malformed URL"
    path = parts.path or "/"
    segments = _segments(path)
    last = segments[-1] if segments else ""
    ext = _extension(last)
    if ext in _MEDIA_EXT:
        return "media file"
    if ext in _FEED_EXT or last in _FEED_SEGMENTS or (len(segments) >= 2 and segments[-2] in _FEED_SEGMENTS):
        return "feed"
    if _FEED_QUERY.search(parts.query):
        return "feed"
    if not segments:
        return "home page" if not parts.query else "not article-shaped"
    dated = bool(_DATE_PATH.search(path + "/"))
    # a bare number after a listing word is a listing id (/topics/293965), not an article id
    strong = dated or _has_id(last) or (_slug_words(last) >= _STRONG_SLUG_WORDS)
    reason = _listing_reason([last] if strong else segments)
    if reason:
        return reason
    if _is_pagination(segments, parts.query):
        return "pagination"
    if not _is_article_shaped(path, segments, parts.query):
        query_keys = {k.lower() for k, _ in parse_qsl(parts.query)}
        if query_keys & _PAGE_PARAMS:
            return "pagination"
        return "date archive" if dated else "not article-shaped"
    return None
