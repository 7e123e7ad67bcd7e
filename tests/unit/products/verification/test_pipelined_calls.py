"""The SDK's pipelined calls (``zone.client.verification.pipelined``): the window is kept full.

The next call's request is built (encrypted, for Score) while ``window`` calls are in flight,
and sent as soon as the oldest reply arrives, before that reply is decoded; never more than
``window`` calls are in flight, and results come back in request order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from zone.client.verification import pipelined


class Zone:
    """Calls that answer when the test says so, counting what is in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.log: list[str] = []

    def send(self, request: int) -> Callable[[], int]:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        self.log.append(f"send {request}")

        def wait() -> int:
            self.in_flight -= 1
            self.log.append(f"reply {request}")
            return request * 10

        return wait


@pytest.mark.parametrize("window", [1, 2, 3])
def test_requests_are_built_while_the_window_is_full(window: int) -> None:
    zone = Zone()
    built_with: list[int] = []

    def requests() -> Iterator[tuple[int, int]]:
        for i in range(6):
            built_with.append(zone.in_flight)  # what runs while this request is encrypted
            yield i, i

    def decode(part: int, reply: int) -> int:
        zone.log.append(f"decode {part}")
        return reply + part

    assert pipelined(requests(), zone.send, decode, window) == [11 * i for i in range(6)]
    assert zone.most == window and zone.in_flight == 0
    assert built_with[window:] == [window] * (6 - window)  # the window stays full
    if window > 1:  # the next call leaves before the reply that made room is decoded
        first = zone.log.index("reply 0")
        assert zone.log[first : first + 3] == ["reply 0", f"send {window}", "decode 0"]


def test_a_failed_call_stops_sending_and_waits_for_those_in_flight() -> None:
    zone = Zone()
    waited: list[int] = []

    def send(request: int) -> Callable[[], int]:
        zone.send(request)

        def wait() -> int:
            waited.append(request)
            if request == 1:
                raise RuntimeError("refused")
            return request

        return wait

    with pytest.raises(RuntimeError):
        pipelined(((i, i) for i in range(6)), send, lambda part, reply: reply, 2)
    assert waited == [0, 1, 2] and "send 3" not in zone.log
