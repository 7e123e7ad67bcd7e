"""Admission control: overload is refused with a clear status, never queued without bound.

Where each bound of :class:`zone.config.Limits` is enforced, outermost first:

1. ``max_concurrent_rpcs``: grpcio counts the calls it has accepted (running, or waiting for a
   handler thread) and refuses any call beyond the limit itself, on its polling thread, before
   any zone code runs: RESOURCE_EXHAUSTED "Concurrent RPC limit exceeded!", without details.
   Refusals of a privacy budget or a call quota are RESOURCE_EXHAUSTED too, but always carry a
   google.rpc.QuotaFailure detail: a client tells capacity (retry with backoff) from budget
   (do not retry) by that detail.
2. ``max_workers`` threads run accepted calls in arrival order. When a call's turn comes,
   :meth:`Admission.check_start` refuses it before any work (no authentication, no budget,
   no data read) if the caller's deadline has passed (DEADLINE_EXCEEDED: nobody is waiting
   for the answer, so nothing is charged for it) or if it waited longer than
   ``max_queue_wait_seconds`` (UNAVAILABLE with a google.rpc.RetryInfo hint).
3. A streaming call holds a handler thread for as long as it is open. :meth:`Admission.stream`
   lets at most ``Limits.stream_slots`` be open at once, and unauthenticated (public) ones at
   most half of those, so unary calls always keep ``max_workers - stream_slots`` threads and a
   client that opens many streams cannot starve them. Beyond that: UNAVAILABLE with a hint.
4. A call that reads a request stream (uploads, reflection) is cancelled by the server after
   ``max_stream_seconds``, so a client that stops sending halfway holds its thread no longer.
   grpcio may present the end of a cancelled request stream to the handler as a normal end
   (the last read returns no message before the call is marked cancelled), so the readers call
   :meth:`Admission.check_stream_end`, which raises :class:`StreamEnded` instead (waiting up
   to 50 ms for the cancellation to show). An upload should still carry its own length or
   digest: a cancellation that shows later than that is not caught.

A unary handler is not preempted once it has started: Python threads cannot be stopped safely,
and stopping one between a charge and its settlement would be worse than letting it finish.
Unary work is bounded by design instead (validated query plans over one DuckDB file; training
runs in worker processes with their own wall-time limit). If the caller gives up while such a
call runs, the call completes, and what it charged stays charged (acknowledged releases are
charged exactly once, unacknowledged ones at most once; see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from zone.config import Limits
from zone.errors import DeadlineExceeded, Unavailable

RETRY_AFTER_SECONDS = 1.0
STREAM_END_GRACE_SECONDS = 0.05


class StreamEnded(Exception):
    """A request stream ended because its call ended, not because the client finished it."""


class Admission:
    """Start checks and stream slots for the calls of one server (thread-safe)."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._lock = threading.Lock()
        self._open = 0
        self._open_public = 0
        self._ended: dict[int, threading.Event] = {}  # id(context) -> set when the call ends
        self._cut: set[int] = set()  # id() of contexts whose stream the server cancelled

    @property
    def open_streams(self) -> int:
        """Streaming calls holding a slot now."""
        with self._lock:
            return self._open

    def check_start(self, arrived: float, context: grpc.ServicerContext) -> None:
        """Refuse a call that should not start; ``arrived`` is its ``time.monotonic()``.

        Raises:
            DeadlineExceeded: the caller's deadline passed while the call waited.
            Unavailable: the call waited longer than ``max_queue_wait_seconds`` for a thread.
        """
        if context.time_remaining() <= 0:
            raise DeadlineExceeded("deadline passed before the call started", reason="deadline")
        waited = time.monotonic() - arrived
        if waited > self._limits.max_queue_wait_seconds:
            raise Unavailable(
                "the zone is overloaded; retry later",
                reason="overloaded",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )

    @contextmanager
    def stream(
        self, context: grpc.ServicerContext, *, public: bool, reads_stream: bool
    ) -> Iterator[None]:
        """Hold a stream slot while the block runs; cancel a request stream that runs too long.

        Raises:
            Unavailable: every slot (for public calls: every public slot) is taken.
        """
        self._acquire(public)
        timer = None
        if reads_stream:
            ended = threading.Event()
            with self._lock:
                self._ended[id(context)] = ended
            context.add_callback(ended.set)
            timer = threading.Timer(self._limits.max_stream_seconds, self._cut_off, (context,))
            timer.daemon = True
            timer.start()
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                self._cut.discard(id(context))
                self._ended.pop(id(context), None)
            self._release(public)

    def check_stream_end(self, context: grpc.ServicerContext) -> None:
        """Call when a request stream ends: raise if it ended because the call did.

        A client that finished sending still waits for the reply, so its call stays active;
        a cancelled call ends, though grpcio may report that just after the stream's end:
        this waits up to ``STREAM_END_GRACE_SECONDS`` for it (the cost of every upload).

        Raises:
            StreamEnded: the server cut the stream off, or the call ended.
        """
        with self._lock:
            cut = id(context) in self._cut
            ended = self._ended.get(id(context))
        if cut or not context.is_active():
            raise StreamEnded("the request stream ended with its call")
        if ended is not None and ended.wait(STREAM_END_GRACE_SECONDS):
            raise StreamEnded("the request stream ended with its call")

    def _cut_off(self, context: grpc.ServicerContext) -> None:
        with self._lock:
            self._cut.add(id(context))
        context.cancel()  # type: ignore[no-untyped-call]

    def _acquire(self, public: bool) -> None:
        slots = self._limits.stream_slots
        with self._lock:
            full = self._open >= slots or (public and self._open_public >= max(1, slots // 2))
            if not full:
                self._open += 1
                self._open_public += int(public)
                return
        raise Unavailable(
            "too many open streams; retry later",
            reason="streams_exhausted",
            retry_after_seconds=RETRY_AFTER_SECONDS,
        )

    def _release(self, public: bool) -> None:
        with self._lock:
            self._open -= 1
            self._open_public -= int(public)
