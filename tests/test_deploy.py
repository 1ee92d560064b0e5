"""What deploy/ promises, checked on real parts: the image's health check asks /healthz and
says what it hears, the build context holds no secrets, the systemd unit needs no credential
and does not restart a broken configuration, and constraints.txt pins every dependency."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.paths import ROOT
from tests.support.servers import Site, free_port

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
UNIT = ROOT / "deploy" / "newsmonitor.service"
COMPOSE = ROOT / "deploy" / "compose.yaml"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def healthcheck_command() -> list[str]:
    args = next(rest for op, rest in dockerfile_instructions() if op == "HEALTHCHECK")
    command = json.loads(args[args.index("CMD") + 3 :].strip())
    assert isinstance(command, list)
    return [str(part) for part in command]


# ---------------------------------------------------------------------------- the image


def test_the_image_exposes_the_status_port_and_checks_healthz() -> None:
    ops = dict(dockerfile_instructions())
    assert ops["EXPOSE"] == "8321"
    check = next(rest for op, rest in dockerfile_instructions() if op == "HEALTHCHECK")
    assert "--interval=30s" in check and "--timeout=5s" in check and "--start-period=30s" in check
    assert "http://127.0.0.1:8321/healthz" in " ".join(healthcheck_command())


async def _health(url: str) -> tuple[int, float]:
    command = healthcheck_command()
    assert command[0] == "python"
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *command[1:],
        env={**os.environ, "NEWSMONITOR_HEALTH_URL": url, "http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    code = await asyncio.wait_for(proc.wait(), 30)
    return code, time.monotonic() - started


async def test_the_health_check_command_says_what_healthz_says(site: Site) -> None:
    site.static("/healthz", b"ok\n")
    site.static("/sick", b"not ready\n", status=503)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(10)
        return web.Response(text="late")

    site.route("/slow", slow)
    assert (await _health(f"{site.base}/healthz"))[0] == 0  # and no proxy was asked on the way
    assert (await _health(f"{site.base}/sick"))[0] == 1
    assert (await _health(f"http://127.0.0.1:{free_port()}/healthz"))[0] == 1
    code, took = await _health(f"{site.base}/slow")
    assert code == 1 and took < 8  # its own 4 s timeout, inside Docker's 5 s


async def test_the_health_check_against_the_real_daemon(tmp_path: Path, site: Site) -> None:
    site.static("/feed.xml", b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>',
                headers={"Content-Type": "application/rss+xml"})
    port = free_port()
    config = tmp_path / "nm.yaml"
    config.write_text(
        f"database: sqlite:///{tmp_path}/state.db\nallow_networks: {site.allow}\n"
        f"web: {{listen: '127.0.0.1:{port}'}}\n"
        f"sources: [{{name: wire, feed: '{site.base}/feed.xml'}}]\nrules: [{{name: r, query: x}}]\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "monitor", "run", "--workers", "0", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env={**os.environ},
    )
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 30
        status = 0
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            status = int((await reader.readline()).split()[1])
            writer.close()
            break
        if status == 404:
            pytest.skip("the status server has no /healthz yet (it comes with the web dashboard work)")
        assert status == 200
        assert (await _health(url))[0] == 0
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


def _matches(pattern: str, path: str) -> bool:
    if pattern.startswith("**/"):  # at any depth
        parts = path.split("/")
        return any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern[3:]) for i in range(len(parts)))
    return fnmatch.fnmatchcase(path, pattern)


def _dockerignore_allows(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent folders decides."""
    parts = path.split("/")
    paths = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        if any(_matches(pattern.removeprefix("!"), p) for p in paths):
            included = negated
    return included


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("pyproject.toml", True),
        ("README.md", True),
        ("constraints.txt", True),
        ("monitor/__init__.py", True),
        ("monitor/cli/base.py", True),
        ("monitor/notify/templates/alert.html.j2", True),
        ("monitor/__pycache__/x.cpython-312.pyc", False),
        ("newsmonitor.yaml", False),
        ("newsmonitor.alerts.secret", False),
        ("deploy/notify-url.secret", False),
        (".venv/bin/python", False),
        (".git/config", False),
        ("tests/data/opml/feedly.opml", False),
        ("state.db", False),
    ],
)
def test_the_build_context_holds_only_what_the_image_copies(path: str, allowed: bool) -> None:
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert _dockerignore_allows(path, patterns) is allowed


def test_every_file_the_dockerfile_copies_exists_and_is_in_the_context() -> None:
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [arg for op, rest in dockerfile_instructions() if op == "COPY" for arg in rest.split()[:-1]]
    assert copied == ["pyproject.toml", "README.md", "constraints.txt", "monitor"]
    for source in copied:
        assert (ROOT / source).exists() and _dockerignore_allows(source, patterns), source
    run = next(rest for op, rest in dockerfile_instructions() if op == "RUN" and "pip install" in rest)
    assert "-c constraints.txt" in run


def test_compose_builds_the_image_and_publishes_on_loopback_only() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    service = compose["services"]["newsmonitor"]
    context = (COMPOSE.parent / service["build"]["context"]).resolve()
    assert context == ROOT.resolve() and (context / service["build"]["dockerfile"]).resolve() == DOCKERFILE.resolve()
    assert service["ports"] == ["127.0.0.1:8321:8321"]
    assert "./newsmonitor.yaml:/config/newsmonitor.yaml:ro" in service["volumes"]
    assert service["environment"]["NEWSMONITOR_LOG_FORMAT"] == "json"
    assert service["ulimits"]["nofile"] == {"soft": 16384, "hard": 16384}
    assert "newsmonitor-data" in compose["volumes"]


# ---------------------------------------------------------------------------- the systemd unit


def _unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_unit_needs_no_credential_and_never_restarts_a_broken_config() -> None:
    unit = _unit_settings()
    assert "LoadCredential" not in unit and "LoadCredentialEncrypted" not in unit
    assert all(value.startswith("-") for value in unit.get("EnvironmentFile", []))  # optional
    assert unit["RestartPreventExitStatus"] == ["2"]
    # RestartPreventExitStatus= ignores ExecStartPre= commands: a check there would loop
    assert "ExecStartPre" not in unit
    assert unit["ExecStart"] == ["/opt/newsmonitor/venv/bin/newsmonitor run"]
    assert unit["Restart"] == ["on-failure"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_reads_the_unit_without_a_complaint(tmp_path: Path) -> None:
    # the program is not installed here: point ExecStart at one that is, the rest as shipped
    copy = tmp_path / "newsmonitor.service"
    copy.write_text(UNIT.read_text().replace("/opt/newsmonitor/venv/bin/newsmonitor", "/bin/true"))
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stderr.strip() == "" and done.stdout.strip() == "", done.stderr


def test_run_exits_2_at_once_on_a_broken_config(tmp_path: Path) -> None:
    config = tmp_path / "nm.yaml"
    config.write_text("sources:\n  - name: a\n    feed: ftp://x\nrules: []\n")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run"], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "NEWSMONITOR_CONFIG": str(config)},
    )
    assert done.returncode == 2, done.stderr
    assert f"{config}:3:11: sources[0].feed" in done.stderr
    assert time.monotonic() - started < 30


# ---------------------------------------------------------------------------- constraints.txt


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert " @ " not in line, f"pinned to a file or URL, not a registry release: {line}"
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _closure(requirements: list[Requirement]) -> dict[str, Requirement]:
    """Every requirement reachable from ``requirements`` on this platform, by installed metadata."""
    found: dict[str, Requirement] = {}
    todo = [(req, "") for req in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        if name in found and req.extras <= found[name].extras:
            continue
        found[name] = req
        for line in metadata.requires(req.name) or []:
            inner = Requirement(line)
            todo.extend((inner, e) for e in ("", *req.extras))
    return found


def test_constraints_pin_every_dependency_within_what_pyproject_allows() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    direct = [Requirement(r) for r in [*project["dependencies"], *extras["test"]]]
    # the test extra names other extras of this project (newsmonitor[topics]): their requirements count
    own = [r for r in direct if canonicalize_name(r.name) == canonicalize_name(project["name"])]
    direct = [r for r in direct if r not in own] + [Requirement(x) for r in own for e in r.extras for x in extras[e]]
    pins = _pins()
    missing = sorted(name for name in _closure(direct) if name not in pins)
    assert missing == [], f"not in constraints.txt (run .ci/refresh-constraints): {missing}"
    outside = [f"{r} (pinned {pins[canonicalize_name(r.name)]})" for r in direct
               if not r.specifier.contains(pins[canonicalize_name(r.name)], prereleases=True)]
    assert outside == [], f"pyproject.toml no longer allows these pins (run .ci/refresh-constraints): {outside}"


def test_the_readme_and_ci_install_with_the_constraints() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    readme = (ROOT / "README.md").read_text()
    assert ci in readme  # the README's test command is exactly what CI runs
    assert "pip install -q -c constraints.txt -e '.[test]'" in ci
    assert "pip install -q -c constraints.txt -e . && .venv/bin/newsmonitor demo" in readme
    assert ".ci/refresh-constraints" in readme
