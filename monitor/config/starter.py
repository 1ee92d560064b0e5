"""The commented configuration ``newsmonitor init`` writes (pure: choices in, YAML text out).

It is a file to read as much as to run: each section says what it is for and shows, in
comments, the keys people usually reach for next. What the user chose (a notifier, a first
rule) is written as live YAML; everything else is a comment, so the file passes ``check``
as it is and every default stays the daemon's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

#: the name init gives the notifier it writes
NOTIFIER = "alerts"
#: the file editors read the schema from, beside the configuration
SCHEMA_FILE = "newsmonitor.schema.json"


@dataclass(frozen=True, slots=True)
class StarterChoices:
    """What ``init`` was told: the notifier's URL as it goes into the file (a ``${...}``
    reference, or None for no notifier yet), and the first rule."""

    rule_name: str
    query: str
    notify_value: str | None = None
    #: said in a comment beside the notifier (where its secret is kept)
    notify_note: str = ""


def scalar(value: str) -> str:
    """``value`` as a one-line YAML scalar the daemon's loader reads back as the same string."""
    text: str = yaml.safe_dump(value, allow_unicode=True, width=2**31 - 1, default_flow_style=True)
    text = text.rstrip("\n")
    return text.removesuffix("\n...").rstrip("\n")


def starter_config(choices: StarterChoices) -> str:
    """The text of a new configuration file for ``choices`` (valid YAML, ending in a newline)."""
    if choices.notify_value is not None:
        note = f"  # {choices.notify_note}" if choices.notify_note else ""
        notifiers = (
            "# Where alerts go: any apprise URL (https://github.com/caronc/apprise/wiki); a notifier\n"
            "# may also be a list of URLs, or a mapping with urls:, format: html, digest: daily at 08:00,\n"
            '# quiet: "22:00-07:00"\n'
            f"notifiers:\n  {NOTIFIER}: {scalar(choices.notify_value)}{note}\n"
        )
        defaults_notify = f"  notify: [{NOTIFIER}]              # where a rule's matches go unless it names its own\n"
    else:
        notifiers = (
            "# Where alerts go: none yet. Replace {} with a name and an apprise URL\n"
            "# (https://github.com/caronc/apprise/wiki), e.g.\n"
            '#   notifiers:\n#     alerts: "tgram://${TELEGRAM_BOT_TOKEN}/${TELEGRAM_CHAT_ID}"\n'
            "# and add under defaults:  notify: [alerts]\n"
            "notifiers: {}\n"
        )
        defaults_notify = ""
    return _TEMPLATE.format(
        schema=SCHEMA_FILE,
        notifiers=notifiers,
        defaults_notify=defaults_notify,
        rule_name=scalar(choices.rule_name),
        query=scalar(choices.query),
    )


_TEMPLATE = """\
# yaml-language-server: $schema={schema}
# newsmonitor configuration, written by `newsmonitor init`.
#
#   newsmonitor check               is this file valid? (--online also polls each source once)
#   newsmonitor once --dry-run      what would the rules match right now? (records and sends nothing)
#   newsmonitor run                 the daemon
#
# Editors with the YAML language server complete and check keys with the schema named on the
# first line. Secrets never go in this file: ${{NAME}} reads an environment variable,
# ${{file:/path}} a file (Docker and systemd secrets), $$ is a literal $.

# Where seen stories and pending alerts are kept; default: a SQLite file in
# $XDG_STATE_HOME/newsmonitor/ (~/.local/state/newsmonitor/).
# database: sqlite:////var/lib/newsmonitor/newsmonitor.db

timezone: UTC                   # digests, quiet hours and times in messages (an IANA name)

defaults:
  interval: 15m                 # how often each source is polled (30s, 5m, 1h, 1h30m or seconds)
{defaults_notify}  max_age: 7d                   # stories published longer ago than this never alert

{notifiers}
# What to poll: add sources with
#   newsmonitor add https://www.example.org/world/      finds the site's feed, or follows the page
#   newsmonitor import-opml subscriptions.opml         another reader's export; folders become tags
# or write them here, replacing []:
#   sources:
#     - name: bbc-world
#       feed: https://feeds.bbci.co.uk/news/world/rss.xml
#       tags: [world]
sources: []

# Rules: words, "phrases", AND OR NOT, NEAR/10, title:..., as in the README.
# Try one before you deploy it:  newsmonitor test-rule 'QUERY' https://...
rules:
  - name: {rule_name}
    query: {query}
    # tags: [world]             # only sources with one of these tags
    # urgent: true              # bypasses quiet hours

# A read-only status page, /api/status, /healthz and /metrics:
# web:
#   listen: "127.0.0.1:8321"
"""
