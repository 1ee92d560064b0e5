"""The dashboard's templates: Jinja2 with autoescape on every template, and the few filters
that turn values into safe text.

The templates are ours and fixed (no user edits them), so a plain autoescaping environment
is enough; every value from a source, a story or the configuration goes in as data and is
escaped. Links come from feeds: only ``http`` and ``https`` ones become ``href`` values
(``javascript:``, ``data:`` and the rest are shown as text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from monitor.models import Snippet
from monitor.web.view import when

HERE = Path(__file__).parent
LINK_SCHEMES = frozenset({"http", "https"})


def safe_link(url: object) -> str:
    """``url`` when it is an http(s) URL with a host, else "" (not a link)."""
    if not isinstance(url, str):
        return ""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    return url.strip() if parts.scheme.lower() in LINK_SCHEMES and parts.netloc else ""


def snippet_html(snippet: Snippet) -> Markup:
    """A snippet with its hits in ``<mark>``; the text itself escaped (:meth:`Snippet.html`)."""
    return Markup(snippet.html())  # noqa: S704 - Snippet.html escapes every piece of text it joins


def _when(ts: float | None) -> str:
    return when(ts)


def environment() -> Environment:
    """The templates of ``monitor/web/templates``, autoescaped, with the filters above."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["safe_link"] = safe_link
    env.filters["snippet"] = snippet_html
    return env


def static_files() -> dict[str, tuple[bytes, str]]:
    """The dashboard's stylesheet and script by name, with their content types."""
    types = {".css": "text/css", ".js": "text/javascript"}
    return {
        path.name: (path.read_bytes(), types[path.suffix])
        for path in sorted((HERE / "static").iterdir())
        if path.suffix in types
    }


def render(env: Environment, template: str, **context: Any) -> str:
    """Template ``template`` filled with ``context``."""
    return env.get_template(template).render(**context)
