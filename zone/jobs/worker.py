"""The worker side of ``LocalProcessExecutor``: what runs inside a spawned worker process.

The pool (``zone.jobs.pool``) starts :func:`serve_one` in a fresh interpreter (``spawn``). It
imports the pool's preload modules by name (so the parent never imports them, and the server
never imports torch), then waits for exactly one job on its job pipe: ``{"target":
"package.module:function", "payload": "..."}`` as JSON. It imports the target by name and calls
``function(payload, emit)``. ``emit`` sends each event to the parent as one JSON message over a
one-way pipe. If the target raises, the worker prints the traceback to its own stderr (the
server log) and emits ``{"event": "error", "reason": ...}`` with only the exception's type name
and message, cut to 200 characters, then exits with code 1. It never takes a second job.

This module imports nothing heavy: the worker pays only for its preload and its target.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from typing import Any, NoReturn

from zone.jobs.events import (
    EXECUTOR_EVENTS,
    MAX_EVENT_BYTES,
    WORKER_TERMINAL_EVENTS,
    error_event,
    is_worker_event,
)

_PR_SET_PDEATHSIG = 1


class Emitter:
    """The ``emit`` a target receives: validates an event and sends it to the parent."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.finished = False

    def __call__(self, event: Mapping[str, Any]) -> None:
        """Send one event to the parent.

        Args:
            event: A JSON object with an ``"event"`` name not reserved for the executor.

        Raises:
            RuntimeError: A terminal event (``result`` or ``error``) was sent already.
            ValueError: The event is malformed, not JSON or larger than ``MAX_EVENT_BYTES``.
            OSError: The parent has gone.
        """
        if self.finished:
            raise RuntimeError("the job has reported its outcome already")
        body = dict(event)
        if body.get("event") in EXECUTOR_EVENTS:
            raise ValueError(
                f"event {body['event']!r} is reserved: the executor reports "
                "started, exited and cancelled itself"
            )
        if not is_worker_event(body):
            raise ValueError("an event needs a non-empty string 'event' name")
        data = json.dumps(body, allow_nan=False, separators=(",", ":")).encode("utf-8")
        if len(data) > MAX_EVENT_BYTES:
            raise ValueError(f"an event must be at most {MAX_EVENT_BYTES} bytes")
        self._conn.send_bytes(data)
        if body["event"] in WORKER_TERMINAL_EVENTS:
            self.finished = True


def load_target(target: str) -> Callable[..., object]:
    """Import ``"module:function"`` and return the function.

    Raises:
        ImportError: The module cannot be imported.
        AttributeError: The module has no such function.
        TypeError: The attribute is not callable.
    """
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    if not callable(function):
        raise TypeError(f"{target} is not callable")
    return function  # type: ignore[no-any-return]


def short_reason(exc: BaseException) -> str:
    """The short reason sent to the parent: type name and message, at most 200 characters."""
    message = str(exc)
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return str(error_event(text)["reason"])


MAX_JOB_BYTES = 16 << 20
"""Largest encoded job a worker accepts."""


def encode_job(target: str, payload: str) -> bytes:
    """The message that hands a worker its job (what :func:`serve_one` reads)."""
    return json.dumps({"target": target, "payload": payload}).encode("utf-8")


def serve_one(
    preload: tuple[str, ...], jobs: Connection, events: Connection, parent_pid: int
) -> None:
    """Import ``preload``, wait for one job, run it, exit; the worker process's entry point.

    Args:
        preload: Modules to import before the job arrives, in order; a ``"module:function"``
            entry is imported and then called with no arguments (a warm-up, which must read
            no job data), unless the job has arrived already: a warm-up pays ahead for the
            job's first-use costs and costs more than they do. A failing entry is reported on
            stderr only: a target that needs it fails on its own.
        jobs: The read end of the job pipe; end of file (the pool closed) exits quietly.
        events: The write end of the event pipe.
        parent_pid: The process that started this one; if it is gone, exit at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a worker stops
    _die_with_parent(parent_pid)
    for entry in preload:
        module_name, _, function = entry.partition(":")
        try:
            module = importlib.import_module(module_name)
            if function and not jobs.poll():  # a job already waiting goes before a warm-up
                getattr(module, function)()
        except Exception:
            traceback.print_exc(file=sys.stderr)
    try:
        message = jobs.recv_bytes(MAX_JOB_BYTES)
    except (EOFError, OSError):
        _leave(0)
    finally:
        jobs.close()
    job = json.loads(message)
    run_worker(str(job["target"]), str(job["payload"]), events)


def run_worker(target: str, payload: str, conn: Connection) -> NoReturn:
    """Run one job's target in this process, then exit (0, or 1 if the target raised).

    Args:
        target: ``"module:function"``, called as ``function(payload, emit)``.
        payload: The job's input (text, usually JSON), passed as is.
        conn: The write end of the event pipe.
    """
    emit = Emitter(conn)
    failed = False
    try:
        load_target(target)(payload, emit)
    except BaseException as exc:  # any failure is reported, then exit 1
        failed = True
        traceback.print_exc(file=sys.stderr)
        if not emit.finished:
            with contextlib.suppress(OSError, ValueError):
                emit(error_event(short_reason(exc)))
    finally:
        conn.close()
    _leave(1 if failed else 0)


def _leave(code: int) -> NoReturn:
    """Exit without interpreter teardown.

    The events are in the pipe already, and unloading torch takes about 1.8 s that would
    otherwise delay every job's end (measured).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGKILL this worker when its supervising thread's process dies.

    Without it a worker outlives a server killed with SIGKILL and keeps computing on data.
    The signal follows the *thread* that started the process: the pool starts every worker
    from its launcher thread, which outlives them all (``zone.jobs.pool``). Best effort: not
    on other systems.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
