"""Worker processes under OS limits: the backstop for scripts that run long or big.

The sandbox's own limits (``runtime.sandbox.limits``) stop almost everything a script
can do, but they are checked by the interpreter that runs the script: a C call the
guards do not know, or limits set generously for a nightly job, can still hold a
process for minutes or grow it by gigabytes. Work that is allowed to be heavy, so
scheduled scripts and the chunks of batch runs, therefore runs in a separate process:

- started with ``spawn`` (no inherited locks or connections) and building its own Loom
  on the same database and file store;
- its address space capped with ``RLIMIT_AS`` (``LOOM_JOB_MEMORY_MB``), so an
  allocation past it fails inside the job as ``MemoryError``;
- each call's CPU time capped with ``RLIMIT_CPU``: past it the kernel ends the process;
- each call's wall time watched by the caller, which kills the process (SIGKILL, not a
  polite request) when it overruns, and starts a fresh one for the next call.

A killed call committed nothing: its work runs in one transaction in the worker, and
the caller records the outcome. Record hooks, conditions and expressions stay in the
request's own process: they are small by design, run thousands of times a minute, and
a round trip to another process would cost more than the hook. See
docs/decisions/0021-sandbox-limits-that-hold.md.
"""
from __future__ import annotations

import multiprocessing
import os
import queue
import resource
import signal
import threading
from dataclasses import dataclass, field

from runtime.errors import LoomError

#: seconds a new worker may take to build its Loom before it is given up on
START_TIMEOUT = 120.0
#: seconds of wall time, beyond a call's own budget, for the worker's bookkeeping
GRACE = 5.0


class Overrun(LoomError):
    """A call ran past its OS limit and its process was ended; nothing it did was kept."""

    status, title = 503, "Stopped by a process limit"

    def __init__(self, detail: str, guard: str):
        super().__init__(detail, guard=guard)
        self.guard = guard


@dataclass(frozen=True)
class PoolConfig:
    """What a worker needs to build the same Loom (plain values: they cross to a new process)."""

    database_url: str
    files_dir: str | None = None
    redis_url: str | None = None
    smtp_url: str | None = None
    base_url: str | None = None
    audit_key: str | None = None
    disabled_plugins: tuple[str, ...] = ()
    memory_mb: int = field(default_factory=lambda: int(os.environ.get("LOOM_JOB_MEMORY_MB", "2048")))
    size: int = field(default_factory=lambda: int(os.environ.get("LOOM_JOB_PROCESSES", "2")))
    #: the site's ceiling of wall and CPU seconds per call, whatever an app's limits ask for
    max_seconds: float = field(default_factory=lambda: float(os.environ.get("LOOM_JOB_MAX_SECONDS", "600")))
    #: wall seconds beyond a call's budget before it is killed (CPU time is not wall time on a busy box)
    grace: float = GRACE


# ---------------------------------------------------------------------- the calls a worker serves
def _run_scheduled(loom, app: str, ref: str, limits: dict | None):
    return loom.hooks.run_scheduled(app, ref, limits=limits)


def _batch_chunk(loom, run_id: int) -> str:
    return loom.batches.chunk(run_id)


CALLS = {"run_scheduled": _run_scheduled, "batch_chunk": _batch_chunk}


# ---------------------------------------------------------------------- caller side
class ProcessPool:
    """Up to ``size`` worker processes, started on first use and kept for the next call."""

    def __init__(self, config: PoolConfig):
        self.config = config
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(config.size)
        self._pid = os.getpid()

    def call(self, name: str, *args, seconds: float):
        """Run ``CALLS[name](loom, *args)`` in a worker; allow ``seconds`` of wall and CPU time
        (at most the site's ``max_seconds``)."""
        seconds = min(seconds, self.config.max_seconds)
        if name not in CALLS:
            raise KeyError(f"no isolated call {name!r}; known: {', '.join(sorted(CALLS))}")
        with self._slots:
            worker = self._take()
            try:
                reply = worker.ask(name, args, seconds)
            except BaseException:
                worker.kill()  # a worker that overran, died or was interrupted is not reused
                raise
            self._idle.put(worker)
        if reply[0] == "error":
            raise LoomError(reply[1])
        return reply[1]

    def _take(self) -> _Worker:
        if self._pid != os.getpid():  # forked (a gunicorn worker of a preloading master): its workers are not ours
            self._idle, self._pid = queue.LifoQueue(), os.getpid()
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return _Worker(self.config)
            if worker.process.is_alive():
                return worker

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().stop()
            except queue.Empty:
                return


class _Worker:
    def __init__(self, config: PoolConfig):
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.grace = config.grace
        self.process = context.Process(target=_serve, args=(child, config), daemon=True, name="loom-job")
        self.process.start()
        child.close()
        if not self.conn.poll(START_TIMEOUT):
            self.kill()
            raise LoomError(f"a job process did not start within {START_TIMEOUT:.0f} s")
        ready = self._receive("starting")
        if ready[0] != "ready":
            self.kill()
            raise LoomError(f"a job process could not start: {ready[1]}")

    def ask(self, name: str, args: tuple, seconds: float):
        self.conn.send((name, args, seconds))
        if not self.conn.poll(seconds + self.grace):
            self.kill()
            raise Overrun(f"{name} ran longer than {seconds + self.grace:.0f} s and its process was killed", "time")
        return self._receive(name)

    def _receive(self, name: str):
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            code = self.process.exitcode
            if code == -signal.SIGXCPU:
                raise Overrun(f"{name} used up its CPU time and its process was ended", "cpu") from None
            raise Overrun(f"the process running {name} ended unexpectedly (exit code {code})", "process") from None

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        self.conn.close()  # the worker sees EOF and returns
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


# ---------------------------------------------------------------------- worker side
def _serve(conn, config: PoolConfig) -> None:
    _die_with_parent()
    try:
        _cap(resource.RLIMIT_AS, config.memory_mb * 2**20)
        loom = _build(config)
    except BaseException as exc:  # reported to the caller, who raises it
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready",))
    while True:
        try:
            name, args, seconds = conn.recv()
        except (EOFError, OSError):
            return
        used = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        _cap(resource.RLIMIT_CPU, int(used + seconds) + 1)  # past it the kernel sends SIGXCPU: the end
        try:
            loom.refresh_if_stale()
            conn.send(("ok", CALLS[name](loom, *args)))
        except BaseException as exc:  # noqa: BLE001 - the caller gets the message; the worker lives on
            conn.send(("error", getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"))


def _die_with_parent() -> None:
    """End with the process that started us: a worker SIGKILLed inside a job must not leave
    its job running on here and committing after all (Linux's PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the pipe's EOF still stops an idle worker
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before the call above
        os._exit(1)


def _build(config: PoolConfig):
    from runtime.extension import PluginHost

    from .loom import Loom
    loom = Loom(config.database_url, files_dir=config.files_dir, redis_url=config.redis_url, smtp_url=config.smtp_url,
                base_url=config.base_url, audit_key=config.audit_key,
                plugins=PluginHost(disabled=config.disabled_plugins))
    loom.load()
    return loom


def _cap(limit: int, soft: int) -> None:
    """Set the soft limit only: the hard one stays, so the next call may raise the soft one again."""
    _, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(limit, (soft, hard))
