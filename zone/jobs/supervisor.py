"""Supervision of one worker process: relay its events, enforce its limits, reap it.

One ``Supervisor`` thread per running job. It takes a worker (from the executor's pool,
``zone.jobs.pool``: started ahead of time, or now), hands it the job and lives until the process
is reaped. The pool's launcher thread, not this one, started the process, so the worker's
parent-death signal does not depend on this thread.

Limits:
* wall time, from the moment the job is handed to its worker (which may still be importing its
  preload modules): SIGKILL, then ``error`` "wall-time limit exceeded";
* memory: the worker's resident set size, read from ``/proc/<pid>/status`` (``VmRSS``) every
  ``poll_s``: SIGKILL, then ``error`` "memory limit exceeded". RSS polling, not
  ``RLIMIT_AS``: an address-space limit breaks ``import torch`` (it reserves far more virtual
  memory than it uses). Polling can miss a spike shorter than ``poll_s``, and counts the
  worker only, not processes it starts itself.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnProcess

from zone.jobs.events import (
    MAX_EVENT_BYTES,
    STARTED,
    WORKER_TERMINAL_EVENTS,
    Event,
    OnEvent,
    error_event,
    is_worker_event,
)
from zone.jobs.pool import Worker
from zone.jobs.worker import encode_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerLimits:
    """How long and how large a worker may grow, and how it is stopped."""

    wall_time_s: float
    memory_bytes: int
    poll_s: float
    term_grace_s: float = 1.0
    exit_grace_s: float = 5.0


@dataclass(eq=False)
class JobHandle:
    """One submitted job, shared by the executor and its supervisor thread."""

    job_id: str
    target: str
    payload: str
    on_event: OnEvent
    terminal: Event | None = None
    stop: bool = False
    thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def decide(self, event: Event) -> bool:
        """Make ``event`` the job's terminal event unless one is decided; True if it was."""
        with self._lock:
            if self.terminal is not None:
                return False
            self.terminal = event
            return True

    def request_stop(self, event: Event) -> bool:
        """Decide ``event`` (if nothing is decided) and ask the supervisor to stop the worker."""
        decided = self.decide(event)
        self.stop = True
        return decided


def read_rss(pid: int) -> int | None:
    """The resident set size of process ``pid`` in bytes, or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None  # a zombie has no VmRSS line


class Supervisor:
    """Runs one job's worker process from start to reaping (the thread's target)."""

    def __init__(
        self,
        handle: JobHandle,
        limits: WorkerLimits,
        take: Callable[[], Worker],
        post: Callable[[JobHandle, Event], None],
        done: Callable[[JobHandle, int | None], None],
    ) -> None:
        self._handle = handle
        self._limits = limits
        self._take = take
        self._post = post
        self._done = done

    def run(self) -> None:
        """Start, watch and reap the worker; then report its exit code (None: never started)."""
        exit_code: int | None = None
        try:
            if not self._handle.stop:
                exit_code = self._run_process()
        except Exception:
            log.exception("supervising job %s failed", self._handle.job_id)
            self._handle.decide(error_event("the worker could not be supervised"))
        finally:
            self._done(self._handle, exit_code)

    def _run_process(self) -> int | None:
        try:
            worker = self._take()
        except Exception:
            log.exception("starting the worker of job %s failed", self._handle.job_id)
            self._handle.decide(error_event("the worker could not be started"))
            return None
        process, reader = worker.process, worker.events
        try:
            worker.assign(encode_job(self._handle.target, self._handle.payload))
            self._post(self._handle, {"event": STARTED})
            self._watch(process, reader)
            return process.exitcode
        finally:
            _reap(process)
            if not reader.closed:
                self._drain(reader)  # what the worker wrote before it died still counts
            reader.close()
            process.close()

    def _watch(self, process: SpawnProcess, reader: Connection) -> None:
        limits = self._limits
        deadline = time.monotonic() + limits.wall_time_s
        exit_by: float | None = None  # after a terminal event, the worker must exit soon
        while True:
            now = time.monotonic()
            if self._handle.stop:
                _terminate(process, limits.term_grace_s)
                return
            if now >= deadline:
                self._kill(process, "wall-time limit exceeded")
                return
            if exit_by is not None and now >= exit_by:
                self._kill(process, "")
                return
            rss = read_rss(_pid(process))
            if rss is not None and rss > limits.memory_bytes:
                self._kill(process, "memory limit exceeded")
                return
            waiting: list[Connection | int] = [process.sentinel]
            if not reader.closed:
                waiting.append(reader)
            ready = wait(waiting, timeout=min(limits.poll_s, deadline - now))
            if reader in ready and self._drain(reader) and exit_by is None:
                exit_by = time.monotonic() + limits.exit_grace_s
            if process.sentinel in ready:
                process.join()
                return

    def _drain(self, reader: Connection) -> bool:
        """Relay every event waiting in the pipe; True once the worker's outcome is decided."""
        decided = False
        while not reader.closed and reader.poll(0):
            try:
                data = reader.recv_bytes(MAX_EVENT_BYTES)
            except EOFError:
                reader.close()
                break
            except OSError:  # oversized or cut short: the stream cannot be resynchronized
                reader.close()
                self._handle.request_stop(error_event("the worker sent an unreadable event"))
                break
            decided = self._relay(data) or decided
        return decided

    def _relay(self, data: bytes) -> bool:
        try:
            event = json.loads(data)
        except ValueError:
            event = None
        if not is_worker_event(event):
            log.warning("job %s: dropped a malformed worker event", self._handle.job_id)
            return False
        if event["event"] in WORKER_TERMINAL_EVENTS:
            if event["event"] != "result":
                event = error_event(str(event.get("reason", "")) or "the worker failed")
            self._handle.decide(event)
            return True
        self._post(self._handle, event)
        return False

    def _kill(self, process: SpawnProcess, reason: str) -> None:
        if reason:
            self._handle.decide(error_event(reason))
        process.kill()
        process.join()


def _terminate(process: SpawnProcess, grace_s: float) -> None:
    """SIGTERM, then SIGKILL if the process is still alive after ``grace_s``."""
    process.terminate()
    process.join(grace_s)
    if process.exitcode is None:
        process.kill()
        process.join()


def _reap(process: SpawnProcess) -> None:
    """Make sure a started process is dead and reaped (no zombie is left behind)."""
    if process.pid is None:
        return
    if process.exitcode is None:
        process.kill()
        process.join()


def _pid(process: SpawnProcess) -> int:
    pid = process.pid
    if pid is None:
        raise RuntimeError("the worker process has no pid")
    return pid
