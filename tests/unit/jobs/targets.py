"""Tiny job targets run by the executor tests in spawned worker processes.

The parent never imports this module: workers import it by name ("unit.jobs.targets:..."),
through the sys.path that spawn copies from the parent (pytest puts tests/ on it).
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

from zone.jobs import Emit


def _tell_pid(emit: Emit) -> None:
    emit({"event": "pid", "pid": os.getpid()})


def train(payload: str, emit: Emit) -> None:
    spec: dict[str, Any] = json.loads(payload)
    _tell_pid(emit)
    emit({"event": "touched"})
    for epoch in range(1, spec["epochs"] + 1):
        emit({"event": "progress", "epoch": epoch, "epsilon_spent": 0.1 * epoch})
    emit({"event": "result", "weights": [1.5, -2.0], "echo": spec})


def fail(payload: str, emit: Emit) -> None:
    _tell_pid(emit)
    raise ValueError("bad input " + "x" * 500)


def sleep_forever(payload: str, emit: Emit) -> None:
    _tell_pid(emit)
    emit({"event": "touched"})
    while True:
        time.sleep(1)


def ignore_sigterm(payload: str, emit: Emit) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sleep_forever(payload, emit)


def allocate(payload: str, emit: Emit) -> None:
    _tell_pid(emit)
    block = b"\x01" * int(payload)  # written, so every page is resident
    emit({"event": "allocated", "size": len(block)})
    time.sleep(60)


def crash(payload: str, emit: Emit) -> None:
    _tell_pid(emit)
    os._exit(3)


def no_result(payload: str, emit: Emit) -> None:
    _tell_pid(emit)


def report_error(payload: str, emit: Emit) -> None:
    emit({"event": "error", "reason": "dataset too small to learn privately"})


def result_then_more(payload: str, emit: Emit) -> None:
    emit({"event": "result", "value": 1})
    emit({"event": "progress", "epoch": 9})  # refused in the worker: the outcome is reported


def reserved_name(payload: str, emit: Emit) -> None:
    emit({"event": "cancelled"})


def result_then_linger(payload: str, emit: Emit) -> None:
    emit({"event": "result", "value": 2})
    time.sleep(60)  # the executor kills a worker that does not exit after its result


def report_process(payload: str, emit: Emit) -> None:
    """Which process runs the job, what it had imported, and what earlier jobs left there."""
    import sys

    preloaded = sys.modules.get("unit.jobs.preloaded")
    SEEN.append(payload)
    emit({"event": "pid", "pid": os.getpid()})
    emit(
        {
            "event": "result",
            "preloaded": preloaded is not None,
            "warmed": getattr(preloaded, "WARMED", False),
            "seen": list(SEEN),
        }
    )


SEEN: list[str] = []
"""Payloads this process has run (a job that leaked into the next would show here)."""
