"""Subscription lists: reading and writing OPML (``opml``), and deciding which feeds an
import adds, under which names, and which it skips (``plan``). Pure: bytes and settings in,
values out; the CLI reads the file and writes the configuration."""

from monitor.subscriptions.opml import (
    MAX_FEEDS,
    MAX_OPML_BYTES,
    ExportedFeed,
    OpmlFeed,
    SubscriptionList,
    read_opml,
    write_opml,
)
from monitor.subscriptions.plan import (
    ImportPlan,
    Skipped,
    known_urls,
    name_for,
    plan_import,
    unique_name,
    url_key,
)

__all__ = [
    "MAX_FEEDS",
    "MAX_OPML_BYTES",
    "ExportedFeed",
    "ImportPlan",
    "OpmlFeed",
    "Skipped",
    "SubscriptionList",
    "known_urls",
    "name_for",
    "plan_import",
    "read_opml",
    "unique_name",
    "url_key",
    "write_opml",
]
