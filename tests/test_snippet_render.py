"""``Snippet.plain`` and ``Snippet.html``: the hits marked, overlapping spans skipped, text escaped for HTML."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import Snippet


def reference(snippet: Snippet, open_: str, close: str, escape: bool) -> str:
    """The rendering as first written: each piece escaped on its own, hits wrapped."""
    esc = html.escape if escape else str
    out, pos = [], 0
    for start, end in sorted(snippet.spans):
        if start < pos:
            continue
        out.append(esc(snippet.text[pos:start]))
        out.append(open_ + esc(snippet.text[start:end]) + close)
        pos = end
    out.append(esc(snippet.text[pos:]))
    return "".join(out)


spans = st.lists(st.tuples(st.integers(0, 45), st.integers(0, 6)).map(lambda p: (p[0], p[0] + p[1])), max_size=6)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet="ab <&>\"'é日 ", max_size=40), spans)
def test_plain_and_html_mark_every_hit(text: str, hits: list[tuple[int, int]]) -> None:
    snippet = Snippet(text, tuple(hits))
    assert snippet.plain() == reference(snippet, "**", "**", escape=False)
    assert snippet.html() == reference(snippet, "<mark>", "</mark>", escape=True)


def test_a_hit_inside_an_earlier_one_is_skipped() -> None:
    assert Snippet("a <b> c", ((2, 5), (3, 4), (6, 7))).html() == "a <mark>&lt;b&gt;</mark> <mark>c</mark>"
    assert Snippet("a <b> c", ((6, 7), (2, 5))).plain() == "a **<b>** **c**"
