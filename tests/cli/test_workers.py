"""The parser workers as ``newsmonitor`` starts them: a pool that cannot start is one clear error
at start-up, and no worker imports anything from the working directory or runs the script again.

Each case runs the command in a child process, because the fork server is one per process.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import yaml

from tests.support.configs import config_data
from tests.support.feeds import story_items
from tests.support.paths import ROOT
from tests.support.servers import Feed, Site

#: what pip's ``newsmonitor`` wrapper does; when a process imports it again instead of running
#: it (a worker process starting), it leaves a mark beside itself
ENTRY_SCRIPT = """\
import pathlib, sys
if __name__ != "__main__":
    pathlib.Path(__file__).with_name("script-run-again").write_text(__name__)
from monitor.cli import main
if __name__ == "__main__":
    sys.exit(main())
"""

#: a module that should never be imported: it leaves a mark named after itself
POISON = "import pathlib\npathlib.Path(__file__).with_suffix('.imported').write_text('')\n"


def write_config(tmp_path: Path, site: Site) -> tuple[Feed, Path]:
    feed = Feed(site, "/feed.xml")
    feed.items = story_items(3, base=site.base + "/news")
    data = config_data(
        tmp_path,
        sources=[{"name": "wire", "feed": feed.url, "full_text": False}],
        rules=[{"name": "r", "query": "weather"}],
        notifiers={},
        allow=site.allow,
    )
    path = tmp_path / "nm.yaml"
    path.write_text(yaml.safe_dump(data))
    return feed, path


async def newsmonitor(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``args`` through a stand-in of the installed ``newsmonitor`` script in ``cwd``."""
    script = cwd.parent / "bin" / "newsmonitor"
    script.parent.mkdir(exist_ok=True)
    script.write_text(ENTRY_SCRIPT)
    pythonpath = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), *args,
        cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": pythonpath, **(env or {})},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_workers_import_nothing_from_the_working_directory_nor_the_script_again(
    tmp_path: Path, site: Site
) -> None:
    feed, config = write_config(tmp_path, site)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for name in ("json", "monitor", "lxml", "feedparser", "trafilatura"):
        (cwd / f"{name}.py").write_text(POISON)
    code, out, err = await newsmonitor("once", "--config", str(config), "--workers", "1", cwd=cwd)
    assert code == 0, out + err
    assert "wire: primed, 3 listed, 3 new" in out
    assert feed.hits == 1
    assert sorted(p.name for p in cwd.glob("*.imported")) == []
    assert not (tmp_path / "bin" / "script-run-again").exists()


async def test_a_pool_that_cannot_start_stops_once_and_run_at_start_up_with_the_cause(tmp_path: Path, site: Site) -> None:
    feed, config = write_config(tmp_path, site)
    # a temporary directory so deep that the fork server's Unix socket cannot be bound there
    deep = tmp_path / ("t" * 110)
    deep.mkdir()
    for command in (["once"], ["once", "--dry-run"], ["run"]):
        code, out, err = await newsmonitor(
            *command, "--config", str(config), "--workers", "1", cwd=tmp_path, env={"TMPDIR": str(deep)}
        )
        assert code == 1, out + err
        said = [line for line in err.splitlines() if line.startswith("newsmonitor:")]
        assert len(said) == 1, err
        assert said[0].startswith("newsmonitor: parser worker processes cannot start: the fork server's socket path")
        assert "over the 107 bytes a Unix socket path may have" in said[0]
        assert f"TMPDIR={deep}" in said[0] and "--workers 0" in said[0]
        assert "Traceback" not in err and "unexpected error" not in err
        assert out == ""
    assert feed.hits == 0  # nothing was polled
