"""The remembered head: group commits skip the head read, and anything else appending is seen."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from zone.audit import AuditChain, verify_file
from zone.audit.chain import AuditEntry, ChainTail, _encode_record
from zone.audit.group import GroupCommitter
from zone.state import StateStore
from zone.state.api import Tx

HEAD_READ = "SELECT seq, hash FROM audit_log ORDER BY seq DESC"


@contextmanager
def statements(store: StateStore) -> Iterator[list[str]]:
    """The SQL the store's write connection runs inside the block."""
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        store.conn.set_trace_callback(None)


def _linked(chain: AuditChain) -> list[AuditEntry]:
    entries = chain.entries()
    for before, after in zip(entries, entries[1:], strict=False):
        assert (after.seq, after.prev_hash) == (before.seq + 1, before.hash)
    return entries


def test_a_group_commit_after_its_own_needs_no_head_read(store: StateStore) -> None:
    chain = AuditChain(store)
    chain.append("rpc", {"n": "1"}, durable=False)
    with statements(store) as seen:
        for n in range(2, 6):
            chain.append("rpc", {"n": str(n)}, durable=False)
    assert not [sql for sql in seen if sql.startswith(HEAD_READ)]
    assert [e.record["n"] for e in _linked(chain)] == ["1", "2", "3", "4", "5"]
    assert verify_file(store.path).ok


@pytest.mark.parametrize("other", ["another chain", "a joined append", "another store"])
def test_an_append_by_anyone_else_moves_the_head_and_is_followed(
    store: StateStore, tmp_path: Path, other: str
) -> None:
    chain = AuditChain(store)
    first = chain.append("rpc", {"by": "us"}, durable=False)
    if other == "another chain":
        AuditChain(store).append("rpc", {"by": "them"})
    elif other == "a joined append":
        with store.write() as tx:
            chain.append("rpc", {"by": "them"}, conn=tx)
    else:
        with StateStore.open(store.path) as second:
            AuditChain(second).append("rpc", {"by": "them"})
    with statements(store) as seen:
        third = chain.append("rpc", {"by": "us"}, durable=False)
    assert [sql for sql in seen if sql.startswith(HEAD_READ)]  # the remembered head was stale
    entries = _linked(chain)
    assert [e.record["by"] for e in entries] == ["us", "them", "us"]
    assert third.seq == first.seq + 2 and third.prev_hash == entries[1].hash
    assert verify_file(store.path).ok


def test_an_append_by_another_process_is_followed(store: StateStore) -> None:
    chain = AuditChain(store)
    chain.append("rpc", {"by": "us"}, durable=False)
    script = (
        "import sys; from pathlib import Path; from zone.audit import AuditChain; "
        "from zone.state import StateStore\n"
        "with StateStore.open(Path(sys.argv[1])) as s:\n"
        "    for n in range(3): AuditChain(s).append('rpc', {'by': 'them'})"
    )
    subprocess.run([sys.executable, "-c", script, str(store.path)], check=True, timeout=60)
    chain.append("rpc", {"by": "us"}, durable=False)
    assert [e.record["by"] for e in _linked(chain)] == ["us", "them", "them", "them", "us"]
    assert verify_file(store.path).ok


class RollsBackOnce:
    """A real store whose first write transaction rolls back after its body ran."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.failed = False

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Tx]:
        with self.store.write(durable=durable) as tx:
            yield tx
            if not self.failed:
                self.failed = True
                raise sqlite3.OperationalError("disk I/O error")

    def writing(self) -> bool:
        return self.store.writing()


def test_a_rolled_back_batch_is_not_remembered_as_the_head(store: StateStore) -> None:
    AuditChain(store).append("rpc", {"n": "0"})
    tail = ChainTail()
    flaky = RollsBackOnce(store)
    committer = GroupCommitter(flaky, tail.append_many, committed=tail.committed)  # type: ignore[arg-type]
    known = tail.known
    with pytest.raises(sqlite3.OperationalError):
        committer.append(("rpc", *_encode_record("rpc", {"n": "lost"})), durable=False)
    assert tail.known == known  # nothing committed: nothing remembered
    stored = committer.append(("rpc", *_encode_record("rpc", {"n": "1"})), durable=False)
    assert tail.known == (stored.seq, stored.hash) == (2, stored.hash)
    assert [e.record["n"] for e in _linked(AuditChain(store))] == ["0", "1"]
    assert verify_file(store.path).ok


def test_a_lone_append_the_database_refuses_fails_alone_and_changes_nothing(
    store: StateStore,
) -> None:
    chain = AuditChain(store)
    first = chain.append("rpc", {"n": "1"}, durable=False)
    store.conn.execute(
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        chain.append("rpc", {"n": "lost"}, durable=False)
    assert not store.conn.in_transaction
    store.conn.execute("DROP TRIGGER refuse")
    second = chain.append("rpc", {"n": "2"}, durable=False)
    assert (second.seq, second.prev_hash) == (first.seq + 1, first.hash)
    assert [e.record["n"] for e in _linked(chain)] == ["1", "2"]
    assert verify_file(store.path).ok
