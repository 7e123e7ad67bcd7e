from __future__ import annotations

import threading
from pathlib import Path

from zone.audit import AuditChain, verify_file
from zone.state import StateStore

THREADS = 8
APPENDS = 200


def test_concurrent_appends_form_one_linear_chain(chain: AuditChain, db_path: Path) -> None:
    seqs: dict[int, list[int]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(t: int) -> None:
        try:
            start.wait()
            seqs[t] = [chain.append("rpc", {"t": t, "i": i}).seq for i in range(APPENDS)]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    total = THREADS * APPENDS
    all_seqs = sorted(s for per_thread in seqs.values() for s in per_thread)
    assert all_seqs == list(range(1, total + 1))
    for per_thread in seqs.values():
        assert per_thread == sorted(per_thread)
    result = verify_file(db_path)
    assert result.ok and result.length == total
    assert chain.head() == (total, result.head_hash)
    by_thread: dict[int, list[int]] = {}
    for page_start in range(0, total, 1000):
        for entry in chain.entries(since_seq=page_start, limit=1000):
            by_thread.setdefault(int(entry.record["t"]), []).append(int(entry.record["i"]))
    assert by_thread == {t: list(range(APPENDS)) for t in range(THREADS)}


def test_two_stores_on_one_file_share_the_chain(db_path: Path) -> None:
    with StateStore.open(db_path) as first, StateStore.open(db_path) as second:
        chains = [AuditChain(first), AuditChain(second)]

        def worker(c: AuditChain) -> None:
            for i in range(50):
                c.append("rpc", {"i": i})

        threads = [threading.Thread(target=worker, args=(c,)) for c in chains * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    result = verify_file(db_path)
    assert result.ok and result.length == 200
