"""URL normalisation, redirect unwrapping and registrable domains (pure, no network).

Story identity depends on :func:`normalize_url`: the same article linked with a different
tracking tail, fragment, default port or host case must give the same string, while two
different articles must never collapse into one. So the normaliser removes only what is
known to carry no meaning for the server (fragments, default ports, the tracking
parameters listed in :data:`TRACKING_PARAMS`) and otherwise keeps the URL as written,
including the order of the remaining query parameters.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, quote, unquote, urljoin, urlsplit, urlunsplit

import idna
import tldextract

__all__ = [
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "is_http_url",
    "normalize_url",
    "registrable_domain",
    "unwrap_redirect",
]

#: Query parameters removed wherever they appear (compared case-insensitively). They are
#: analytics/campaign markers added by newsletters, social networks and ad platforms; no
#: news site serves a different article because of them.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "__hssc",
        "__hstc",
        "__hsfp",
        "hsctatracking",
        "mkt_tok",
        "vero_id",
        "vero_conv",
        "ocid",
        "cmpid",
        "icid",
        "smid",
        "emc",
        "cmp",
        "xtor",
        "ito",
        "wt.mc_id",
        "wt.mc_ev",
        "ref_src",
        "ref_url",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "rss_id",
        "sr_share",
        "spref",
        "__twitter_impression",
        "ncid",
        "s_cid",
        "cmpgn",
        "soc_src",
        "soc_trk",
        "fb_ref",
        "fb_source",
        "fb_action_ids",
        "fb_action_types",
        "action_object_map",
        "action_type_map",
        "action_ref_map",
        "hpt",
    }
)

#: Parameter-name prefixes removed wherever they appear: Google Analytics (``utm_``),
#: internal campaign variants (``itm_``), Piwik/Matomo (``pk_``, ``mtm_``), HubSpot ads
#: (``hsa_``), comScore (``ns_``), AT Internet / BBC (``at_``), Olytics (``oly_``).
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "itm_", "pk_", "mtm_", "hsa_", "ns_", "at_", "oly_")

#: Parameters that are tracking only for certain values: ``?ref=twitter`` or
#: ``?source=rss`` mark where a click came from, but ``?ref=v2.1`` or ``?source=page-3``
#: may select content, so those stay.
_CONDITIONAL_PARAMS: frozenset[str] = frozenset({"ref", "source", "src", "partner", "from", "via"})
_TRACKING_VALUES = re.compile(
    r"(?:rss|atom|feeds?|twitter|tw|x|facebook|fb|linkedin|li|reddit|email|e-?mail|newsletter|nl|"
    r"share|social|hp|homepage|home|nav|navbar|menu|sidebar|related|trending|top|push|app|"
    r"google|googlenews|gnews|yahoo|msn|flipboard|smartnews|apple_?news|whatsapp|telegram|"
    r"twsrc.*|tw_.*|rss[-_].*|fb_.*|share[-_].*|social[-_].*|newsletter[-_].*)",
    re.IGNORECASE,
)

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Browsers drop ASCII tab/newline anywhere in a URL and C0 controls/space at the ends
# (WHATWG URL standard); feeds and hand-written HTML contain both.
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
_EDGE_JUNK = "".join(chr(c) for c in range(0x21)) + "\u00a0\u200b\ufeff"
_PCT_LOWER = re.compile(r"%([0-9a-f][0-9A-Fa-f]|[0-9A-F][a-f])")
# Characters left as they are in paths and queries: RFC 3986 reserved + unreserved + '%'.
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


def _quote(text: str, safe: str) -> str:
    # Only characters outside the safe set (spaces, non-ASCII, quotes...) are escaped, so
    # an IRI from a feed and its percent-encoded form from a web page compare equal.
    return quote(text, safe=safe, encoding="utf-8", errors="strict")


def _is_tracking(name: str, value: str) -> bool:
    key = unquote(name).strip().lower()
    if key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
        return True
    return key in _CONDITIONAL_PARAMS and bool(_TRACKING_VALUES.fullmatch(unquote(value).strip()))


def _clean_query(query: str) -> str:
    kept: list[str] = []
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if not _is_tracking(name.replace("+", " "), value.replace("+", " ")):
            kept.append(piece)
    return "&".join(kept)


def _encode_host(host: str) -> str | None:
    """Lower-case ASCII host with non-ASCII labels in Punycode; ``None`` when impossible."""
    host = host.rstrip(".").lower()
    if not host:
        return None
    if host.isascii():
        return host if all(0 < len(label) <= 63 for label in host.split(".")) else None
    labels: list[str] = []
    for label in host.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".").split("."):
        if label.isascii():
            labels.append(label)
            continue
        try:
            labels.append(idna.encode(label, uts46=True).decode("ascii"))
        except (idna.IDNAError, UnicodeError, ValueError):
            try:
                # IDNA 2003 accepts some real-world hosts (e.g. with symbols) that IDNA 2008 rejects.
                labels.append(label.encode("idna").decode("ascii"))
            except UnicodeError:
                return None
    out = ".".join(labels).lower()
    return out if all(0 < len(label) <= 63 for label in out.split(".")) else None


def _remove_dot_segments(path: str) -> str:
    if "/." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        elif seg == ".":
            if last:
                out.append("")
        else:
            out.append(seg)
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Return the canonical absolute form of ``url`` (resolved against ``base``), or ``None``.

    ``None`` means the link is unusable as a story URL: not http/https after resolution
    (``javascript:``, ``data:``, ``mailto:``, ``file:``, scheme-less without a base...),
    no host, an invalid port, or malformed (e.g. ``http://[ccpa-preferences]``). Otherwise
    the result has a lower-case scheme and host (IDNA/Punycode), no default port, no
    fragment, no tracking parameters (see :data:`TRACKING_PARAMS`), ``/`` for an empty
    path, dot segments resolved and unsafe characters percent-encoded; everything else,
    including the order of query parameters, is kept. Never raises.
    """
    try:
        return _normalize(url, base)
    except (ValueError, UnicodeError, TypeError):
        return None


def _normalize(url: str, base: str | None) -> str | None:
    url = _TAB_NEWLINE.sub("", url).strip(_EDGE_JUNK)
    if not url:
        return None
    if base:
        base = _TAB_NEWLINE.sub("", base).strip(_EDGE_JUNK)
        url = urljoin(base, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return None
    raw_host = parts.hostname  # lower-cased, brackets removed; raises ValueError on bad IPv6
    if not raw_host:
        return None
    port = parts.port  # raises ValueError when not a number in 0..65535
    if ":" in raw_host or "[" in parts.netloc:
        host = "[" + ipaddress.IPv6Address(raw_host.split("%")[0]).compressed + "]"
    else:
        encoded = _encode_host(unquote(raw_host))
        # (a percent-encoded control character, ``http://%09/``, is no host: its tab or line
        # break would be dropped when the URL is read again)
        if encoded is None or not encoded.isprintable() or any(c in encoded for c in ' <>"\\^`{|}%'):
            return None
        host = encoded
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    path = _remove_dot_segments(_quote(parts.path, _SAFE_PATH)) or "/"
    query = _clean_query(_quote(parts.query, _SAFE_QUERY))
    result = urlunsplit((scheme, netloc, path, query, ""))
    return _PCT_LOWER.sub(lambda m: "%" + m.group(1).upper(), result)


def is_http_url(url: str) -> bool:
    """True when ``url`` is an absolute http(s) URL with a host that parses; never raises."""
    try:
        parts = urlsplit(url.strip())
        return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname) and (parts.port or 0) >= 0
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=1)
def _tld_extractor() -> tldextract.TLDExtract:
    # Empty suffix_list_urls + no cache dir: only the snapshot bundled with tldextract is
    # used, so this never touches the network or the disk. Private suffixes are included
    # so that two blogs on blogspot.com or github.io count as different sites.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True)


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """The registrable domain (eTLD+1) of ``host``, lower case, e.g. ``www.bbc.co.uk`` → ``bbc.co.uk``.

    Uses the public-suffix snapshot bundled with tldextract (no network). IP addresses and
    single-label hosts are returned as they are; a host under an unknown suffix gives its
    last two labels. Never raises.
    """
    host = host.strip().strip("[]").rstrip(".").lower()
    if not host:
        return ""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not host.isascii():
        host = _encode_host(host) or host
    try:
        result = _tld_extractor()(host)
    except (ValueError, UnicodeError):  # pragma: no cover - tldextract is lenient
        result = None
    if result is not None and result.suffix and result.domain:
        return f"{result.domain}.{result.suffix}"
    labels = host.split(".")
    return ".".join(labels[-2:])


# (registrable domain, path regex, query parameters holding the target, in order of preference)
@dataclass(frozen=True, slots=True)
class _Redirector:
    """A click-tracking wrapper that carries its destination in a query parameter."""

    #: the wrapper's registrable domain; ``google.*`` is every Google country domain
    domain: str
    path: re.Pattern[str]
    #: the parameters that may hold the destination, in order of preference
    params: tuple[str, ...]
    #: where other hosts of the domain are the site itself, the wrapper's own host
    host: re.Pattern[str] | None = None

    def wraps(self, domain: str, host: str, path: str) -> bool:
        """Whether a URL on ``host`` (registrable ``domain``) with ``path`` is this wrapper."""
        if self.domain.endswith(".*"):
            if not domain.startswith(self.domain[:-1]):
                return False
        elif domain != self.domain:
            return False
        if self.host is not None and not self.host.fullmatch(host):
            return False
        return self.path.fullmatch(path) is not None


_REDIRECTORS: tuple[_Redirector, ...] = (
    _Redirector("google.*", re.compile(r"/url/?"), ("q", "url")),
    _Redirector("bing.com", re.compile(r"/(news/)?apiclick\.aspx"), ("url",)),
    _Redirector("facebook.com", re.compile(r"/l\.php"), ("u",)),
    _Redirector("instagram.com", re.compile(r"/?"), ("u",), re.compile(r"l\.instagram\.com")),
    _Redirector("youtube.com", re.compile(r"/redirect"), ("q",)),
    _Redirector("tumblr.com", re.compile(r"/redirect"), ("z",)),
    _Redirector("umblr.com", re.compile(r"/redirect"), ("z",)),
    _Redirector("slack-redir.net", re.compile(r"/link"), ("url",)),
    _Redirector("reddit.com", re.compile(r".*"), ("url",), re.compile(r"out\.reddit\.com")),
    _Redirector("linkedin.com", re.compile(r"/redir/redirect"), ("url",)),
    _Redirector("vk.com", re.compile(r"/away\.php"), ("to",)),
    _Redirector("duckduckgo.com", re.compile(r"/l/?"), ("uddg",)),
    _Redirector("steamcommunity.com", re.compile(r"/linkfilter/?"), ("url", "u")),
    _Redirector(
        "outlook.com", re.compile(r"/?"), ("url",), re.compile(r".*safelinks\.protection\.outlook\.com")
    ),
    _Redirector("disq.us", re.compile(r"/url/?"), ("url",)),
    _Redirector("mailchi.mp", re.compile(r".*"), ("url",)),
)
_YAHOO_RU = re.compile(r"/RU=([^/]+)/")
_MAX_UNWRAP = 5


def _target_of(url: str) -> str | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        return None
    domain = registrable_domain(host)
    if domain.endswith("yahoo.com") and host.startswith("r.search."):
        found = _YAHOO_RU.search(parts.path)
        return unquote(found.group(1)) if found else None
    for redirector in _REDIRECTORS:
        if redirector.wraps(domain, host, parts.path or "/"):
            params = parse_qsl(parts.query, keep_blank_values=False)
            for name in redirector.params:
                for key, value in params:
                    if key == name and value:
                        return value
    return None


def unwrap_redirect(url: str) -> str:
    """Return the target of a redirector link, or ``url`` unchanged.

    Redirectors are click-tracking wrappers that carry the destination in the URL itself:
    ``google.*/url?q=``, ``bing.com/news/apiclick.aspx?url=``, ``l.facebook.com/l.php?u=``,
    ``l.instagram.com/?u=``, ``youtube.com/redirect?q=``, ``t.umblr.com/redirect?z=``,
    ``out.reddit.com/...?url=``, ``linkedin.com/redir/redirect?url=``, ``vk.com/away.php?to=``,
    ``duckduckgo.com/l/?uddg=``, Outlook safelinks ``?url=``, ``r.search.yahoo.com/.../RU=.../``
    and a few more. Nested wrappers are unwrapped (at most 5 levels). A target that is not
    an absolute http(s) URL is ignored (the input is returned). Links that need a network
    request to resolve (t.co, feedproxy, news.google.com/articles) are returned unchanged.
    Never raises.
    """
    current = url
    for _ in range(_MAX_UNWRAP):
        try:
            target = _target_of(current.strip())
        except (ValueError, TypeError):
            return current
        if target is None or not is_http_url(target):
            return current
        current = target.strip()
    return current
