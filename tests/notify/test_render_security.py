"""Hostile story content and hostile templates (RELIABILITY H-6, H-7, A3, A5).

Every case is one line of a table: a payload placed in a story field or rule name, and
what must (not) come out in each body format.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.models import Snippet
from monitor.notify.message import AlertItem, Message, Rendered
from monitor.notify.render import Renderer, TemplateProblem
from monitor.notify.sanitize import clean_text, defang, neutralise_mentions, safe_url, single_line

FORMATS = ["text", "markdown", "html"]


def gadgets(marker: Path) -> list[str]:
    """The seven known Jinja2 sandbox-escape shapes; each would create ``marker`` if it ran."""
    cmd = f"touch {marker}"
    return [
        "{{ cycler.__init__.__globals__.os.popen('" + cmd + "').read() }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ().__class__.__base__.__subclasses__()[59]()._module.__builtins__['__import__']('os').system('"
        + cmd
        + "') }}",
        "{{ joiner.__init__.__globals__.os.system('" + cmd + "') }}",
        "{{ namespace.__init__.__globals__.os.popen('" + cmd + "').read() }}",
        "{{ self.__init__.__globals__.__builtins__.__import__('os').popen('" + cmd + "').read() }}",
        "{{ '{0.__class__.__init__.__globals__}'.format(cycler) }}",
    ]


def story(
    title: str = "A normal headline about the harbour",
    text: str = "A quiet sentence.",
    url: str = "https://news.example/a",
    rule: str = "harbour",
    outlet: str = "Example",
) -> Message:
    snippet = Snippet(text, ((0, 1),))
    item = AlertItem(
        "nm-1", title, url, [outlet], datetime(2026, 5, 1, 9, tzinfo=UTC), [(rule, [snippet])], "src"
    )
    return Message("alert", "chat", [item], keys=["nm-1"])


def render_all(message: Message) -> list[Rendered]:
    out = [Renderer(fmt=fmt).render(message) for fmt in FORMATS]
    out.extend(Renderer().render_email(message))
    return out


def visible(rendered: Rendered) -> str:
    """What a reader sees: tags and hit markers gone, HTML unescaped, Markdown escapes removed."""
    if rendered.body_format == "html":
        return html.unescape(re.sub(r"<[^>]+>", "", rendered.body))
    body = re.sub(r"(?<!\\)\*\*", "", rendered.body)
    if rendered.body_format == "markdown":
        return re.sub(r"\\(.)", r"\1", body)
    return body


@pytest.mark.parametrize("field", ["title", "text", "rule", "outlet"])
def test_template_gadgets_in_story_fields_come_out_literally(tmp_path: Path, field: str) -> None:
    marker = tmp_path / "pwned"
    for payload in [*gadgets(marker), "{{7*7}}", "{% raw %}x{% endraw %}", "${7*7} #{7*7}"]:
        for rendered in render_all(story(**{field: payload})):
            shown = visible(rendered)
            assert payload in shown or payload in rendered.title, (
                rendered.body_format,
                payload,
                rendered.body,
            )
            # 7*7 never evaluated (the gadgets name the marker's path, whose digits may hold "49")
            assert "49" not in shown.replace(str(marker), "")
    assert not marker.exists()


@pytest.mark.parametrize("index", range(7))
def test_template_gadgets_in_user_template_are_refused_at_load(tmp_path: Path, index: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "t.j2"
    path.write_text("Hello\n" + gadgets(marker)[index] + "\n", encoding="utf-8")
    with pytest.raises(TemplateProblem) as err:
        Renderer(template_path=str(path))
    assert str(err.value).startswith(f"{path}:2: ")
    assert not marker.exists()


@pytest.mark.parametrize(
    "source",
    [
        "{{ items|attr('__class__') }}",
        "{{ items['__class__'] }}",
        "{% set x = lipsum %}{{ x }}",
        "{{ kind.format_map(items) }}",
    ],
)
def test_indirect_gadgets_are_refused(tmp_path: Path, source: str) -> None:
    path = tmp_path / "t.j2"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(TemplateProblem, match=r":1: template uses"):
        Renderer(template_path=str(path))


def test_sandbox_still_guards_what_the_static_check_cannot_see(tmp_path: Path) -> None:
    # attribute names computed at run time pass the static check; the sandbox stops them
    # and the renderer falls back to the built-in template
    path = tmp_path / "t.j2"
    path.write_text("{% set n = '_' ~ '_class_' ~ '_' %}{{ items[0][n] }}", encoding="utf-8")
    body = Renderer(template_path=str(path)).render(story()).body
    assert "class" not in body and "Rule: harbour" in body


# (payload in the title, substrings that must not appear in any body/title)
HOSTILE_TEXT = [
    ("\x1b[2J\x1b]0;owned\x07Clear screen", ["\x1b", "\x07", "owned"]),
    ("Null\x00 and bell\x07 and C1\x9b6n", ["\x00", "\x07", "\x9b"]),
    ("Right-to-left \u202egnp.exe override", ["\u202e"]),
    ("Isolates \u2066a\u2069 and marks \u200f", ["\u2066", "\u2069", "\u200f"]),
    ("Ping @everyone and @here now", ["@everyone", "@here"]),
    ("Discord <@123456> and role <@&987>", ["<@123456>", "<@&987>"]),
    ("Slack <!channel> and <!here|here>", ["<!channel>", "<!here"]),
]


@pytest.mark.parametrize(("payload", "forbidden"), HOSTILE_TEXT, ids=[p[0][:12] for p in HOSTILE_TEXT])
def test_controls_bidi_and_mentions_removed(payload: str, forbidden: list[str]) -> None:
    for where in ("title", "text", "rule", "outlet"):
        for rendered in render_all(story(**{where: payload})):
            for bad in forbidden:
                assert bad not in rendered.body and bad not in rendered.title, (where, rendered.body_format)
                assert bad not in visible(rendered)


@pytest.mark.parametrize(
    "title",
    [
        "Line one\r\nBcc: victim@example.com",
        "Line one\nSubject: spoofed",
        "Tabs\tand\u2028separators\u2029and\x85next",
    ],
)
def test_titles_and_subjects_are_single_line(title: str) -> None:
    for rendered in render_all(story(title=title)):
        assert not re.search(r"[\r\n\x85\u2028\u2029]", rendered.title)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.domain)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/no-scheme",
        "https://bank.example@evil.example/login",
    ],
)
def test_unsafe_links_are_inert(url: str) -> None:
    for rendered in render_all(story(url=url)):
        body = rendered.body
        assert "href=" not in body
        assert "](" not in body  # no Markdown link
        scheme = url.split(":", 1)[0].lower().replace("\t", "")
        if scheme in ("javascript", "data", "vbscript", "file"):
            assert re.search(scheme + r"\s*:", body, re.IGNORECASE) is None
            assert "withheld" in body


def test_safe_link_is_kept_and_markdown_link_cannot_break_out() -> None:
    url = "https://news.example/a_(b)?q=1&r=<x>"
    md = Renderer(fmt="markdown").render(story(url=url)).body
    assert "(https://news.example/a_%28b%29?q=1&r=%3Cx%3E)" in md
    page = Renderer(fmt="html").render(story(url=url)).body
    assert 'href="https://news.example/a_(b)?q=1&amp;r=&lt;x&gt;"' in page


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '"><svg onload=alert(1)>',
        "<a href='javascript:alert(1)'>click</a>",
    ],
)
def test_html_is_escaped(payload: str) -> None:
    for where in ("title", "text", "rule", "outlet"):
        rendered = Renderer(fmt="html").render(story(**{where: payload}))
        page = rendered.body
        assert "<script" not in page and "<img" not in page and "<svg" not in page
        assert "<a href='javascript" not in page
        assert payload in visible(rendered)  # shown to the reader as text


def test_markdown_link_injection_in_title_is_escaped() -> None:
    md = Renderer(fmt="markdown").render(story(title="[Click me](https://evil.example) now")).body
    assert "[Click me](https://evil.example)" not in md
    assert "\\[Click me\\](https://evil.example)" in md


# ---------------------------------------------------------------------------- the helpers


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("plain", "plain"),
        ("keep\nnewline\tand tab", "keep\nnewline\tand tab"),
        ("crlf\r\nline", "crlf\nline"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("osc \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "osc link"),
        ("del\x7f and \x85", "del and \n"),
        (None, ""),
        (42, "42"),
    ],
)
def test_clean_text(given: object, expected: str) -> None:
    assert clean_text(given) == expected


def test_single_line_caps_at_a_word() -> None:
    text = single_line("word " * 100, 50)
    assert len(text) <= 50 and text.endswith("word…")
    assert single_line("short", 50) == "short"


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.com/x", True),
        ("http://example.com", True),
        ("HTTPS://EXAMPLE.COM/", True),
        ("ftp://example.com/", False),
        ("https:///nohost", False),
        ("mailto:a@b.c", False),
        ("http://[::1", False),
        ("", False),
        ("  https://example.com/ok  ", True),
    ],
)
def test_safe_url(url: str, safe: bool) -> None:
    assert (safe_url(url) is not None) is safe


def test_defang_and_mentions() -> None:
    assert defang("javascript:alert(1)") == "javascript[:]alert(1)"
    assert "://" not in defang("file:///etc/passwd")
    assert (
        neutralise_mentions("@everyone <@1> <!here> user@example.com")
        != "@everyone <@1> <!here> user@example.com"
    )
    assert neutralise_mentions("email a@b.org, handle @alice") == "email a@b.org, handle @alice"
