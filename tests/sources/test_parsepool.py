"""WorkerPool: results, error mapping, timeouts that stop the task, memory limit, crashes, concurrency."""

from __future__ import annotations

import asyncio
import ctypes
import os
import resource
import time
from collections.abc import AsyncIterator
from functools import partial

import psutil
import pytest

from monitor.errors import HTTPStatusError, ParseError
from monitor.sources.parsepool import WorkerPool
from monitor.sources.prolog import HostileXML

# --- task functions (top level, so the workers can unpickle them) -----------------------


def add(a: int, b: int) -> int:
    return a + b


def pid() -> int:
    return os.getpid()


def address_space_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_AS)[0]


def nap(seconds: float) -> tuple[int, float, float]:
    start = time.monotonic()
    time.sleep(seconds)
    return os.getpid(), start, time.monotonic()


def spin(seconds: float) -> int:
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


def hog(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def exit_hard() -> None:
    os._exit(7)


def segfault() -> None:
    ctypes.string_at(0)


def fail_plain() -> None:
    raise ValueError("bad input")


def fail_hostile() -> None:
    raise HostileXML("XML entity declarations refused: test")


def fail_unpicklable_monitor_error() -> None:
    raise HTTPStatusError("server said no", 503)


def return_unpicklable() -> object:
    return lambda: None


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
async def pool() -> AsyncIterator[WorkerPool]:
    p = WorkerPool(processes=2, memory_limit_mb=512, task_timeout=10)
    yield p
    await p.close()


def _gone(process_id: int) -> bool:
    try:
        return psutil.Process(process_id).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# --- tests --------------------------------------------------------------------------------


async def test_runs_functions_and_partials_in_other_processes(pool: WorkerPool) -> None:
    assert await pool.run(add, 2, 3) == 5
    assert await pool.run(partial(add, b=10), 1) == 11
    assert await pool.run(pid) != os.getpid()


async def test_workers_have_the_address_space_limit(pool: WorkerPool) -> None:
    assert await pool.run(address_space_limit) == 512 * 1024 * 1024


async def test_errors_are_mapped(pool: WorkerPool) -> None:
    with pytest.raises(ParseError, match="ValueError: bad input"):
        await pool.run(fail_plain)
    with pytest.raises(HostileXML) as info:
        await pool.run(fail_hostile)
    assert info.value.kind == "hostile_xml"
    # a MonitorError that cannot cross the pipe intact still arrives with its message
    with pytest.raises(ParseError, match="server said no"):
        await pool.run(fail_unpicklable_monitor_error)
    with pytest.raises(ParseError, match="could not be returned"):
        await pool.run(return_unpicklable)
    with pytest.raises(ParseError, match="could not be sent"):
        await pool.run(add, lambda: 1, 2)
    assert await pool.run(add, 1, 1) == 2  # errors did not cost a worker


async def test_timeout_kills_the_worker_and_the_pool_recovers(pool: WorkerPool) -> None:
    victim = await pool.run(pid)
    other = await pool.run(pid)
    started = time.monotonic()
    slow = asyncio.ensure_future(pool.run(spin, 60, timeout=0.5))
    quick = await pool.run(nap, 0.05)  # the other worker keeps serving
    with pytest.raises(ParseError, match=r"worker timed out after 0\.5s"):
        await slow
    assert time.monotonic() - started < 10
    assert quick[0] in (victim, other)
    killed = {victim, other} - {quick[0]}
    await asyncio.sleep(0.2)
    assert all(_gone(p) for p in killed) or all(_gone(p) for p in {victim, other})
    assert await pool.run(add, 1, 2) == 3


async def test_memory_limit(pool: WorkerPool) -> None:
    with pytest.raises(ParseError, match="worker ran out of memory"):
        await pool.run(hog, 2048)
    assert await pool.run(hog, 16) == 16 * 1024 * 1024


@pytest.mark.parametrize(("task", "message"), [(exit_hard, r"exit code 7"), (segfault, r"SIGSEGV")])
async def test_crashed_worker_fails_only_its_task(pool: WorkerPool, task: object, message: str) -> None:
    before = await pool.run(pid)
    with pytest.raises(ParseError, match=f"worker crashed.*{message}"):
        await pool.run(task)  # type: ignore[arg-type]
    results = await asyncio.gather(*(pool.run(add, i, i) for i in range(6)))
    assert results == [0, 2, 4, 6, 8, 10]
    assert before  # the pool kept serving after the crash


async def test_a_worker_that_died_while_idle_is_replaced() -> None:
    p = WorkerPool(processes=1)
    try:
        first = await p.run(pid)
        psutil.Process(first).kill()
        await asyncio.sleep(0.2)
        second = await p.run(pid)
    finally:
        await p.close()
    assert second != first
    assert _gone(first)


async def test_concurrency_is_bounded_by_processes(pool: WorkerPool) -> None:
    runs = await asyncio.gather(*(pool.run(nap, 0.3) for _ in range(5)))
    assert len({p for p, _, _ in runs}) <= 2
    for _, start, _ in runs:
        overlapping = sum(1 for _, s, e in runs if s <= start < e)
        assert overlapping <= 2


async def test_workers_are_replaced_after_max_tasks() -> None:
    p = WorkerPool(processes=1, max_tasks_per_child=2)
    try:
        pids = [await p.run(pid) for _ in range(6)]
    finally:
        await p.close()
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4] == pids[5]


async def test_event_loop_stays_free_while_a_worker_computes(pool: WorkerPool) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    await pool.run(spin, 0.5)
    task.cancel()
    assert ticks >= 10


async def test_cancelling_a_task_kills_its_worker(pool: WorkerPool) -> None:
    running = asyncio.ensure_future(pool.run(nap, 30))
    await asyncio.sleep(0.3)
    workers = psutil.Process().children(recursive=True)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await asyncio.sleep(0.2)
    assert any(_gone(w.pid) for w in workers)
    assert await pool.run(add, 2, 2) == 4


async def test_close_stops_workers_and_refuses_new_tasks() -> None:
    p = WorkerPool(processes=2)
    pids = set(await asyncio.gather(p.run(pid), p.run(pid)))
    busy = asyncio.ensure_future(p.run(nap, 30))
    await asyncio.sleep(0.2)
    await p.close()
    with pytest.raises(ParseError):
        await busy
    await asyncio.sleep(0.2)
    assert all(_gone(x) for x in pids)
    with pytest.raises(RuntimeError):
        await p.run(add, 1, 1)


async def test_thread_mode() -> None:
    p = WorkerPool(processes=0)
    try:
        assert await p.run(pid) == os.getpid()
        with pytest.raises(ParseError, match="ValueError: bad input"):
            await p.run(fail_plain)
        with pytest.raises(HostileXML):
            await p.run(fail_hostile)
        with pytest.raises(ParseError, match="timed out"):
            await p.run(nap, 0.3, timeout=0.05)
    finally:
        await p.close()
