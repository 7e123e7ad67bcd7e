"""Request ids: unique, 32 hex digits, drawn from the OS in blocks, safe across threads."""

from __future__ import annotations

import re
import threading

from zone.server.ids import RequestIds


def test_ids_are_32_hex_digits_and_never_repeat_across_blocks() -> None:
    ids = RequestIds()
    drawn = [ids.next() for _ in range(2_000)]  # about 8 blocks
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in drawn)
    assert len(set(drawn)) == len(drawn)


def test_two_sources_do_not_share_ids() -> None:
    assert len({RequestIds().next() for _ in range(100)}) == 100


def test_threads_drawing_at_once_never_get_the_same_id() -> None:
    ids = RequestIds()
    got: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(8)

    def draw(k: int) -> None:
        start.wait()
        got[k].extend(ids.next() for _ in range(1_000))

    threads = [threading.Thread(target=draw, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids_of in got for i in ids_of]
    assert len(every) == 8_000 and len(set(every)) == 8_000
