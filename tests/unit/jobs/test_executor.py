from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from unit.jobs.eventlog import EventLog, check_protocol

from zone.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from zone.jobs import Executor, LocalProcessExecutor

T = "unit.jobs.targets:"


@pytest.fixture
def log() -> EventLog:
    return EventLog()


@pytest.fixture
def executor() -> Iterator[LocalProcessExecutor]:
    ex = LocalProcessExecutor(max_concurrent=2, wall_time_s=30, poll_s=0.05)
    yield ex
    ex.shutdown(grace=0)
    assert multiprocessing.active_children() == []


def gone(pid: int) -> bool:
    """The process is reaped: not even a zombie is left in /proc."""
    return not Path(f"/proc/{pid}").exists()


def test_runs_jobs_through_the_executor_interface_alone(
    executor: LocalProcessExecutor, log: EventLog
) -> None:
    contract: Executor = executor  # what the job service sees: start, cancel, active, shutdown
    contract.start("run", T + "train", json.dumps({"epochs": 2}), log)
    contract.start("stop", T + "sleep_forever", "", log)
    assert contract.active() == {"run", "stop"}
    assert check_protocol(log.wait_terminal("run")) == {
        "event": "result",
        "weights": [1.5, -2.0],
        "echo": {"epochs": 2},
    }
    log.wait_for("stop", "touched")
    assert contract.active() == {"stop"}
    assert contract.cancel("stop") is True
    assert check_protocol(log.wait_terminal("stop")) == {"event": "cancelled"}
    assert contract.active() == set()
    assert contract.cancel("run") is False  # its outcome is decided
    contract.shutdown(grace=0)
    with pytest.raises(FailedPrecondition):
        contract.start("late", T + "train", "{}", log)


def test_result_follows_every_worker_event_in_order(
    executor: LocalProcessExecutor, log: EventLog
) -> None:
    executor.start("j1", T + "train", json.dumps({"epochs": 3}), log)
    terminal = check_protocol(log.wait_terminal("j1"))
    assert terminal == {"event": "result", "weights": [1.5, -2.0], "echo": {"epochs": 3}}
    names = log.names("j1")
    assert names == ["started", "pid", "touched", "progress", "progress", "progress",
                     "exited", "result"]  # fmt: skip
    assert [e["epoch"] for e in log.events["j1"] if e["event"] == "progress"] == [1, 2, 3]
    assert log.events["j1"][-2] == {"event": "exited", "exit_code": 0}
    assert gone(log.pids("j1")[0])
    assert "unit.jobs.targets" not in sys.modules  # the parent never imports a target
    assert log.threads == {"zone-job-events"}  # one dispatcher thread delivers everything


def test_a_raising_target_reports_a_short_public_reason(
    executor: LocalProcessExecutor, log: EventLog, capfd: pytest.CaptureFixture[str]
) -> None:
    executor.start("j1", T + "fail", "", log)
    terminal = check_protocol(log.wait_terminal("j1"))
    assert terminal["event"] == "error"
    assert terminal["reason"].startswith("ValueError: bad input xxx")
    assert len(terminal["reason"]) == 200
    assert log.events["j1"][-2] == {"event": "exited", "exit_code": 1}
    assert "Traceback" in capfd.readouterr().err  # the full traceback stays in the log


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("crash", "worker exited with code 3"),
        ("no_result", "the worker exited without a result"),
        ("report_error", "dataset too small to learn privately"),
        ("reserved_name", "ValueError: event 'cancelled' is reserved: the executor reports"),
        ("missing_function", "AttributeError: module 'unit.jobs.targets' has no attribute"),
    ],
)
def test_failures_end_with_one_error(
    executor: LocalProcessExecutor,
    log: EventLog,
    capfd: pytest.CaptureFixture[str],
    target: str,
    reason: str,
) -> None:
    executor.start("j1", T + target, "", log)
    terminal = check_protocol(log.wait_terminal("j1"))
    assert terminal["event"] == "error" and terminal["reason"].startswith(reason)
    capfd.readouterr()


def test_events_after_the_result_are_refused_in_the_worker(
    executor: LocalProcessExecutor, log: EventLog, capfd: pytest.CaptureFixture[str]
) -> None:
    executor.start("j1", T + "result_then_more", "", log)
    assert check_protocol(log.wait_terminal("j1")) == {"event": "result", "value": 1}
    assert log.names("j1") == ["started", "exited", "result"]
    assert "already" in capfd.readouterr().err


def test_wall_time_limit_kills_the_worker() -> None:
    log = EventLog()
    ex = LocalProcessExecutor(wall_time_s=1.0, poll_s=0.05)
    try:
        started = time.monotonic()
        ex.start("j1", T + "sleep_forever", "", log)
        terminal = check_protocol(log.wait_terminal("j1"))
        assert terminal == {"event": "error", "reason": "wall-time limit exceeded"}
        assert 1.0 <= time.monotonic() - started < 10
        assert log.events["j1"][-2] == {"event": "exited", "exit_code": -9}
        assert all(gone(pid) for pid in log.pids("j1"))  # a slow start may not have told it
    finally:
        ex.shutdown(grace=0)


def test_memory_limit_kills_the_worker() -> None:
    log = EventLog()
    ex = LocalProcessExecutor(memory_bytes=200 << 20, poll_s=0.05)
    try:
        ex.start("j1", T + "allocate", str(400 << 20), log)
        terminal = check_protocol(log.wait_terminal("j1"))
        assert terminal == {"event": "error", "reason": "memory limit exceeded"}
        assert log.events["j1"][-2] == {"event": "exited", "exit_code": -9}
    finally:
        ex.shutdown(grace=0)


def test_a_worker_that_lingers_after_its_result_is_killed_and_keeps_its_result() -> None:
    log = EventLog()
    ex = LocalProcessExecutor(poll_s=0.05, exit_grace_s=0.3)
    try:
        ex.start("j1", T + "result_then_linger", "", log)
        assert check_protocol(log.wait_terminal("j1")) == {"event": "result", "value": 2}
        assert log.events["j1"][-2] == {"event": "exited", "exit_code": -9}
    finally:
        ex.shutdown(grace=0)


def test_cancel_running_and_queued_jobs_fifo() -> None:
    log = EventLog()
    ex = LocalProcessExecutor(max_concurrent=1, poll_s=0.05)
    try:
        ex.start("a", T + "sleep_forever", "", log)
        ex.start("b", T + "train", json.dumps({"epochs": 1}), log)
        ex.start("c", T + "train", json.dumps({"epochs": 2}), log)
        log.wait_for("a", "touched")
        assert ex.active() == {"a", "b", "c"}
        assert log.names("b") == [] and log.names("c") == []  # waiting: not started

        assert ex.cancel("b") is True
        assert check_protocol(log.wait_terminal("b")) == {"event": "cancelled"}
        assert log.names("b") == ["cancelled"]
        assert log.names("c") == []

        assert ex.cancel("a") is True
        assert check_protocol(log.wait_terminal("a")) == {"event": "cancelled"}
        assert log.events["a"][-2] == {"event": "exited", "exit_code": -15}
        assert "touched" in log.names("a")  # what the worker did before dying is delivered

        assert check_protocol(log.wait_terminal("c"))["event"] == "result"  # the slot freed
        assert ex.cancel("a") is False and ex.cancel("c") is False and ex.cancel("zz") is False
        assert ex.active() == set()
        assert all(gone(pid) for job in "ac" for pid in log.pids(job))
    finally:
        ex.shutdown(grace=0)


def test_cancel_kills_a_worker_that_ignores_sigterm(
    executor: LocalProcessExecutor, log: EventLog
) -> None:
    executor.start("j1", T + "ignore_sigterm", "", log)
    log.wait_for("j1", "touched")
    assert executor.cancel("j1") is True
    assert check_protocol(log.wait_terminal("j1")) == {"event": "cancelled"}
    assert log.events["j1"][-2] == {"event": "exited", "exit_code": -9}


def test_shutdown_stops_everything_and_leaves_no_process() -> None:
    log = EventLog()
    ex = LocalProcessExecutor(max_concurrent=1, poll_s=0.05)
    ex.start("run", T + "sleep_forever", "", log)
    ex.start("wait", T + "train", json.dumps({"epochs": 1}), log)
    log.wait_for("run", "touched")
    ex.shutdown(grace=0.2)
    assert check_protocol(log.events["run"]) == {
        "event": "error",
        "reason": "the executor shut down while the job ran",
    }
    assert check_protocol(log.events["wait"]) == {
        "event": "error",
        "reason": "the executor shut down before the job started",
    }
    assert gone(log.pids("run")[0])
    assert multiprocessing.active_children() == []
    with pytest.raises(FailedPrecondition):
        ex.start("late", T + "train", "{}", log)
    ex.shutdown(grace=0)  # idempotent


def test_start_refuses_bad_targets_and_duplicate_ids(
    executor: LocalProcessExecutor, log: EventLog
) -> None:
    for bad in ["os.system", "os:system; rm", ":f", "m:", "a b:c", "m:f.g"]:
        with pytest.raises(InvalidArgument):
            executor.start("j1", bad, "", log)
    executor.start("j1", T + "sleep_forever", "", log)
    with pytest.raises(AlreadyExists):
        executor.start("j1", T + "sleep_forever", "", log)
    assert executor.cancel("j1")
    check_protocol(log.wait_terminal("j1"))


def test_a_failing_callback_does_not_stop_delivery(
    executor: LocalProcessExecutor, log: EventLog, caplog: pytest.LogCaptureFixture
) -> None:
    def flaky(job_id: str, event: dict[str, object]) -> None:
        log(job_id, event)
        if event["event"] == "started":
            raise RuntimeError("consumer bug")

    executor.start("j1", T + "train", json.dumps({"epochs": 1}), flaky)
    assert check_protocol(log.wait_terminal("j1"))["event"] == "result"
    assert "on_event failed" in caplog.text


def test_importing_zone_jobs_imports_neither_torch_nor_grpc() -> None:
    code = "import sys, zone.jobs; print(sorted({'torch', 'grpc'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.strip() == "[]"
