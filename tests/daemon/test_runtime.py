"""Runtime: apply() changes everything a configuration decides at once; cpu_paused() holds matching."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from monitor.clock import FakeClock
from monitor.config import Config, Settings
from monitor.daemon.pipeline import PollStatus
from monitor.daemon.rulecache import compile_rules, rule_specs
from monitor.daemon.runtime import Runtime, enabled_rules
from monitor.daemon.targets import build_targets


def config(rules: list[dict[str, object]], notifiers: list[str], sources: list[str]) -> Config:
    settings = Settings.model_validate(
        {
            "database": "sqlite://",
            "notifiers": {name: {"urls": [f"json://127.0.0.1:1/{name}"]} for name in notifiers},
            "defaults": {"notify": notifiers},
            "rules": rules,
            "sources": [{"name": name, "feed": f"https://ex.com/{name}.xml"} for name in sources],
        }
    )
    return Config(settings, "newsmonitor.yaml", [])


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    rt = Runtime(config([{"name": "storm", "query": "storm"}], ["chat"], ["wire"]), clock=FakeClock(), workers=0)
    try:
        yield rt
    finally:
        await rt.close()


async def test_apply_changes_everything_the_configuration_decides(runtime: Runtime) -> None:
    assert runtime.reload_failed_at is None
    runtime.reload_failed_at = 1.0  # a reload failed before this one
    assert isinstance(runtime.clock, FakeClock)
    runtime.clock.advance(60)
    new = config(
        [{"name": "quake", "query": "earthquake"}, {"name": "off", "query": "x", "enabled": False}],
        ["desk"],
        ["wire", "agency"],
    )
    rules = enabled_rules(new)
    compiled, targets = compile_rules(rule_specs(rules)), build_targets(new)
    matcher = compiled.matcher
    runtime.apply(new, compiled, targets)
    assert runtime.config is new
    assert [r.name for r in runtime.rules] == ["quake"]
    assert runtime.compiled is compiled and runtime.matcher is matcher and runtime.targets is targets
    assert sorted(runtime.sources) == ["agency", "wire"]
    assert runtime.policy.matcher is matcher
    assert dict(runtime.policy.routes) == {"quake": ("desk",)}
    assert runtime.config_loaded_at == runtime.clock.timestamp()
    assert runtime.reload_failed_at is None


async def test_cpu_work_waits_while_the_cpu_thread_is_paused(runtime: Runtime) -> None:
    ran: list[str] = []
    async with runtime.cpu_paused():
        job = asyncio.ensure_future(runtime.cpu(ran.append, "matched"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert ran == [] and not job.done()  # the one CPU thread is held: nothing can run
    await job
    assert ran == ["matched"]


def test_poll_status_text_is_what_logs_and_metrics_show() -> None:
    assert [str(s) for s in PollStatus] == ["ok", "not_modified", "unchanged", "primed", "error"]
    assert f"{PollStatus.NOT_MODIFIED}" == "not_modified" and PollStatus.ERROR == "error"
