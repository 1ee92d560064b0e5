"""Rendering alerts, digests, summaries and health notices in each body format."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.models import Snippet
from monitor.notify.message import FORMATS, KINDS, AlertItem, Message
from monitor.notify.render import Renderer, TemplateProblem


def item(
    key: str,
    title: str,
    hour: int,
    rules: list[str],
    *,
    url: str | None = None,
    outlets: list[str] | None = None,
) -> AlertItem:
    return AlertItem(
        key=key,
        title=title,
        url=url or f"https://news.example/{key}",
        outlets=outlets if outlets is not None else ["Example News"],
        published=datetime(2026, 7, 1, hour, 5, tzinfo=UTC),
        rules=[(r, [Snippet(f"{title} was reported by {r} watchers.", ((0, 4),))]) for r in rules],
        source="example",
    )


ACME = item("nm-acme", "Acme recalls two million cars", 12, ["acme"], outlets=["Reuters", "AP"])

# (format, substrings that must appear in the alert body)
ALERT_CASES = [
    (
        "text",
        [
            "Acme recalls two million cars",
            "Reuters, AP",
            "2026-07-01 14:05 CEST",
            "https://news.example/nm-acme",
            "Rule: acme",
            "**Acme** recalls",
            "id: nm-acme",
        ],
    ),
    (
        "markdown",
        [
            "**[Acme recalls two million cars](https://news.example/nm-acme)**",
            "_Reuters, AP · 2026-07-01 14:05 CEST_",
            "**Rule:** acme",
            "> **Acme** recalls",
            "id: nm-acme",
        ],
    ),
    (
        "html",
        [
            '<a href="https://news.example/nm-acme">Acme recalls two million cars</a>',
            "Reuters, AP",
            "2026-07-01 14:05 CEST",
            "<b>Rule:</b> acme",
            "<mark>Acme</mark> recalls",
            "id: nm-acme",
        ],
    ),
]


@pytest.mark.parametrize(("fmt", "expected"), ALERT_CASES, ids=[c[0] for c in ALERT_CASES])
def test_alert_each_format(fmt: str, expected: list[str]) -> None:
    rendered = Renderer(fmt=fmt, timezone="Europe/Berlin").render(
        Message("alert", "phone", [ACME], keys=["nm-acme"])
    )
    assert rendered.body_format == fmt
    assert rendered.title == "acme: Acme recalls two million cars"
    for text in expected:
        assert text in rendered.body, (text, rendered.body)


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("UTC", "2026-07-01 12:05 UTC"),
        ("Europe/Berlin", "2026-07-01 14:05 CEST"),
        ("America/New_York", "2026-07-01 08:05 EDT"),
        ("Asia/Kolkata", "2026-07-01 17:35 IST"),
        ("Africa/Nairobi", "2026-07-01 15:05 EAT"),
    ],
)
def test_publication_time_in_target_zone(zone: str, shown: str) -> None:
    body = Renderer(timezone=zone).render(Message("alert", "t", [ACME])).body
    assert shown in body


def test_winter_time_and_naive_datetimes_are_utc() -> None:
    winter = AlertItem(
        "k",
        "Winter story about the harbour",
        "https://a.example/",
        [],
        datetime(2026, 1, 5, 9, 0),
        [("r", [])],
        "src",
    )
    body = Renderer(timezone="Europe/Berlin").render(Message("alert", "t", [winter])).body
    assert "2026-01-05 10:00 CET" in body
    assert "src · 2026-01-05" in body  # no outlet: the source name stands in


def test_several_rules_one_story_one_message() -> None:
    story = item("nm-1", "Acme recalls two million cars", 9, ["acme", "recalls", "autos"])
    for fmt in ("text", "markdown", "html"):
        rendered = Renderer(fmt=fmt).render(Message("alert", "t", [story], keys=["nm-1", "nm-2", "nm-3"]))
        assert rendered.title == "acme, recalls, autos: Acme recalls two million cars"
        for rule in ("acme", "recalls", "autos"):
            assert (
                f"Rule:{'</b>' if fmt == 'html' else '**' if fmt == 'markdown' else ''} {rule}"
                in rendered.body
            )
        assert "ids: nm-1, nm-2, nm-3" in rendered.body
        assert rendered.body.count("Acme recalls two million cars") == 1


def test_same_rule_twice_is_listed_once() -> None:
    story = item("nm-1", "Acme recalls two million cars", 9, ["acme", "acme"])
    body = Renderer().render(Message("alert", "t", [story])).body
    assert body.count("Rule: acme") == 1
    assert body.count("> **Acme** recalls") == 1


DIGEST = [
    item("k-old", "Oldest story in the digest", 6, ["alpha"]),
    item("k-new", "Newest story in the digest", 11, ["beta"]),
    item("k-mid", "Middle story in the digest", 9, ["alpha", "beta"]),
    AlertItem("k-none", "Story without a date", "https://x.example/", [], None, [("alpha", [])], "src"),
]


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_digest_grouped_by_rule_newest_first(fmt: str) -> None:
    rendered = Renderer(fmt=fmt).render(
        Message("digest", "mail", DIGEST, keys=["k-old", "k-new", "k-mid", "k-none"])
    )
    body = rendered.body
    assert rendered.title == "newsmonitor digest: 4 stories for alpha, beta"
    headings = {
        "text": ("== beta (1) ==", "== alpha (3) =="),
        "markdown": ("### beta (1)", "### alpha (3)"),
        "html": ("<h2>beta (1)</h2>", "<h2>alpha (3)</h2>"),
    }[fmt]
    # beta holds the newest story, so its group comes first; within alpha: newest first, undated last
    order = [headings[0], "Newest story", headings[1], "Middle story", "Oldest story", "Story without a date"]
    positions = [body.index(text) for text in order]
    assert positions == sorted(positions), body
    # a story matching two rules appears once, under its first rule, with the other noted
    assert body.count("Middle story in the digest") == 1
    assert "Also matched: beta" in body
    assert "ids: k-old, k-new, k-mid, k-none" in body


def test_summary_and_health_carry_the_note() -> None:
    note = "63 new stories from 'reuters' in one poll; showing the first 2"
    summary = Renderer().render(Message("summary", "t", DIGEST[:2], note=note, keys=["nm-sum"]))
    assert summary.title == note
    assert summary.body.startswith(note)
    assert "Oldest story in the digest" in summary.body and "id: nm-sum" in summary.body
    health = Renderer(fmt="html").render(Message("health", "t", [], note="source 'x' failing\nsince 3 hours"))
    assert health.title == "newsmonitor: source 'x' failing"
    assert "source &#39;x&#39; failing" in health.body


def test_footer_caps_many_keys() -> None:
    keys = [f"nm-{i}" for i in range(120)]
    body = Renderer().render(Message("digest", "t", DIGEST[:1], keys=keys)).body
    assert "nm-49" in body and "nm-50," not in body and "(+70 more)" in body


def test_render_email_gives_html_and_text() -> None:
    long_title = "Acme " + "very " * 60 + "long headline"
    html, text = Renderer(fmt="markdown").render_email(
        Message("alert", "mail", [item("k", long_title, 8, ["acme"])], keys=["k"])
    )
    assert (html.body_format, text.body_format) == ("html", "text")
    assert "<mark>" in html.body and "<mark>" not in text.body
    for rendered in (html, text):
        assert len(rendered.title) <= 150 and "\n" not in rendered.title and rendered.title.endswith("…")


def test_email_html_shows_each_link_as_text_for_the_plain_part() -> None:
    # apprise writes an e-mail's plain part from the HTML's text: an href alone would not be in it
    digest = Message("digest", "mail", [ACME, item("nm-b", "Bank holds rates", 9, ["banks"])], keys=["nm-acme", "nm-b"])
    html, _text = Renderer().render_email(digest)
    for url in ("https://news.example/nm-acme", "https://news.example/nm-b"):
        assert f'<a href="{url}">{url}</a>' in html.body
    chat = Renderer(fmt="html").render(digest)
    assert chat.body.count("https://news.example/nm-acme") == 1  # a chat shows the link behind the title only


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fmt": "pdf"}, "unknown body format 'pdf'"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"timezone": "../../etc/passwd"}, "unknown time zone"),
    ],
)
def test_bad_options_fail_at_construction(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match="unknown") as err:
        Renderer(**kwargs)
    assert message in str(err.value)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown message kind"):
        Renderer().render(Message("gossip", "t", []))


# ---------------------------------------------------------------------------- user templates


def write(tmp_path: Path, text: str, name: str = "alert.j2") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_user_template_renders_and_can_include_builtins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "{% if kind == 'alert' %}NEWS {{ items[0].title }} <{{ items[0].url }}>\n"
        "{% for r in items[0].rules %}[{{ r.name }}]{% endfor %}\n{% else %}{{ note }}{% endif %}\n"
        "{% include '_footer.txt' %}",
    )
    renderer = Renderer(template_path=path)
    body = renderer.render(Message("alert", "t", [ACME], keys=["nm-acme"])).body
    assert body.startswith("NEWS Acme recalls two million cars <https://news.example/nm-acme>\n[acme]")
    assert body.rstrip().endswith("id: nm-acme")
    assert renderer.render(Message("health", "t", [], note="all good")).body.startswith("all good")


def test_user_html_template_autoescapes(tmp_path: Path) -> None:
    path = write(tmp_path, "<p>{{ items[0].title }}</p>", "a.html")
    evil = item("k", "<script>alert(1)</script> headline", 8, ["r"])
    body = Renderer(fmt="html", template_path=path).render(Message("alert", "t", [evil])).body
    assert "<script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.mark.parametrize(
    ("source", "line", "reason"),
    [
        ("line one\n{% if items %}\n{{ items[0].title }\n", 3, "syntax error"),
        ("{% for x in items %}\n{{ x.title }}\n", 2, "syntax error"),
        ("ok\n\n{{ items | frobnicate }}", 3, "syntax error"),
    ],
)
def test_template_syntax_error_reported_with_file_and_line(
    tmp_path: Path, source: str, line: int, reason: str
) -> None:
    path = write(tmp_path, source)
    with pytest.raises(TemplateProblem) as err:
        Renderer(template_path=path)
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert reason in str(err.value)


def test_missing_template_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem, match="cannot read template"):
        Renderer(template_path=str(tmp_path / "nope.j2"))


def test_user_template_runtime_error_falls_back_to_builtin(tmp_path: Path) -> None:
    path = write(tmp_path, "{{ items[5].title }}")
    body = Renderer(template_path=path).render(Message("alert", "t", [ACME], keys=["nm-acme"])).body
    assert "Rule: acme" in body and "id: nm-acme" in body


def test_digest_without_dates_lists_later_arrivals_first() -> None:
    undated = [
        AlertItem(f"k{i}", f"Undated story number {i}", "https://x.example/", [], None, [("r", [])], "s")
        for i in range(3)
    ]
    body = Renderer().render(Message("digest", "t", undated)).body
    assert body.index("number 2") < body.index("number 1") < body.index("number 0")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_builtin_template_renders(kind: str, fmt: str) -> None:
    items = [] if kind == "health" else DIGEST[:2]
    rendered = Renderer(fmt=fmt).render(
        Message(kind, "t", items, note="Three new stories\nsecond line", keys=["nm-x"])
    )
    assert rendered.body_format == fmt and rendered.title and "\n" not in rendered.title
    assert "id: nm-x" in rendered.body
    if kind != "health":
        assert "Oldest story in the digest" in rendered.body


@pytest.fixture
def broken_builtins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The built-in templates, one of them broken, read afresh (the compiled ones are forgotten)."""
    from monitor.notify import render

    for source in render.TEMPLATES.iterdir():
        (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "digest.md").write_text("{% for item in items %}never closed\n", encoding="utf-8")
    monkeypatch.setattr(render, "TEMPLATES", tmp_path)
    render._builtin_sources.cache_clear()
    render._environment.cache_clear()
    yield tmp_path
    render._builtin_sources.cache_clear()
    render._environment.cache_clear()


def test_a_broken_built_in_template_stops_the_start_not_an_alert(broken_builtins: Path) -> None:
    with pytest.raises(TemplateProblem, match=r"digest\.md"):
        Renderer(fmt="text")


def test_a_render_reads_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the report: templates were read at the first render, so a daemon out of file descriptors
    # made every alert dead; they are read when the renderer is built
    import builtins
    import io

    renderer = Renderer(fmt="markdown")

    def no_files(*args: object, **kwargs: object) -> io.IOBase:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(builtins, "open", no_files)
    monkeypatch.setattr(Path, "open", no_files)
    item = AlertItem(
        key="k", title="Tin strike", url="https://example.com/", outlets=["o"], published=None, rules=[], source="s"
    )
    for kind in ("alert", "digest"):
        assert "Tin strike" in renderer.render(Message(kind=kind, target="t", items=[item], keys=["k"])).body
