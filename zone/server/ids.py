"""Request ids: 128 bits of OS randomness each, drawn from the OS in blocks.

``uuid.uuid4()`` asks the OS for 16 bytes per call: a system call that releases the GIL, and
on a busy server every GIL release hands the core to a waiting thread and waits to get it
back (the per-call cost the interceptor keeps small: docs/ARCHITECTURE.md, "State and
audit"). :class:`RequestIds` draws 4 KiB at a time, 256 ids, under a lock. The ids stay as
unpredictable as ``uuid4``'s (``os.urandom``); they identify a call in the audit record, the
server log and the ``x-request-id`` metadata, and authorize nothing.
"""

from __future__ import annotations

import os
import threading

ID_BYTES = 16
_BLOCK = 256 * ID_BYTES


class RequestIds:
    """Hands out request ids (32 lowercase hex digits), never the same bytes twice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = b""
        self._at = 0

    def next(self) -> str:
        """The next id: 16 bytes of ``os.urandom`` as hex."""
        with self._lock:
            if self._at >= len(self._block):
                self._block, self._at = os.urandom(_BLOCK), 0
            at = self._at
            self._at = at + ID_BYTES
            return self._block[at : at + ID_BYTES].hex()
