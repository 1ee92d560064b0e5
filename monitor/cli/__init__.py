"""The command-line interface: a thin click shell over the stages and :class:`monitor.daemon.service.Daemon`.

One module per command group; each registers its commands on :data:`main`:

- ``daemon``: ``check``, ``run``, ``once``, ``demo``;
- ``stages``: ``test-source``, ``test-notify`` (one stage on real input);
- ``rules``: ``test-rule``, ``match``;
- ``state``: ``sources``, ``outbox`` (read or change the stored state);
- ``init``: ``init`` (a new, commented configuration file);
- ``configfile``: ``add``, ``import-opml``, ``export-opml``, ``schema`` (change or describe
  the configuration file);
- ``instances``: ``instances`` (the instances sharing a PostgreSQL database).
- ``history``: ``backtest``, ``rules`` (``rules --report``), over the stored history;
- ``events``: ``events`` (a file of stories grouped into events, as ``group: event`` does).

Exit status: 0 success, 1 a command-level failure (e.g. no match, a failed send),
2 invalid configuration or usage.
"""

from monitor.cli import configfile, daemon, events, history, init, instances, rules, stages, state
from monitor.cli.base import main

main.add_command(rules.test_rule, "test-rule")
main.add_command(rules.match, "match")

__all__ = ["configfile", "daemon", "events", "history", "init", "instances", "main", "stages", "state"]
