"""Worker processes for ``LocalProcessExecutor``: started ahead of time, each used for one job.

A worker is a fresh interpreter started with ``multiprocessing``'s ``spawn`` method (never a
fork of the server, which runs grpcio). It imports the pool's ``preload`` modules (names only:
the server never imports them; for training, ``zone.products.training.worker``, which brings
torch and opacus, and a warm-up on synthetic data), then waits on a pipe for one job; it runs
that job and exits. The pool keeps up to ``warm`` such workers idle. A job takes the oldest
idle one (or waits for the spare being started, or has one started). Replacements start when
the owner calls :meth:`WorkerPool.refill`: ``LocalProcessExecutor`` does so when a job ends and
whenever a job is waiting or a slot is free, but not while its slots are full with nobody
waiting, so that a lone job on a small machine does not share the CPU with its replacement's
start-up (several seconds of a core). With ``warm = 0`` a worker is started when a job needs it.

One job per process, so nothing of one job's data can reach another: a worker receives exactly
one job over its pipe (``zone.jobs.worker.serve_one`` reads once, then closes it) and exits
after it; what it did before the job (interpreter start, the preload imports) read no data.
A fork server would fork every job from one long-lived process instead, which shares
import-time state across jobs (for example a random generator seeded when its module was
imported) and forks a process that has torch loaded; a spawned worker shares nothing.

Workers die with the server: each sets ``PR_SET_PDEATHSIG`` (``zone.jobs.worker``), which Linux
fires when the *thread* that started the process ends. Every worker is therefore started by
the pool's one launcher thread, which lives until :meth:`WorkerPool.close`, called only after
every taken worker is reaped; if the server dies, the thread dies with it and so do all workers.

Cost: an idle worker with torch and opacus imported and warmed up holds about 470 MiB of
resident memory (measured, docs/ARCHITECTURE.md), and its start-up costs about 6-9 s of one
core on the reference machine, spent in the background.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess

from zone.errors import FailedPrecondition
from zone.jobs.worker import serve_one

log = logging.getLogger(__name__)

_SPARE = "spare"
"""A launcher request for an idle worker (a job's request is a ``Future``)."""


@dataclass(eq=False)
class Worker:
    """One started worker process and the two ends of its pipes held by the parent."""

    process: SpawnProcess
    jobs: Connection
    """Write end: the one job (JSON), sent by :meth:`assign`."""
    events: Connection
    """Read end: the worker's events."""

    def assign(self, job: bytes) -> None:
        """Send the worker its job without blocking the caller; then close the write end.

        A thread sends it: a job larger than the pipe's buffer would otherwise block until the
        worker finishes its imports. If the worker dies first the send fails quietly: its exit
        is what the supervisor reports.
        """
        threading.Thread(target=self._send, args=(job,), daemon=True).start()

    def _send(self, job: bytes) -> None:
        try:
            self.jobs.send_bytes(job)
        except OSError:
            pass
        finally:
            self.jobs.close()

    def discard(self) -> None:
        """Kill and reap an unused worker (it has no job, so nothing is lost)."""
        if self.process.exitcode is None:
            self.process.kill()
        self.process.join()
        for conn in (self.jobs, self.events):
            conn.close()
        self.process.close()


class WorkerPool:
    """Starts workers on one long-lived thread and keeps up to ``warm`` of them idle."""

    def __init__(self, *, warm: int, preload: Sequence[str]) -> None:
        """Start the launcher thread and the first ``warm`` workers.

        Args:
            warm: Idle workers to keep ready (0: start one when a job needs it).
            preload: What every worker imports (and calls) before it waits for its job.
        """
        self._ctx = multiprocessing.get_context("spawn")
        self._warm = warm
        self._preload = tuple(preload)
        self._cond = threading.Condition()
        self._idle: deque[Worker] = deque()
        self._pending = 0  # spares asked of the launcher, not yet idle
        self._closed = False
        self._requests: queue.SimpleQueue[Future[Worker] | str | None] = queue.SimpleQueue()
        self._launcher = threading.Thread(
            target=self._launch_loop, name="zone-job-launcher", daemon=True
        )
        self._launcher.start()
        self.refill()

    def take(self) -> Worker:
        """A worker for one job: the oldest idle one, the next spare being started, or a new one.

        Does not start a replacement: the owner calls :meth:`refill` when one may be needed.

        Raises:
            FailedPrecondition: The pool is closed.
            Exception: Starting a process failed (whatever ``Process.start`` raised).
        """
        dead: list[Worker] = []
        with self._cond:
            while True:
                if self._closed:
                    raise FailedPrecondition("the worker pool is closed")
                worker = self._idle.popleft() if self._idle else None
                if worker is not None and worker.process.is_alive():
                    break
                if worker is not None:
                    dead.append(worker)
                elif self._pending == 0:
                    break
                else:
                    self._cond.wait()  # a spare is being started: cheaper than a new one
        for gone in dead:
            log.warning("an idle job worker died (exit code %s)", gone.process.exitcode)
            gone.discard()
        if worker is not None:
            return worker
        future: Future[Worker] = Future()
        self._requests.put(future)
        return future.result()

    def refill(self) -> None:
        """Start spares (in the background) until ``warm`` are idle or being started."""
        with self._cond:
            while not self._closed and len(self._idle) + self._pending < self._warm:
                self._pending += 1
                self._requests.put(_SPARE)

    def idle_pids(self) -> list[int]:
        """The process ids of the idle workers, oldest first."""
        with self._cond:
            return [w.process.pid for w in self._idle if w.process.pid is not None]

    def close(self) -> None:
        """Kill the idle workers and stop the launcher (call after every taken one is reaped).

        Idempotent. Workers started after this are killed as soon as they exist.
        """
        with self._cond:
            self._closed = True
            idle = list(self._idle)
            self._idle.clear()
            self._cond.notify_all()
        for worker in idle:
            worker.discard()
        if self._launcher.is_alive():
            self._requests.put(None)
            self._launcher.join()

    def _launch_loop(self) -> None:
        """The launcher thread: start a worker per request, for a job or as a spare."""
        while (request := self._requests.get()) is not None:
            if request is _SPARE and self._closed:
                continue
            try:
                worker = self._start()
            except Exception as exc:
                log.exception("starting a job worker failed")
                if isinstance(request, Future):
                    request.set_exception(exc)
                else:
                    with self._cond:
                        self._pending -= 1
                        self._cond.notify_all()
                continue
            if isinstance(request, Future):
                request.set_result(worker)
            else:
                self._park(worker)

    def _park(self, worker: Worker) -> None:
        """A new spare joins the idle workers, or is discarded if the pool closed meanwhile."""
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()
            if not self._closed:
                self._idle.append(worker)
                return
        worker.discard()

    def _start(self) -> Worker:
        """Start one worker process (on the launcher thread: see the module docstring)."""
        job_reader, job_writer = self._ctx.Pipe(duplex=False)
        event_reader, event_writer = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=serve_one,
            args=(self._preload, job_reader, event_writer, os.getpid()),
            name="zone-job-worker",
            daemon=True,  # terminated by multiprocessing if the server exits without close()
        )
        try:
            process.start()
        except BaseException:
            job_writer.close()
            event_reader.close()
            raise
        finally:  # the child holds its own ends now
            job_reader.close()
            event_writer.close()
        return Worker(process, job_writer, event_reader)
