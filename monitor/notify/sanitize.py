"""Making untrusted story fields safe to show in a notification.

Everything a feed or article page supplies (titles, text, outlet names, links) and
everything a user typed into the config (rule names) is treated as data. These
functions are pure; the renderer applies them before any value reaches a template,
so a template (built-in or user-written) never sees raw hostile input.

What is removed or neutralised, and why:

* terminal escape sequences (``ESC [ ... m``, OSC titles, other ``ESC x`` pairs): alerts
  are often read in a terminal or a log viewer, where they can rewrite the screen;
* C0/C1 control characters except newline and tab, and DEL: they corrupt mail headers
  and chat payloads and hide text;
* bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the
  implicit marks: they make ``evil.com/moc.knab`` look like something else;
* chat mentions (``@everyone``, ``@here``, ``<@123>``, ``<!channel>``): a story must not
  be able to page a whole Discord or Slack workspace;
* links whose scheme is not http/https: shown as defanged text, never as a link.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or ST), then any other
# two-byte escape; the 8-bit CSI (U+009B) form is covered by the C1 range below.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b.?",
    re.DOTALL,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
_ANY_SPACE = re.compile(r"\s+")

ZWJ = "\u200d"
# @everyone/@here (Discord, Slack), @channel/@room/@all (Slack, Matrix, Mattermost);
# <@123>, <@!123>, <@&123> (Discord user/role), <!channel>, <!here>, <!subteam^..> (Slack)
_AT_MENTION = re.compile(r"@(?=(?:everyone|here|channel|room|all)\b)", re.IGNORECASE)
_ANGLE_MENTION = re.compile(r"<(?=[@!#][\w&!^|:.-])")

SAFE_SCHEMES = frozenset({"http", "https"})


def clean_text(value: object) -> str:
    """Return ``value`` as text with escape sequences, controls and bidi overrides removed.

    Newlines (any convention, normalised to ``\\n``) and tabs are kept; everything else
    listed in the module docstring is dropped. Never raises; ``None`` becomes ``""``.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    text = _LINE_BREAKS.sub("\n", text)
    text = _ANSI.sub("", text)
    text = _CONTROLS.sub("", text)
    return _BIDI.sub("", text)


def single_line(value: object, limit: int = 200) -> str:
    """One line of at most ``limit`` characters (cut at a word with an ellipsis when longer).

    Used for titles and e-mail subjects: every line break or run of whitespace becomes a
    single space, so no header can be injected through a story title.
    """
    text = _ANY_SPACE.sub(" ", clean_text(value)).strip()
    if len(text) <= limit:
        return text
    cut = text[: max(1, limit - 1)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def neutralise_mentions(text: str) -> str:
    """Defuse chat mentions by putting a zero-width joiner after ``@`` / ``<``.

    The text still reads the same to a person, but Discord, Slack, Mattermost and
    Matrix no longer treat it as a mention that notifies a whole channel.
    """
    text = _AT_MENTION.sub("@" + ZWJ, text)
    return _ANGLE_MENTION.sub("<" + ZWJ, text)


def untrusted(value: object) -> str:
    """:func:`clean_text` followed by :func:`neutralise_mentions`: the default for story fields."""
    return neutralise_mentions(clean_text(value))


def safe_url(url: object) -> str | None:
    """The link itself when it is an absolute http(s) URL with a host, else None.

    Whitespace and controls inside the URL (a classic way to smuggle ``java\\tscript:``
    past naive checks) are removed before the scheme is judged.
    """
    text = _ANY_SPACE.sub("", clean_text(url))
    if not text:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.netloc:
        return None
    if parts.username is not None or parts.password is not None:
        # credentials in a story link are either phishing (http://bank.com@evil) or a leak
        return None
    return text


def defang(url: object, limit: int = 200) -> str:
    """A harmless, single-line text form of a rejected link: ``javascript[:]alert(1)``.

    Mail clients and chat apps auto-link anything that looks like ``scheme:...``; the
    brackets stop that while leaving the value readable for the person debugging a feed.
    """
    text = single_line(url, limit)
    scheme, sep, rest = text.partition(":")
    if not sep:
        return text
    return scheme + "[:]" + rest.replace("//", "/\u200b/")
