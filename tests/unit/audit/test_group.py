"""Group commit: concurrent appends share transactions, each caller learns only its own fate."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from zone.audit import AuditChain, verify_file
from zone.audit.chain import _append_many, _encode_record
from zone.audit.group import GroupCommitter
from zone.errors import FailedPrecondition
from zone.state import StateStore
from zone.state.api import Tx

THREADS = 8
APPENDS = 150


class CountingStore:
    """A real ``StateStore`` that counts its write transactions (and their durability)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.writes: list[bool] = []

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Tx]:
        with self.store.write(durable=durable) as tx:
            self.writes.append(durable)
            yield tx

    def writing(self) -> bool:
        return self.store.writing()

    def joined(self, tx: Tx | None) -> AbstractContextManager[Tx]:
        return self.store.joined(tx)

    def read(self) -> AbstractContextManager[Tx]:
        return self.store.read()

    def startup(self) -> AbstractContextManager[bool]:
        return self.store.startup()

    def close(self) -> None:
        self.store.close()


def _hammer(chain: AuditChain, durable_every: int = 0) -> dict[int, list[tuple[int, str]]]:
    acked: dict[int, list[tuple[int, str]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(t: int) -> None:
        try:
            start.wait()
            mine = []
            for i in range(APPENDS):
                durable = bool(durable_every) and i % durable_every == 0
                entry = chain.append("rpc", {"t": t, "i": i}, durable=durable)
                mine.append((entry.seq, entry.hash))
            acked[t] = mine
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return acked


def test_concurrent_appends_share_transactions_and_form_one_chain(
    store: StateStore, db_path: Path
) -> None:
    counting = CountingStore(store)
    chain = AuditChain(counting)
    acked = _hammer(chain, durable_every=10)

    total = THREADS * APPENDS
    assert len(counting.writes) < total, "no two appends ever shared a transaction"
    stored = {e.seq: e for page in range(0, total, 1000) for e in chain.entries(page, 1000)}
    assert sorted(stored) == list(range(1, total + 1))
    for t, mine in acked.items():
        assert [s for s, _ in mine] == sorted(s for s, _ in mine)  # each caller's order kept
        for i, (seq, digest) in enumerate(mine):
            assert stored[seq].hash == digest
            assert stored[seq].record == {"t": t, "i": i}
    result = verify_file(db_path)
    assert result.ok and result.length == total
    assert sum(counting.writes) >= 1  # batches holding a durable entry committed durably


def test_one_caller_commits_its_own_entry_without_waiting(store: StateStore) -> None:
    counting = CountingStore(store)
    chain = AuditChain(counting)
    first = chain.append("rpc", {"n": 1}, durable=False)
    second = chain.append("rpc", {"n": 2})
    assert (first.seq, second.seq) == (1, 2) and second.prev_hash == first.hash
    assert counting.writes == [False, True]


def test_an_entry_the_store_refuses_fails_only_its_own_caller(store: StateStore) -> None:
    committer = GroupCommitter(store, _append_many)
    good = [("rpc", *_encode_record("rpc", {"n": n})) for n in range(THREADS)]
    bad = (b"not text", "{}", {})  # a kind the chain cannot hash: the transaction raises
    results: dict[int, object] = {}
    start = threading.Barrier(THREADS + 1)

    def worker(n: int) -> None:
        start.wait()
        encoded = bad if n == THREADS else good[n]
        try:
            results[n] = committer.append(encoded, durable=False)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            results[n] = exc

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert isinstance(results.pop(THREADS), TypeError)
    stored = AuditChain(store).entries()
    assert sorted(e.record["n"] for e in stored) == list(range(THREADS))
    assert {r.hash for r in results.values()} == {e.hash for e in stored}  # type: ignore[attr-defined]
    assert verify_file(store.path).ok


def test_append_inside_a_write_is_refused_not_deadlocked(store: StateStore) -> None:
    chain = AuditChain(store)
    with store.write() as tx, pytest.raises(RuntimeError, match="conn="):
        chain.append("rpc", {"n": 1})
    assert tx is not None
    chain.append("rpc", {"n": 2})  # the chain still works afterwards
    assert [e.record for e in chain.entries()] == [{"n": 2}]


def test_a_closed_store_fails_the_caller_and_stores_nothing(db_path: Path) -> None:
    store = StateStore.open(db_path)
    chain = AuditChain(store)
    chain.append("rpc", {"n": 1})
    store.close()
    with pytest.raises(FailedPrecondition):
        chain.append("rpc", {"n": 2})
    assert verify_file(db_path).length == 1
