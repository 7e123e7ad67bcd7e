"""Admission: start checks, stream slots (public ones capped at half) and request-stream cut-off.

The servicer context is grpc's, a process boundary: a small fake stands in for it, with the four
methods Admission calls. Admission itself is the real one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import cast

import grpc
import pytest

from zone.config import Limits
from zone.errors import DeadlineExceeded, Unavailable
from zone.server.admission import RETRY_AFTER_SECONDS, Admission, StreamEnded


class FakeContext:
    """What grpcio's ServicerContext does for Admission: deadline, end callbacks, cancel."""

    def __init__(self, time_remaining: float = 30.0) -> None:
        self.remaining = time_remaining
        self.active = True
        self.cancelled = threading.Event()
        self.callbacks: list[Callable[[], None]] = []

    def time_remaining(self) -> float:
        return self.remaining

    def add_callback(self, callback: Callable[[], None]) -> bool:
        self.callbacks.append(callback)
        return True

    def is_active(self) -> bool:
        return self.active

    def end(self) -> None:
        """The call ends (grpcio runs the callbacks on its own thread)."""
        self.active = False
        for callback in self.callbacks:
            callback()

    def cancel(self) -> None:
        """Recorded only: the call's end may show later (the lag Admission must not miss)."""
        self.cancelled.set()


def context(time_remaining: float = 30.0) -> tuple[FakeContext, grpc.ServicerContext]:
    fake = FakeContext(time_remaining)
    return fake, cast(grpc.ServicerContext, fake)


def test_a_call_within_its_deadline_and_wait_starts() -> None:
    admission = Admission(Limits(max_queue_wait_seconds=5.0))
    _, ctx = context()
    admission.check_start(time.monotonic() - 4.9, ctx)


def test_a_call_whose_deadline_passed_is_refused_before_any_work() -> None:
    admission = Admission(Limits())
    _, ctx = context(time_remaining=0.0)
    with pytest.raises(DeadlineExceeded) as refused:
        admission.check_start(time.monotonic() - 60, ctx)  # a long wait too: the deadline wins
    assert refused.value.reason == "deadline"


def test_a_call_that_waited_too_long_for_a_thread_is_told_to_retry() -> None:
    admission = Admission(Limits(max_queue_wait_seconds=0.5))
    _, ctx = context()
    with pytest.raises(Unavailable) as refused:
        admission.check_start(time.monotonic() - 0.6, ctx)
    assert refused.value.reason == "overloaded"
    assert refused.value.retry_after_seconds == RETRY_AFTER_SECONDS


def open_stream(admission: Admission, *, public: bool) -> Callable[[], None]:
    """Enter ``admission.stream`` and return what leaves it (keep it: dropping it leaves too)."""
    _, ctx = context()
    block = admission.stream(ctx, public=public, reads_stream=False)
    block.__enter__()
    return lambda: block.__exit__(None, None, None)


def test_streams_hold_slots_and_public_ones_at_most_half() -> None:
    admission = Admission(Limits(max_workers=9))  # stream_slots = 4: two of them public
    public = [open_stream(admission, public=True) for _ in range(2)]
    with pytest.raises(Unavailable) as refused:
        open_stream(admission, public=True)
    assert refused.value.reason == "streams_exhausted"
    assert refused.value.retry_after_seconds == RETRY_AFTER_SECONDS
    private = [open_stream(admission, public=False) for _ in range(2)]
    assert admission.open_streams == 4
    with pytest.raises(Unavailable):
        open_stream(admission, public=False)  # every slot taken
    private.pop()()
    with pytest.raises(Unavailable):
        open_stream(admission, public=True)  # a free slot, but public calls hold their half
    private.append(open_stream(admission, public=False))  # the freed slot is reused
    public.pop()()
    public.append(open_stream(admission, public=True))  # and so is a freed public one
    assert admission.open_streams == 4


def test_a_refused_stream_takes_no_slot_and_a_failing_one_gives_its_slot_back() -> None:
    admission = Admission(Limits(max_workers=2))  # one slot, which public calls may take
    assert Limits(max_workers=2).stream_slots == 1
    leave = open_stream(admission, public=True)
    with pytest.raises(Unavailable):
        open_stream(admission, public=True)
    leave()
    assert admission.open_streams == 0
    _, ctx = context()
    with pytest.raises(RuntimeError), admission.stream(ctx, public=False, reads_stream=True):
        raise RuntimeError("handler failed")
    assert admission.open_streams == 0
    held = open_stream(admission, public=True)  # the slot is free again
    assert admission.open_streams == 1
    held()


def test_a_request_stream_running_too_long_is_cut_off() -> None:
    admission = Admission(Limits(max_stream_seconds=0.1))
    fake, ctx = context()
    with admission.stream(ctx, public=False, reads_stream=True):
        assert fake.cancelled.wait(5.0)
        with pytest.raises(StreamEnded):
            admission.check_stream_end(ctx)


def test_a_stream_that_the_client_finished_is_not_mistaken_for_a_cut() -> None:
    admission = Admission(Limits(max_stream_seconds=0.3))
    fake, ctx = context()
    with admission.stream(ctx, public=False, reads_stream=True):
        started = time.monotonic()
        admission.check_stream_end(ctx)  # still active, never ended: a real end of stream
        assert time.monotonic() - started >= 0.04  # it waited the grace period for a cut
    time.sleep(0.5)
    assert not fake.cancelled.is_set()  # leaving the block stopped the timer


def test_a_stream_whose_call_ended_raises_at_its_end() -> None:
    admission = Admission(Limits())
    fake, ctx = context()
    with admission.stream(ctx, public=True, reads_stream=True):
        fake.callbacks[0]()  # grpcio ran the end callback; is_active() has not caught up
        with pytest.raises(StreamEnded):
            admission.check_stream_end(ctx)
    ended, other = context()
    ended.active = False
    with pytest.raises(StreamEnded):
        admission.check_stream_end(other)  # not even in a stream block: the call is over
