"""Records executor events per job and checks the protocol (one terminal event, last)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from zone.jobs.events import TERMINAL_EVENTS

Event = dict[str, Any]


class EventLog:
    def __init__(self) -> None:
        self.events: dict[str, list[Event]] = defaultdict(list)
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, job_id: str, event: Event) -> None:
        with self._cond:
            self.events[job_id].append(event)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def names(self, job_id: str) -> list[str]:
        with self._cond:
            return [e["event"] for e in self.events[job_id]]

    def wait_for(self, job_id: str, name: str, timeout: float = 20.0) -> Event:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[job_id]:
                    if event["event"] == name:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {name!r} for {job_id}: {self.events[job_id]}")
                self._cond.wait(left)

    def wait_terminal(self, job_id: str, timeout: float = 20.0) -> list[Event]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(e["event"] in TERMINAL_EVENTS for e in self.events[job_id]):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no terminal event for {job_id}: {self.events[job_id]}")
                self._cond.wait(left)
            return list(self.events[job_id])

    def pids(self, job_id: str) -> list[int]:
        with self._cond:
            return [int(e["pid"]) for e in self.events[job_id] if e["event"] == "pid"]


def check_protocol(events: list[Event]) -> Event:
    """Assert the events protocol and return the one terminal event."""
    names = [e["event"] for e in events]
    terminals = [n for n in names if n in TERMINAL_EVENTS]
    assert len(terminals) == 1, names
    assert names[-1] in TERMINAL_EVENTS, names
    if "started" in names:
        assert names[0] == "started", names
        assert names.count("started") == 1 and names.count("exited") == 1, names
        assert names[-2] == "exited", names
    else:
        assert names == [names[-1]], names
    return events[-1]
