"""The executor's warm worker pool: pre-started, one job per process, replaced, never orphaned."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from unit.jobs.eventlog import EventLog, check_protocol

from zone.errors import InvalidArgument
from zone.jobs import Event, LocalProcessExecutor

T = "unit.jobs.targets:"
PRELOAD = ("unit.jobs.preloaded", "unit.jobs.preloaded:warm")
TESTS = Path(__file__).resolve().parents[2]


def dead(pid: int) -> bool:
    """The process no longer runs: reaped, or a zombie nobody has reaped yet."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" in status


def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


@pytest.fixture
def warm() -> Iterator[LocalProcessExecutor]:
    ex = LocalProcessExecutor(poll_s=0.05, warm_workers=1, preload=PRELOAD)
    yield ex
    ex.shutdown(grace=0)
    assert multiprocessing.active_children() == []


def idle_pid(ex: LocalProcessExecutor) -> int:
    eventually(lambda: len(ex.pool.idle_pids()) == 1)
    return ex.pool.idle_pids()[0]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def settled(pid: int) -> int:
    """Wait until a worker is blocked on its job pipe (no CPU used for half a second)."""
    last = -1
    deadline = time.monotonic() + 30
    while (now := cpu_ticks(pid)) != last and time.monotonic() < deadline:
        last = now
        time.sleep(0.5)
    return pid


def run_job(ex: LocalProcessExecutor, log: EventLog, job_id: str, payload: str) -> Event:
    ex.start(job_id, T + "report_process", payload, log)
    return check_protocol(log.wait_terminal(job_id))


def test_a_job_runs_in_a_worker_started_before_it_with_its_preload_imported(
    warm: LocalProcessExecutor,
) -> None:
    log = EventLog()
    spare = settled(idle_pid(warm))  # started, preloaded and warmed up before the job came
    result = run_job(warm, log, "j1", "first")
    assert log.pids("j1") == [spare]
    assert result["preloaded"] is True and result["warmed"] is True
    assert "unit.jobs.preloaded" not in sys.modules  # names only: the parent never imports it


def test_one_job_per_process_and_the_used_worker_is_replaced(
    warm: LocalProcessExecutor,
) -> None:
    log = EventLog()
    first = idle_pid(warm)
    assert run_job(warm, log, "j1", "first")["seen"] == ["first"]
    eventually(lambda: dead(first))  # used once, then gone
    second = idle_pid(warm)  # a replacement, started in the background
    assert second != first
    assert run_job(warm, log, "j2", "second")["seen"] == ["second"]  # nothing of job 1
    assert log.pids("j2") == [second]


def test_a_replacement_starts_when_a_job_waits_not_beside_a_lone_job(
    warm: LocalProcessExecutor,
) -> None:
    log = EventLog()
    first = idle_pid(warm)
    warm.start("lone", T + "sleep_forever", "", log)
    log.wait_for("lone", "touched")
    time.sleep(0.5)
    assert warm.pool.idle_pids() == []  # the only slot is busy and nobody waits
    assert len(multiprocessing.active_children()) == 1
    warm.start("next", T + "report_process", "next", log)  # waits for the slot
    spare = idle_pid(warm)  # started now, so that "next" finds it ready
    assert warm.cancel("lone")
    check_protocol(log.wait_terminal("next"))
    assert log.pids("lone") == [first] and log.pids("next") == [spare]


def test_a_worker_that_died_while_idle_is_not_used(warm: LocalProcessExecutor) -> None:
    log = EventLog()
    spare = idle_pid(warm)
    os.kill(spare, signal.SIGKILL)
    eventually(lambda: dead(spare) or not multiprocessing.active_children())
    time.sleep(0.2)
    result = run_job(warm, log, "j1", "x")
    assert log.pids("j1") != [spare] and result["seen"] == ["x"]


def test_shutdown_kills_the_idle_workers() -> None:
    ex = LocalProcessExecutor(warm_workers=2, preload=PRELOAD)
    eventually(lambda: len(ex.pool.idle_pids()) == 2)
    spares = ex.pool.idle_pids()
    ex.shutdown(grace=0)
    assert all(dead(pid) for pid in spares)
    assert multiprocessing.active_children() == []
    ex.shutdown(grace=0)  # idempotent


def test_without_warm_workers_a_worker_starts_with_the_job_and_skips_the_warm_up() -> None:
    log = EventLog()
    ex = LocalProcessExecutor(poll_s=0.05, preload=PRELOAD)
    try:
        assert ex.pool.idle_pids() == []
        result = run_job(ex, log, "j1", "x")
        assert result["preloaded"] is True
        assert result["warmed"] is False  # the job was waiting: no warm-up before it
        assert ex.pool.idle_pids() == []
    finally:
        ex.shutdown(grace=0)


@pytest.mark.parametrize(
    "kwargs", [{"warm_workers": -1}, {"preload": ("os; rm",)}, {"preload": ("m:f.g",)}]
)
def test_bad_pool_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        LocalProcessExecutor(**kwargs)  # type: ignore[arg-type]


SERVER = """
import json, os, signal, sys, time
sys.path.insert(0, {tests!r})
from unit.jobs.eventlog import EventLog
from zone.jobs import Event, LocalProcessExecutor
log = EventLog()
ex = LocalProcessExecutor(max_concurrent=2, warm_workers=1, preload=("unit.jobs.preloaded",))
ex.start("run", "unit.jobs.targets:sleep_forever", "", log)
log.wait_for("run", "touched")
deadline = time.monotonic() + 60
while not ex.pool.idle_pids() and time.monotonic() < deadline:  # a free slot: a spare starts
    time.sleep(0.05)
print(json.dumps({{"running": log.pids("run")[0], "idle": ex.pool.idle_pids()[0]}}), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_workers_die_with_the_server_process(tmp_path: Path) -> None:
    out = tmp_path / "pids.json"
    with out.open("w") as stdout:  # a file, not a pipe: an orphan would keep a pipe open
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER.format(tests=str(TESTS))], stdout=stdout
        )
        try:
            assert server.wait(timeout=120) == -signal.SIGKILL
        finally:
            server.kill()  # no-op once it has exited
    pids = json.loads(out.read_text())
    try:
        eventually(lambda: dead(pids["running"]) and dead(pids["idle"]), timeout=10)
    finally:  # if the test failed, do not leave its orphans running
        for pid in pids.values():
            cmdline = Path(f"/proc/{pid}/cmdline")
            if not dead(pid) and b"multiprocessing" in cmdline.read_bytes():
                os.kill(pid, signal.SIGKILL)
