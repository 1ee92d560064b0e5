"""Snippets: the sentence (at most ``MAX_CHARS`` characters) around a match's hits."""

from __future__ import annotations

import re
from bisect import bisect_right

from monitor.models import Hit, Snippet

MAX_CHARS = 300
_CONTEXT = 80
#: a sentence ends at ., ! or ? (with closing quotes/brackets) followed by space and a
#: capital, digit or opening quote; or at a line break
#: (possessive quantifiers and the look-behind keep it linear on runs of dots or spaces)
_BOUNDARY = re.compile(r"(?<![.!?…])[.!?…]++[\"'”’)\]]*+\s++(?=[\"“‘'(\[]?[^\W_a-z])|\n\s*+")
#: words after which a dot rarely ends a sentence
_ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "st", "gen", "sen", "rep", "gov", "prof", "jr", "sr", "no", "inc",
    "co", "corp", "ltd", "vs", "lt", "col", "sgt", "capt", "rev", "mt", "ft", "jan", "feb", "mar",
    "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})
_LAST_WORD = re.compile(r"(\w+)\.$")
_ABBREV_DOTS = re.compile(r"(?:\b\w\.){2,}$")


def sentence_starts(text: str) -> list[int]:
    """Offsets at which sentences start (always including 0)."""
    starts = [0]
    for m in _BOUNDARY.finditer(text):
        before = text[max(0, m.start() - 12) : m.start() + 1]
        if "\n" not in m.group() and m.group().startswith("."):
            w = _LAST_WORD.search(before)
            if w and (w.group(1).lower() in _ABBREVIATIONS or len(w.group(1)) == 1):
                continue
            if _ABBREV_DOTS.search(before):
                continue
        starts.append(m.end())
    return starts


def _sentence(text: str, starts: list[int], pos: int) -> tuple[int, int]:
    i = bisect_right(starts, pos) - 1
    begin = starts[i]
    end = starts[i + 1] if i + 1 < len(starts) else len(text)
    while end > begin and text[end - 1].isspace():
        end -= 1
    while begin < end and text[begin].isspace():
        begin += 1
    return begin, end


def _window(text: str, begin: int, end: int, hits: list[tuple[int, int]]) -> Snippet:
    """Cut [begin, end) to at most MAX_CHARS around the hits, marking cuts with "…"."""
    if end - begin > MAX_CHARS:
        first = min(s for s, _ in hits)
        start = max(begin, first - _CONTEXT)
        if start > begin:
            space = text.find(" ", start, first)
            start = space + 1 if space >= 0 else start
        stop = min(end, start + MAX_CHARS - 2)
        if stop < end:
            space = text.rfind(" ", start, stop)
            stop = space if space > start else stop
        lead = "…" if start > begin else ""
        tail = "…" if stop < end else ""
        body = text[start:stop]
        shift = start - len(lead)
        limit = stop
    else:
        lead = tail = ""
        body = text[begin:end]
        shift = begin
        limit = end
    spans = tuple(sorted((s - shift, e - shift) for s, e in hits if s >= shift + len(lead) and e <= limit))
    return Snippet(lead + body + tail, spans)


def make_snippets(
    texts: dict[str, str], hits: list[Hit], limit: int = 2, starts_cache: dict[str, list[int]] | None = None
) -> tuple[Snippet, ...]:
    """One or two snippets for ``hits`` (from fields whose text is in ``texts``).

    The sentence holding the most distinct matched terms comes first; a second one is added
    only when it shows a term the first does not. Snippets are returned in text order,
    title before text. ``starts_cache`` may be shared by calls for the same story, so its
    sentences are found once.
    """
    groups: dict[tuple[str, int, int], list[Hit]] = {}
    starts_of = starts_cache if starts_cache is not None else {}
    for hit in hits:
        text = texts.get(hit.field)
        if not text:
            continue
        starts = starts_of.get(hit.field)
        if starts is None:
            starts = starts_of[hit.field] = [0] if hit.field != "text" else sentence_starts(text)
        begin, end = _sentence(text, starts, hit.start)
        groups.setdefault((hit.field, begin, max(end, hit.end)), []).append(hit)
    order = ("title", "text", "source", "url")
    ranked = sorted(groups.items(), key=lambda kv: (-len({h.term for h in kv[1]}),
                                                    order.index(kv[0][0]) if kv[0][0] in order else 9,
                                                    kv[0][1]))
    chosen: list[tuple[tuple[str, int, int], list[Hit]]] = []
    seen: set[str] = set()
    for key, group in ranked:
        terms = {h.term for h in group}
        if chosen and terms <= seen:
            continue
        chosen.append((key, group))
        seen |= terms
        if len(chosen) >= limit:
            break
    chosen.sort(key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 9, kv[0][1]))
    out: list[Snippet] = []
    for (field, begin, end), group in chosen:
        snippet = _window(texts[field], begin, end, [(h.start, h.end) for h in group])
        out.append(Snippet(snippet.text, snippet.spans, field))
    return tuple(out)
