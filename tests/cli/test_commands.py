"""The command list of :mod:`monitor.cli`: each command imported when it runs, not before."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from monitor.cli import COMMANDS, main

#: what ``match`` does not need: the daemon's stages and the libraries they bring
NOT_FOR_MATCH = ("monitor.daemon.service", "monitor.store", "monitor.fetch", "monitor.notify", "monitor.sources",
                 "sqlalchemy", "aiohttp", "apprise", "trafilatura", "feedparser", "apscheduler")


def test_every_command_is_listed_with_the_module_that_registers_it() -> None:
    for module, names in COMMANDS.items():
        importlib.import_module(f"monitor.cli.{module}")
        for name in names:
            command = main.commands.get(name)
            assert command is not None and command.callback is not None, name
            assert command.callback.__module__ == f"monitor.cli.{module}", name
    # a command some module registers but the list lacks would be missing from --help
    assert sorted(main.commands) == sorted(name for names in COMMANDS.values() for name in names)


def test_match_runs_without_importing_the_daemon(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("- name: steel\n  query: tariff NEAR/5 steel\n", encoding="utf-8")
    stories = tmp_path / "s.jsonl"
    stories.write_text(json.dumps({"id": 1, "text": "A new tariff on steel."}) + "\n", encoding="utf-8")
    script = (
        "import sys\n"
        "from monitor.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"print(sorted(m for m in sys.modules if m.startswith({NOT_FOR_MATCH!r})), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, "match", "--rules", str(rules), str(stories)],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["matches"][0]["rule"] == "steel"
    assert done.stderr.strip() == "[]"
