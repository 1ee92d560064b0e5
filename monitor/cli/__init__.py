"""The command-line interface: a thin click shell over the stages and :class:`monitor.daemon.service.Daemon`.

One module per command group; each registers its commands on :data:`main`:

- ``daemon``: ``check``, ``run``, ``once``, ``demo``;
- ``stages``: ``test-source``, ``test-notify`` (one stage on real input);
- ``rules``: ``test-rule``, ``match``;
- ``state``: ``sources``, ``outbox`` (read or change the stored state);
- ``init``: ``init`` (a new, commented configuration file);
- ``configfile``: ``add``, ``import-opml``, ``export-opml``, ``schema`` (change or describe
  the configuration file);
- ``instances``: ``instances`` (the instances sharing a PostgreSQL database), ``reload``
  (the running daemon, or with ``--all`` every instance, re-reads its configuration).
- ``history``: ``backtest``, ``rules`` (``rules --report``), over the stored history;
- ``events``: ``events`` (a file of stories grouped into events, as ``group: event`` does).

Exit status: 0 success, 1 a command-level failure (e.g. no match, a failed send),
2 invalid configuration or usage.

A command's module is imported when the command runs (:class:`~monitor.cli.base.LazyGroup`),
so ``newsmonitor match`` starts without importing the daemon, the store or the HTTP client.
A new command is named below with its module; ``tests/cli/test_commands.py`` checks the list.
"""

from monitor.cli.base import main

#: the commands of each module (the module registers them on :data:`main` when imported)
COMMANDS: dict[str, tuple[str, ...]] = {
    "daemon": ("check", "run", "once", "demo"),
    "stages": ("test-source", "test-notify"),
    "rules": ("test-rule", "match"),
    "state": ("sources", "outbox"),
    "init": ("init",),
    "configfile": ("add", "schema", "import-opml", "export-opml"),
    "instances": ("instances", "reload"),
    "history": ("backtest", "rules"),
    "events": ("events",),
}
for _module, _names in COMMANDS.items():
    main.lazy(f"monitor.cli.{_module}", *_names)

__all__ = ["COMMANDS", "main"]
