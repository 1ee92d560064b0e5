"""``import-opml`` and ``export-opml`` on real files: the config keeps its comments, passes
``check`` afterwards, known feeds are skipped, hostile files change nothing, and an export
imports back as the same sources."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from monitor.cli import main
from tests.support.paths import DATA

OPML = DATA / "opml"

START = """\
# my newsmonitor config
database: sqlite:///{db}

sources:
  - name: bbc-news-world            # kept from before
    feed: https://feeds.bbci.co.uk/news/world/rss.xml
    tags: [world]

rules:
  - name: lithium
    query: lithium   # the one rule
"""


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def start_config(tmp_path: Path, text: str = START) -> Path:
    path = tmp_path / "nm.yaml"
    path.write_text(text.format(db=tmp_path / "state.db"), encoding="utf-8")
    return path


def test_import_keeps_the_file_and_passes_check(tmp_path: Path) -> None:
    path = start_config(tmp_path)
    before = path.read_text()
    result = invoke("import-opml", "--config", str(path), str(OPML / "feedly.opml"))
    assert result.exit_code == 0, result.output
    after = path.read_text()
    assert after.startswith(before.split("\nrules:")[0])  # every line before rules:, as it was
    assert after.endswith("rules:\n  - name: lithium\n    query: lithium   # the one rule\n")
    names = [s["name"] for s in yaml.safe_load(after)["sources"]]
    assert names == [
        "bbc-news-world", "world-news-the-guardian", "al-jazeera-breaking-news-world-news-and-video",
        "the-star-kenya", "ars-technica-all-content", "hacker-news",
    ]
    assert (
        "skipped https://feeds.bbci.co.uk/news/world/rss.xml (BBC News - World): "
        "already configured as source 'bbc-news-world'"
    ) in result.output
    assert "+ world-news-the-guardian: https://www.theguardian.com/world/rss  [World, Africa]" in result.output
    assert result.output.rstrip().endswith(
        f"added 5 sources, skipped 1; {path} updated (a new source's first poll only records what it lists)"
    )
    check = invoke("check", "--config", str(path))
    assert check.exit_code == 0 and "OK: 6 sources, 1 rules" in check.output, check.output


def test_importing_again_adds_nothing_and_leaves_the_file(tmp_path: Path) -> None:
    path = start_config(tmp_path)
    assert invoke("import-opml", "--config", str(path), str(OPML / "inoreader.opml")).exit_code == 0
    once = path.read_text()
    result = invoke("import-opml", "--config", str(path), str(OPML / "inoreader.opml"))
    assert result.exit_code == 0
    assert path.read_text() == once
    assert result.output.rstrip().endswith(f"added 0 sources, skipped 5; {path} unchanged")
    # the same NHK feed written http, with a trailing slash, in another reader's export
    result = invoke("import-opml", "--config", str(path), str(OPML / "netnewswire.opml"))
    assert (
        "nhkworld/en/news/rss.xml/ (NHK WORLD-JAPAN News): already configured as source 'nhk-world-japan-news'"
    ) in result.output


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    path = start_config(tmp_path)
    before = path.read_bytes()
    result = invoke("import-opml", "--dry-run", "--tag", "imported", "--config", str(path), str(OPML / "miniflux.opml"))
    assert result.exit_code == 0
    assert path.read_bytes() == before
    assert "+ carbon-brief: https://www.carbonbrief.org/feed/  [Energy, imported]" in result.output
    assert result.output.rstrip().endswith("would add 4 sources, skipped 0")


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<opml><body><outline text="&b;" xmlUrl="https://a.example/rss"/></body></opml>',
            "refused: the file declares XML entities",
        ),
        (b"<html><body>not a list</body></html>", "this is not an OPML subscription list"),
        (b"<opml><body>" + b" " * (10 * 2**20 + 1) + b"</body></opml>", "an OPML file may have at most 10 MiB"),
    ],
)
def test_a_refused_file_is_exit_2_and_changes_nothing(tmp_path: Path, content: bytes, said: str) -> None:
    path = start_config(tmp_path)
    before = path.read_bytes()
    opml = tmp_path / "in.opml"
    opml.write_bytes(content)
    result = invoke("import-opml", "--config", str(path), str(opml))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"newsmonitor: {opml}: ") and said in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert path.read_bytes() == before


def test_a_missing_file_or_config_is_said_in_one_line(tmp_path: Path) -> None:
    path = start_config(tmp_path)
    result = invoke("import-opml", "--config", str(path), str(tmp_path / "nope.opml"))
    assert result.exit_code == 2 and "nope.opml: No such file or directory" in result.stderr
    result = invoke("import-opml", "--config", str(tmp_path / "none.yaml"), str(OPML / "feedly.opml"))
    assert result.exit_code == 2 and "none.yaml: no such file" in result.output


def test_addresses_the_guard_refuses_are_skipped(tmp_path: Path) -> None:
    path = start_config(tmp_path)
    opml = tmp_path / "lan.opml"
    opml.write_text(
        '<opml version="2.0"><body>'
        '<outline text="bridge" xmlUrl="http://127.0.0.1:3000/rss"/>'
        '<outline text="nas" xmlUrl="http://10.0.0.7/feed.xml"/>'
        '<outline text="ok" xmlUrl="https://ok.example.org/feed.xml"/>'
        "</body></opml>"
    )
    result = invoke("import-opml", "--config", str(path), str(opml))
    assert result.exit_code == 0, result.output
    assert 'skipped http://127.0.0.1:3000/rss (bridge): refused by the address guard' in result.output
    assert '(allow_networks: ["127.0.0.1:3000"], at the top level of the file, then import again)' in result.output
    assert "skipped http://10.0.0.7/feed.xml (nas)" in result.output
    assert [s["name"] for s in yaml.safe_load(path.read_text())["sources"]] == ["bbc-news-world", "ok"]


def test_the_file_mode_is_kept(tmp_path: Path) -> None:
    path = start_config(tmp_path)
    path.chmod(0o600)
    assert invoke("import-opml", "--config", str(path), str(OPML / "miniflux.opml")).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".nm.yaml")] == []  # no temporary left


ROUND_TRIP = """\
database: sqlite:///{db}
sources:
  - name: bbc-world
    feed: https://feeds.bbci.co.uk/news/world/rss.xml
    outlet: BBC News
    tags: [world, uk]
  - name: guardian-world
    feed: https://www.theguardian.com/world/rss
    tags: [world]
  - name: nhk
    feed: https://www3.nhk.or.jp/nhkworld/en/news/rss.xml
  - name: paid
    feed: "https://wire.example.org/rss?key=${{WIRE_KEY}}"
    tags: ["markets/metals", energy]
  - name: the-star
    page: https://www.the-star.co.ke/news/world/
    tags: [africa]
rules:
  - name: r
    query: x
"""


def test_export_then_import_round_trips(tmp_path: Path) -> None:
    first = start_config(tmp_path, ROUND_TRIP)
    env = {"WIRE_KEY": "canarywirekey77"}
    result = invoke("export-opml", "--config", str(first), env=env)
    assert result.exit_code == 0, result.output
    document = result.stdout
    assert "canarywirekey77" not in result.output and "key=${WIRE_KEY}" in document
    assert "not exported (page sources have no feed): the-star" in result.stderr
    assert "written with their ${...} references, not the values: paid" in result.stderr
    opml = tmp_path / "out.opml"
    opml.write_text(document)

    second_dir = tmp_path / "second"
    second_dir.mkdir()
    second = start_config(second_dir, "database: sqlite:///{db}\nsources: []\nrules:\n  - {{name: r, query: x}}\n")
    result = invoke("import-opml", "--config", str(second), str(opml), env=env)
    assert result.exit_code == 0, result.output
    exported = [s for s in yaml.safe_load(first.read_text())["sources"] if "feed" in s]
    imported = yaml.safe_load(second.read_text())["sources"]

    def key(source: dict[str, object]) -> tuple[object, ...]:
        return (source["name"], source["feed"], source.get("outlet"), sorted(source.get("tags", [])))  # type: ignore[arg-type]

    assert sorted(map(key, imported)) == sorted(map(key, exported))


def test_export_writes_a_file_with_folders(tmp_path: Path) -> None:
    path = start_config(tmp_path, ROUND_TRIP)
    out = tmp_path / "x.opml"
    result = invoke("export-opml", "--config", str(path), "-o", str(out), env={"WIRE_KEY": "k"})
    assert result.exit_code == 0 and "wrote 4 feeds to" in result.stderr
    text = out.read_text()
    assert '<outline text="world" title="world">' in text
    assert (
        '<outline type="rss" text="bbc-world" title="BBC News" '
        'xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml" category="/world,/uk"/>'
    ) in text


def test_import_as_a_real_process_on_a_real_export(tmp_path: Path) -> None:
    path = start_config(tmp_path)
    env = {**os.environ, "NEWSMONITOR_CONFIG": str(path)}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "import-opml", str(OPML / "netnewswire.opml")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "added 6 sources, skipped 0" in done.stdout
    check = subprocess.run(
        [sys.executable, "-m", "monitor", "check"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert check.returncode == 0 and "OK: 7 sources" in check.stdout, check.stdout + check.stderr
    assert "# kept from before" in path.read_text() and "NHKニュース" in path.read_text()
