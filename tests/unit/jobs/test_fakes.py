from __future__ import annotations

import pytest
from unit.jobs.eventlog import EventLog, check_protocol
from unit.jobs.fakes import FakeExecutor

from zone.errors import AlreadyExists, FailedPrecondition
from zone.jobs import Executor


def test_the_fake_is_an_executor_and_follows_the_protocol() -> None:
    fake, log = FakeExecutor(), EventLog()
    as_executor: Executor = fake  # checked statically (mypy) and at run time
    assert isinstance(as_executor, Executor)
    for job_id in ("ok", "bad", "crash", "cancel-running", "cancel-queued", "shutdown"):
        fake.start(job_id, "m:f", "{}", log)
    with pytest.raises(AlreadyExists):
        fake.start("ok", "m:f", "{}", log)
    for job_id in ("ok", "bad", "crash", "cancel-running"):
        fake.run(job_id)
    fake.emit("ok", {"event": "progress", "epoch": 1})
    fake.succeed("ok", weights=[1.0])
    fake.fail("bad", "no")
    fake.crash("crash")
    assert fake.cancel("cancel-running") and fake.cancel("cancel-queued")
    assert log.names("cancel-running") == ["started"]  # queued until delivered
    fake.deliver()
    fake.shutdown(grace=1.0)
    assert not fake.cancel("ok")
    with pytest.raises(FailedPrecondition):
        fake.start("late", "m:f", "{}", log)
    terminals = {job_id: check_protocol(events)["event"] for job_id, events in log.events.items()}
    assert terminals == {
        "ok": "result",
        "bad": "error",
        "crash": "error",
        "cancel-running": "cancelled",
        "cancel-queued": "cancelled",
        "shutdown": "error",
    }
    assert fake.calls[0] == ("start", "ok", "m:f", "{}")
    assert ("cancel", "cancel-queued") in fake.calls and ("shutdown", 1.0) in fake.calls
