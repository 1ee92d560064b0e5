"""A bounded pool of worker processes for CPU-heavy work on hostile input.

Feed parsing, HTML parsing and article extraction run here, never on the event loop: a
bad document may take seconds of CPU or gigabytes of memory (a billion-laughs feed), and
in a worker that costs one killed process instead of the daemon.

* Each worker is a separate process started with ``forkserver`` (not ``fork``: the daemon
  has threads, and forking a threaded process can deadlock the child). The fork server
  preloads the parsing modules, so replacing a killed worker costs milliseconds.
* ``RLIMIT_AS`` caps each worker's address space; a task that exceeds it raises
  MemoryError in the worker, which reports it and exits, or the worker dies outright.
* A task over its timeout is stopped by killing its worker; a replacement is started for
  the next task. Other tasks, on other workers, carry on.
* A worker that dies for any reason (segfault, ``os._exit``, the OOM killer) fails only
  the task it was running, with :class:`ParseError`.
* The fork server never imports from the daemon's working directory: it is a new interpreter
  (``python -c``), which would put that directory first on its module path, so it is started
  with ``PYTHONSAFEPATH`` and the daemon's own module path (:func:`start_fork_server`).
* :meth:`WorkerPool.start` starts the fork server and one worker at once, so that a pool
  that cannot run (a socket path too long for the system, no processes left) is one clear
  :class:`~monitor.errors.WorkerPoolError` at start-up, not a failure of every poll.
* ``processes=0`` runs tasks in a thread (``asyncio.to_thread``) instead: no process start
  cost and no pickling, but a timed-out task cannot be stopped (it runs on in the
  background), there is no memory limit, and a crash in C code takes the daemon down.
  Meant for tests and tiny installs that only read trusted feeds.

Tasks are sent over a pipe with pickle, so ``fn`` must be a top-level function (or a
``functools.partial`` of one) and its arguments and result picklable. As with any
non-fork multiprocessing, the main script must be safe to import (``if __name__ ==
"__main__":``): unless it was run by name (``python -m``), every worker runs it again as
it starts (Python 3.11 passes the fork server no path to preload it from), which is why
the ``newsmonitor`` script names itself (:func:`monitor.cli.base.name_entry_script`).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing import util as mp_util
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from monitor.errors import MonitorError, ParseError, WorkerPoolError

T = TypeVar("T")

#: modules the fork server imports once, so that every (re)started worker has them warm;
#: the fork server skips any that fail to import
DEFAULT_PRELOAD = (
    "__main__",
    "monitor.sources.feedparse",
    "monitor.extract.article",
    "monitor.extract.links",
)

#: longest exception message carried back from a worker
_MAX_MESSAGE = 500
#: longest path a Unix socket can be bound to on Linux (``sun_path`` is 108 bytes with its NUL)
UNIX_PATH_MAX = 107
#: the variables that may name the temporary directory, in the order :mod:`tempfile` reads them
_TEMP_VARIABLES = ("TMPDIR", "TEMP", "TMP")

_server_lock = threading.Lock()
_server_started = False


def start_fork_server() -> None:
    """Start the fork server of the worker processes unless it runs, so that it imports
    modules from where the daemon imports them and never from the working directory.

    The fork server is a new interpreter (``python -c``): Python would put the working
    directory first on its module path, and Python 3.11 does not give it the daemon's path,
    so a stray ``json.py`` or ``monitor.py`` in the directory the daemon was started from
    would be imported by the fork server and inherited by every worker. It is started with
    ``PYTHONSAFEPATH`` (the working directory stays off) and ``PYTHONPATH`` set to the
    daemon's absolute module path; both are set only for that moment, once per process (if
    the fork server dies, multiprocessing restarts it with the daemon's plain environment).
    Raises what starting it raises (OSError for a socket path that is too long).
    """
    global _server_started
    with _server_lock:
        if _server_started:
            return
        saved = {name: os.environ.get(name) for name in ("PYTHONSAFEPATH", "PYTHONPATH")}
        os.environ["PYTHONSAFEPATH"] = "1"
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if os.path.isabs(p))
        try:
            forkserver.ensure_running()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        _server_started = True


def _start_failure(exc: BaseException) -> WorkerPoolError:
    """Why worker processes cannot start, in words that say what to change."""
    advice = "or run with --workers 0 (parsing in a thread, without the workers' memory and time limits)"
    if isinstance(exc, OSError) and "AF_UNIX path too long" in str(exc):
        folder = mp_util.get_temp_dir()
        socket_path = os.path.join(folder, "listener-XXXXXXXX")
        named = next((f"{v}={os.environ[v]}" for v in _TEMP_VARIABLES if os.environ.get(v)), None)
        temp = tempfile.gettempdir()
        where = f"the temporary directory {named or temp} ({len(os.fsencode(temp))} bytes)"
        return WorkerPoolError(
            "parser worker processes cannot start: the fork server's socket path "
            f"{socket_path} is {len(os.fsencode(socket_path))} bytes, over the {UNIX_PATH_MAX} "
            f"bytes a Unix socket path may have, because {where} is too long; "
            f"point {'TMPDIR' if named is None else named.partition('=')[0]} at a shorter directory "
            f"such as /tmp, {advice}"
        )
    return WorkerPoolError(f"parser worker processes cannot start: {type(exc).__name__}: {exc}; {advice}")


def _portable_error(exc: BaseException) -> MonitorError:
    """What to send back: a MonitorError as it is (if it survives pickling), anything else as ParseError."""
    if isinstance(exc, MonitorError):
        try:
            copy = pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes, just made
        except Exception:  # a subclass with a custom __init__ may not round-trip
            copy = None
        if isinstance(copy, MonitorError):
            return copy
        return ParseError(str(exc)[:_MAX_MESSAGE])
    return ParseError(f"{type(exc).__name__}: {str(exc)[:_MAX_MESSAGE]}")


def _worker_main(conn: Connection, memory_limit_mb: int) -> None:
    """Body of a worker process: run tasks from ``conn`` until told to stop or the pipe closes."""
    # the daemon handles Ctrl-C and SIGTERM and then closes the pool; workers must not die first
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    limit = memory_limit_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        out_of_memory = False
        try:
            fn, args = message
            reply: tuple[str, Any] = ("ok", fn(*args))
        except MemoryError:
            reply, out_of_memory = ("oom", None), True
        except BaseException as exc:  # every failure of the task goes back to the caller
            reply = ("error", _portable_error(exc))
        del message
        try:
            conn.send(reply)
        except MemoryError:
            os._exit(3)  # the parent sees the pipe close and reports a crash
        except Exception as exc:  # the result did not pickle
            conn.send(
                ("error", ParseError(f"task result could not be returned: {type(exc).__name__}: {exc}"))
            )
        if out_of_memory:
            return  # the heap may be fragmented or half-freed; the parent starts a fresh worker


@dataclass(eq=False, slots=True)
class _Worker:
    process: BaseProcess
    conn: Connection
    tasks: int = 0

    def roundtrip(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, Any]:
        """Send one task and wait for its reply (runs in a thread). EOFError/OSError: the worker died."""
        try:
            payload = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # nothing was sent; the worker is fine
            return "error", ParseError(f"task could not be sent to a worker: {type(exc).__name__}: {exc}")
        self.conn.send_bytes(payload)
        data = self.conn.recv_bytes()
        try:
            # a worker runs as the same user with no sandbox, so its pickles are no less trusted than it is
            reply: tuple[str, Any] = pickle.loads(data)  # noqa: S301
        except Exception as exc:  # unpickling can raise any type the reply names
            return "error", ParseError(f"task result could not be read: {type(exc).__name__}: {exc}")
        return reply

    def stop(self) -> None:
        """Ask the worker to exit after its current task and wait for it (killing it after 2 s)."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.reap(2.0)

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()

    def reap(self, timeout: float = 2.0) -> None:
        """Wait for the process to end (killing it if it does not) and release the pipe."""
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.kill()
            self.process.join(timeout)
        with contextlib.suppress(OSError):
            self.conn.close()

    def describe_death(self) -> str:
        self.process.join(1.0)
        code = self.process.exitcode
        if code is None:
            return "worker stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"worker crashed ({name})"
        return f"worker crashed (exit code {code})"


class WorkerPool:
    """Run functions on untrusted input in bounded worker processes (see the module docstring)."""

    def __init__(
        self,
        processes: int = 2,
        *,
        memory_limit_mb: int = 1024,
        task_timeout: float = 30.0,
        max_tasks_per_child: int = 200,
        preload: Sequence[str] = DEFAULT_PRELOAD,
    ) -> None:
        """``processes`` workers (0: run in a thread), each limited to ``memory_limit_mb`` of address
        space and ``task_timeout`` seconds per task, replaced after ``max_tasks_per_child`` tasks.
        ``preload`` names modules the fork server imports once so new workers start warm."""
        if processes < 0:
            raise ValueError("processes must be >= 0")
        self.processes = processes
        self.memory_limit_mb = memory_limit_mb
        self.task_timeout = task_timeout
        self.max_tasks_per_child = max(1, max_tasks_per_child)
        self._ctx = multiprocessing.get_context("forkserver")
        if processes and preload:
            self._ctx.set_forkserver_preload(list(preload))
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, processes) * 2, thread_name_prefix="worker-pool"
        )
        self._slots: asyncio.Queue[_Worker | None] | None = None
        self._workers: set[_Worker] = set()
        self._busy: set[_Worker] = set()
        self._closed = False

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """Run ``fn(*args)`` in a worker and return its result.

        ``timeout`` defaults to ``task_timeout``. Raises ParseError("worker timed out after Ns"),
        ParseError("worker ran out of memory"), ParseError("worker crashed (...)"); re-raises
        MonitorError subclasses raised by ``fn``; any other exception of ``fn`` becomes a
        ParseError naming its type and message. RuntimeError after :meth:`close`.
        """
        if self._closed:
            raise RuntimeError("worker pool is closed")
        limit = self.task_timeout if timeout is None else timeout
        if self.processes == 0:
            return await self._run_in_thread(fn, args, limit)
        slots = self._free_slots()
        worker = await slots.get()
        keep: _Worker | None = None
        try:
            worker = await self._ready(worker)
            status, value = await self._roundtrip(worker, fn, args, limit)
            worker.tasks += 1
            if status == "oom":
                self._retire(worker)
                raise ParseError("worker ran out of memory")
            if worker.tasks >= self.max_tasks_per_child:
                self._retire(worker)
            else:
                keep = worker
            if status == "ok":
                return value  # type: ignore[no-any-return]
            if isinstance(value, MonitorError):
                raise value
            raise ParseError(str(value))
        finally:
            slots.put_nowait(keep)

    async def start(self) -> None:
        """Start the fork server and one worker now (nothing with ``processes=0``).

        Without it they start at the first task; the daemon calls it at start-up, so that a
        pool that cannot run stops the daemon with one clear error before anything is
        polled. Raises WorkerPoolError saying why (a socket path too long for the system
        names the directory to change) and what to do. RuntimeError after :meth:`close`.
        """
        if self._closed:
            raise RuntimeError("worker pool is closed")
        if self.processes == 0:
            return
        slots = self._free_slots()
        worker = await slots.get()
        try:
            worker = await self._ready(worker)
        finally:
            slots.put_nowait(worker)

    def _free_slots(self) -> asyncio.Queue[_Worker | None]:
        """The queue of free slots (made on first use, in the running loop): one per process,
        holding its idle worker or None when it has none yet."""
        if self._slots is None:
            self._slots = asyncio.Queue()
            for _ in range(self.processes):
                self._slots.put_nowait(None)
        return self._slots

    async def _ready(self, worker: _Worker | None) -> _Worker:
        """``worker`` if it is alive, else a newly started one (``None``: a free slot with no worker)."""
        if worker is not None and worker.process.exitcode is not None:
            # died while idle (e.g. the kernel's OOM killer); release it and start afresh
            self._workers.discard(worker)
            worker.reap(0)
            worker = None
        if worker is None:
            worker = await asyncio.get_running_loop().run_in_executor(self._executor, self._start)
        return worker

    async def _roundtrip(
        self, worker: _Worker, fn: Callable[..., Any], args: tuple[Any, ...], limit: float
    ) -> tuple[str, Any]:
        """Send one task to ``worker`` and await the reply, killing the worker on timeout or cancellation."""
        job = self._executor.submit(worker.roundtrip, fn, args)
        self._busy.add(worker)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job), limit)
        except TimeoutError:
            self._kill(worker, job)
            raise ParseError(f"worker timed out after {limit:g}s") from None
        except asyncio.CancelledError:
            self._kill(worker, job)
            raise
        except (EOFError, OSError):
            self._workers.discard(worker)
            if self._closed:
                worker.reap(0.5)
                raise ParseError("worker pool closed while the task ran") from None
            reason = await asyncio.get_running_loop().run_in_executor(self._executor, worker.describe_death)
            worker.reap(0.1)
            raise ParseError(reason) from None
        finally:
            self._busy.discard(worker)

    async def _run_in_thread(self, fn: Callable[..., T], args: tuple[Any, ...], limit: float) -> T:
        try:
            return await asyncio.wait_for(asyncio.to_thread(fn, *args), limit)
        except TimeoutError:
            raise ParseError(f"worker timed out after {limit:g}s (the thread runs on: processes=0)") from None
        except MonitorError:
            raise
        except MemoryError:
            raise ParseError("worker ran out of memory") from None
        except Exception as exc:  # the parsers (feedparser, lxml, trafilatura) raise arbitrary types
            raise _portable_error(exc) from None

    def _start(self) -> _Worker:
        """Start one worker (in a thread of the pool). Raises WorkerPoolError."""
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_main, args=(child, self.memory_limit_mb), daemon=True)
        try:
            start_fork_server()
            process.start()
        except Exception as exc:  # multiprocessing fails in many ways (socket, fork, a dead fork server)
            parent.close()
            child.close()
            raise _start_failure(exc) from exc
        child.close()  # so that the parent sees EOF when the worker dies
        worker = _Worker(process, parent)
        self._workers.add(worker)
        return worker

    def _kill(self, worker: _Worker, job: Future[Any]) -> None:
        """Kill a busy worker; its pipe is closed once the thread reading it has seen EOF."""
        self._workers.discard(worker)
        worker.kill()
        job.add_done_callback(lambda _: worker.reap(1.0))

    def _retire(self, worker: _Worker) -> None:
        """Ask an idle worker to exit and reap it in the background."""
        self._workers.discard(worker)
        self._executor.submit(worker.stop)

    async def close(self) -> None:
        """Stop every worker (busy ones are killed; their tasks fail with ParseError) and release the threads.

        Idempotent; :meth:`run` raises RuntimeError afterwards.
        """
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        workers = list(self._workers)
        self._workers.clear()
        for worker in workers:
            if worker in self._busy:
                worker.kill()
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, w.stop) for w in workers if w not in self._busy)
        )
        self._executor.shutdown(wait=False)
