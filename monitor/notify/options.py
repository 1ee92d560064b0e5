"""What a notifier's options must look like, checked here where notify owns the knowledge.

Each checker takes one option's value as the configuration gives it and returns why that
value cannot work, or None. The config check puts the key path in front; nothing here
knows the YAML. apprise stays behind :mod:`monitor.notify.deliver`.
"""

from __future__ import annotations

from monitor.notify.deliver import check_apprise_url
from monitor.notify.render import Renderer
from monitor.notify.schedule import parse_digest, parse_quiet

__all__ = ["check_apprise_url", "check_digest", "check_quiet", "check_template"]


def check_digest(spec: str) -> str | None:
    """Why ``spec`` is not a digest schedule (``daily at 08:00``, ``every 2h``, ...), or None."""
    try:
        parse_digest(spec)
    except ValueError as exc:
        return str(exc)
    return None


def check_quiet(spec: str) -> str | None:
    """Why ``spec`` is not a quiet-hours range (``22:00-07:00 [Zone/Name]``), or None."""
    try:
        parse_quiet(spec)
    except ValueError as exc:
        return str(exc)
    return None


def check_template(path: str, *, fmt: str, timezone: str) -> str | None:
    """Why the user template at ``path`` cannot render ``fmt`` messages in ``timezone``, or None.

    The answer starts with ``template error:`` and names the file and line where it can.
    """
    try:
        Renderer(fmt=fmt, timezone=timezone, template_path=path)
    except Exception as exc:  # jinja reads the user's file: any failure is a config problem, not a crash
        return f"template error: {exc}"
    return None
