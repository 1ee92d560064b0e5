"""Rendering a :class:`Message` into the title and body a destination receives.

Templates are Jinja2, always run by :class:`jinja2.sandbox.ImmutableSandboxedEnvironment`
(HTML with autoescape). Story fields never become template source: every value is
sanitised (:mod:`monitor.notify.sanitize`) and formatted for the body format *before* it
is handed to a template as plain data, so a template only lays values out.

Built-in templates live in ``monitor/notify/templates`` (``<kind>.txt|md|html`` plus shared
``_item``/``_footer`` parts). They are read and compiled when a :class:`Renderer` is built
(at start and on reload), never at a render: a daemon whose first alert comes due while it
has no file descriptors left, or its disk is unreadable, renders it all the same, and a
broken template stops the start instead of killing alerts one by one. A user template file
replaces the body for every kind; it can test ``kind`` and ``{% include %}`` the built-in
parts. It is checked when the :class:`Renderer` is built: syntax errors and the known
sandbox-escape gadgets are reported with file and line, so the config loader rejects them
at load.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import DictLoader, StrictUndefined, Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from monitor.models import MessageKind, Snippet
from monitor.notify.message import FORMATS, KINDS, AlertItem, Message, Rendered
from monitor.notify.sanitize import defang, neutralise_mentions, safe_url, single_line, untrusted

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
_EXT = {"text": "txt", "markdown": "md", "html": "html"}
TITLE_LIMIT = 200
SUBJECT_LIMIT = 150
FOOTER_KEYS = 50

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~"})
# attribute names a template has no business using: the building blocks of every known
# sandbox escape (str.format indirection, frames, generators, code objects)
_FORBIDDEN_ATTRS = frozenset(
    {
        "format",
        "format_map",
        "mro",
        "gi_frame",
        "gi_code",
        "cr_frame",
        "f_globals",
        "f_locals",
        "func_globals",
        "func_code",
        "im_func",
        "im_self",
    }
)
_FORBIDDEN_NAMES = frozenset({"self", "cycler", "joiner", "namespace", "lipsum", "config", "request"})
_FORBIDDEN_FILTERS = frozenset({"attr", "map", "xmlattr"})


class TemplateProblem(ValueError):
    """A user template cannot be used; the message starts with ``file:line:``."""


@dataclass(frozen=True, slots=True)
class RuleView:
    name: str
    snippets: list[str]


@dataclass(frozen=True, slots=True)
class ItemView:
    key: str
    title: str
    url: str  # empty when the link was withheld
    bad_link: str  # the withheld link, defanged, for the reader
    outlets: str
    published: str
    rules: list[RuleView]
    also: str  # digest only: the other rules this story matched
    source: str


@dataclass(frozen=True, slots=True)
class GroupView:
    rule: str
    items: list[ItemView]


@cache
def _builtin_sources() -> dict[str, str]:
    """Every built-in template's source by file name, read once per process.

    Raises :class:`TemplateProblem` when one cannot be read (a broken installation).
    """
    sources: dict[str, str] = {}
    for path in sorted(TEMPLATES.iterdir()):
        if path.suffix.lstrip(".") in _EXT.values():
            try:
                sources[path.name] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise TemplateProblem(f"{path}:0: cannot read built-in template: {exc}") from exc
    return sources


@cache
def _environment(html: bool) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment over the built-in templates, all compiled when it is built (a
    render reads no file). One per process and kind of escaping, built with the first renderer;
    renderers share it (a user template is compiled beside it, not into it).

    Raises :class:`TemplateProblem` when a built-in template cannot be read or compiled.
    """
    sources = _builtin_sources()
    env = ImmutableSandboxedEnvironment(
        loader=DictLoader(sources),
        cache_size=-1,  # every template stays compiled for the life of the renderer
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=StrictUndefined,
    )
    for name in ("cycler", "joiner", "namespace", "lipsum"):
        env.globals.pop(name, None)
    for name in sources:
        try:
            env.get_template(name)
        except TemplateError as exc:
            raise TemplateProblem(f"{TEMPLATES / name}:{getattr(exc, 'lineno', 0) or 0}: {exc}") from exc
    return env


class Renderer:
    """Renders messages for one notifier: body format, time zone and optional user template."""

    def __init__(self, *, fmt: str = "text", timezone: str = "UTC", template_path: str | None = None) -> None:
        """Prepare templates.

        Raises ValueError for an unknown format or time zone, and :class:`TemplateProblem`
        (a ValueError) with ``file:line: reason`` when ``template_path`` cannot be read,
        does not parse, or uses attributes/names that only sandbox escapes need, or when a
        built-in template cannot be read or compiled.
        """
        if fmt not in FORMATS:
            raise ValueError(f"unknown body format '{fmt}'; allowed: {', '.join(FORMATS)}")
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone '{timezone}' (use an IANA name like Europe/Berlin)") from exc
        self.fmt = fmt
        self.timezone = timezone
        self._envs = {True: _environment(True), False: _environment(False)}
        self._user: Template | None = None
        self.template_path = template_path
        if template_path is not None:
            self._user = _load_user_template(self._envs[fmt == "html"], template_path)

    # ------------------------------------------------------------------ public

    def render(self, message: Message) -> Rendered:
        """Render ``message`` in this notifier's format. Raises ValueError for an unknown kind.

        A user template that fails at render time (e.g. a missing variable) falls back to
        the built-in template, so a template mistake never loses an alert.
        """
        return self._render(message, self.fmt, TITLE_LIMIT)

    def render_email(self, message: Message) -> tuple[Rendered, Rendered]:
        """(HTML, plain text) renderings for e-mail; titles are single-line subjects capped at 150.

        The HTML shows each story's link as text as well as behind its title: apprise sends
        the HTML and writes the plain-text part itself from the HTML's text, so a link that
        is only an ``href`` would be missing from it.
        """
        html = self._render(message, "html", SUBJECT_LIMIT, email=True)
        return html, self._render(message, "text", SUBJECT_LIMIT, email=True)

    # ------------------------------------------------------------------ internals

    def _render(self, message: Message, fmt: str, title_limit: int, *, email: bool = False) -> Rendered:
        if message.kind not in KINDS:
            raise ValueError(f"unknown message kind '{message.kind}'; allowed: {', '.join(KINDS)}")
        context = self._context(message, fmt, email=email)
        env = self._envs[fmt == "html"]
        body: str | None = None
        if self._user is not None and fmt == self.fmt:
            try:
                body = self._user.render(context)
            except Exception as exc:  # any template mistake: fall back rather than lose the alert
                log.warning(
                    "user template %s failed (%s: %s); using the built-in template",
                    self.template_path,
                    type(exc).__name__,
                    exc,
                )
        if body is None:
            body = env.get_template(f"{message.kind}.{_EXT[fmt]}").render(context)
        return Rendered(title=self._title(message, title_limit), body=body.strip() + "\n", body_format=fmt)

    def _title(self, message: Message, limit: int) -> str:
        items = message.items
        if message.kind == MessageKind.ALERT and items:
            rules = _unique(name for item in items for name, _ in item.rules)
            head = f"{', '.join(rules)}: " if rules else ""
            more = f" (+{len(items) - 1} more)" if len(items) > 1 else ""
            text = f"{head}{items[0].title}{more}"
        elif message.kind == MessageKind.FOLLOW_UP and items:
            rules = _unique(name for item in items for name, _ in item.rules)
            head = f"{', '.join(rules)}: " if rules else ""
            text = f"{head}the story develops ({len(items)} more): {items[0].title}"
        elif message.kind == MessageKind.DIGEST:
            rules = _unique(name for item in items for name, _ in item.rules)
            noun = "story" if len(items) == 1 else "stories"
            text = f"newsmonitor digest: {len(items)} {noun}" + (f" for {', '.join(rules)}" if rules else "")
        elif message.note:
            text = message.note.strip().splitlines()[0] if message.note.strip() else message.kind
            if message.kind == MessageKind.HEALTH:
                text = f"newsmonitor: {text}"
        else:
            text = f"newsmonitor {message.kind}"
        return untrusted(single_line(text, limit))

    def _context(self, message: Message, fmt: str, *, email: bool) -> dict[str, Any]:
        items = [self._item(item, fmt) for item in message.items]
        keys = message.keys or [item.key for item in message.items if item.key]
        shown = [single_line(k, 80) for k in keys[:FOOTER_KEYS]]
        footer = ("id: " if len(shown) == 1 else "ids: ") + ", ".join(shown) if shown else ""
        if len(keys) > FOOTER_KEYS:
            footer += f" (+{len(keys) - FOOTER_KEYS} more)"
        return {
            "kind": message.kind,
            "target": _text(message.target, fmt),
            "note": _text(message.note, fmt, multiline=True),
            "items": items,
            "groups": self._groups(message.items, fmt) if message.kind == MessageKind.DIGEST else [],
            "keys": shown,
            "footer": _text(footer, fmt),
            "count": len(message.items),
            "timezone": self.timezone,
            "email": email,
        }

    def _item(
        self,
        item: AlertItem,
        fmt: str,
        rules: list[tuple[str, list[Snippet]]] | None = None,
        also: list[str] | None = None,
    ) -> ItemView:
        url = safe_url(item.url)
        merged: dict[str, list[str]] = {}
        for name, snippets in item.rules if rules is None else rules:
            shown = merged.setdefault(name, [])
            for snippet in snippets:
                text = _snippet(snippet, fmt)
                if text not in shown:
                    shown.append(text)
        return ItemView(
            key=_text(item.key, fmt),
            title=_text(item.title, fmt) or _text("(no title)", fmt),
            url=_link(url, fmt) if url else "",
            bad_link=_text(defang(item.url), fmt) if not url and item.url else "",
            outlets=_text(", ".join(_unique(o for o in item.outlets if o)) or item.source, fmt),
            published=self._when(item.published),
            rules=[RuleView(_text(n, fmt), s) for n, s in merged.items()],
            also=_text(", ".join(also or []), fmt),
            source=_text(item.source, fmt),
        )

    def _groups(self, items: list[AlertItem], fmt: str) -> list[GroupView]:
        """Items newest first, each under the first rule it matched (other rules listed as 'also')."""
        # undated stories after dated ones; ties: the later arrival (outbox order) first
        ordered = [items[i] for i in sorted(range(len(items)), key=lambda i: (*_age_key(items[i]), -i))]
        groups: dict[str, list[ItemView]] = {}
        for item in ordered:
            names = _unique(name for name, _ in item.rules) or [""]
            primary = names[0]
            own = [(n, s) for n, s in item.rules if n == primary]
            groups.setdefault(primary, []).append(self._item(item, fmt, rules=own, also=names[1:]))
        return [GroupView(_text(rule, fmt), views) for rule, views in groups.items()]

    def _when(self, when: datetime | None) -> str:
        if when is None:
            return ""
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")


def _age_key(item: AlertItem) -> tuple[int, float]:
    if item.published is None:
        return (1, 0.0)
    when = item.published if item.published.tzinfo else item.published.replace(tzinfo=UTC)
    return (0, -when.timestamp())


def _unique(values: Any) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        seen.setdefault(value, None)
    return list(seen)


def _text(value: object, fmt: str, *, multiline: bool = False) -> str:
    """A sanitised value ready for ``fmt``: Markdown-escaped for markdown; HTML is left to autoescape."""
    text = untrusted(value) if multiline else untrusted(single_line(value, 1000))
    if fmt == "markdown":
        return text.translate(_MD_SPECIAL)
    return text


def _snippet(snippet: Snippet, fmt: str) -> str:
    clean = _clean_snippet(snippet)
    if fmt == "html":
        # Snippet.html() escapes the text itself; only <mark> is markup
        return Markup(neutralise_mentions(_flat(clean.html())))  # noqa: S704
    if fmt == "markdown":
        return neutralise_mentions(_flat(clean.markdown()))
    return neutralise_mentions(_flat(clean.plain()))


def _clean_snippet(snippet: Snippet) -> Snippet:
    """The snippet with each stretch between hit boundaries sanitised, hit offsets kept right."""
    size = len(snippet.text)
    cuts = sorted({0, size, *(p for span in snippet.spans for p in span if 0 <= p <= size)})
    moved: dict[int, int] = {}
    out: list[str] = []
    length = 0
    for start, end in itertools.pairwise(cuts):
        moved[start] = length
        piece = untrusted(snippet.text[start:end])
        out.append(piece)
        length += len(piece)
    moved[len(snippet.text)] = length
    spans = tuple((moved[a], moved[b]) for a, b in snippet.spans if a in moved and b in moved and a < b)
    return Snippet(text="".join(out), spans=spans, field=snippet.field)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _link(url: str, fmt: str) -> str:
    if fmt == "markdown":
        # characters that would end or confuse a Markdown link destination
        for char in "()<> `":
            url = url.replace(char, f"%{ord(char):02X}")
    return url


def _load_user_template(env: ImmutableSandboxedEnvironment, path: str) -> Template:
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateProblem(f"{path}:0: cannot read template: {exc}") from exc
    try:
        tree = env.parse(source, name=Path(path).name, filename=path)
        problem = _gadget(tree)
        if problem is not None:
            line, reason = problem
            raise TemplateProblem(f"{path}:{line}: {reason}")
        # compiling finds what parsing does not (unknown filters and tests)
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"{path}:{exc.lineno}: template syntax error: {exc.message}") from exc


def _gadget(tree: nodes.Template) -> tuple[int, str] | None:
    """The first construct only a sandbox escape needs, as (line, reason), or None."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name, nodes.Filter)):
        if isinstance(node, nodes.Getattr) and (node.attr.startswith("_") or node.attr in _FORBIDDEN_ATTRS):
            return node.lineno, f"template uses attribute '{node.attr}', which templates may not use"
        const = isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const)
        key = node.arg.value if const else None  # type: ignore[attr-defined]
        if isinstance(key, str) and (key.startswith("_") or key in _FORBIDDEN_ATTRS):
            return node.lineno, f"template uses item '{key}', which templates may not use"
        if isinstance(node, nodes.Name) and node.name in _FORBIDDEN_NAMES:
            return node.lineno, f"template uses '{node.name}', which notification templates do not provide"
        if isinstance(node, nodes.Filter) and node.name in _FORBIDDEN_FILTERS:
            return node.lineno, f"template uses the '{node.name}' filter, which is not allowed"
    return None
