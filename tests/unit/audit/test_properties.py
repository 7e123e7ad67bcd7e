from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from zone.audit import AuditChain, verify_file
from zone.audit.chain import _encode_checked, _encode_flat_text, _encode_record
from zone.errors import InvalidArgument
from zone.state import StateStore

ENTRIES = 6
FIELDS = ("seq", "ts", "kind", "record", "prev_hash", "hash")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "zone.db"
    with StateStore.open(path) as store:
        chain = AuditChain(store)
        for i in range(ENTRIES):
            chain.append(
                "rpc" if i % 2 else "policy.reload",
                {"principal": "bank-ä", "request_id": f"r{i}", "note": "数据 ✓", "i": i},
            )
    assert not Path(f"{path}-wal").exists()  # checkpointed on close: one file to copy
    return path


def _mutate(value: str | int, position: int, delta: int) -> str | bytes | int | None:
    raw = str(value).encode("utf-8")
    index = position % len(raw)
    changed = bytearray(raw)
    changed[index] = (changed[index] + delta) % 256
    if isinstance(value, int):
        try:
            return int(changed.decode("ascii"))
        except ValueError:
            return None
    try:
        return changed.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(changed)  # stored as a BLOB (only possible once STRICT is removed)


def _store_change(path: Path, seq: int, column: str, new: str | bytes | int) -> bool:
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        conn.execute("DROP TRIGGER audit_log_no_update")
        if isinstance(new, bytes):
            conn.executescript(
                "CREATE TABLE loose (seq INTEGER PRIMARY KEY, ts, kind, record, prev_hash, hash);"
                "INSERT INTO loose SELECT seq, ts, kind, record, prev_hash, hash FROM audit_log;"
                "DROP TABLE audit_log; ALTER TABLE loose RENAME TO audit_log;"
            )
        conn.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = ?", (new, seq))
        return True
    except sqlite3.IntegrityError:  # e.g. seq collides with another row
        return False
    finally:
        conn.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seq=st.integers(1, ENTRIES),
    column=st.sampled_from(FIELDS),
    position=st.integers(0, 10_000),
    delta=st.integers(1, 255),
)
def test_any_single_byte_change_is_detected(
    template: Path, seq: int, column: str, position: int, delta: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "zone.db"
        shutil.copy(template, path)
        conn = sqlite3.connect(str(path))
        try:
            (old,) = conn.execute(
                f"SELECT {column} FROM audit_log WHERE seq = ?", (seq,)
            ).fetchone()
        finally:
            conn.close()
        new = _mutate(old, position, delta)
        assume(new is not None and new != old)  # a seq byte change may not be a number
        assert new is not None
        assume(_store_change(path, seq, column, new))
        result = verify_file(path)
    assert not result.ok
    if column == "seq":
        assert 1 <= result.first_bad_seq <= seq
    else:
        assert result.first_bad_seq == seq


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateStore]:
    with StateStore.open(tmp_path_factory.mktemp("shared") / "zone.db") as store:
        yield store


@settings(max_examples=100, deadline=None)
@given(records=st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), max_size=4))
def test_any_json_record_round_trips_and_verifies(
    shared_store: StateStore, records: list[dict[str, object]]
) -> None:
    chain = AuditChain(shared_store)
    with shared_store.write() as conn:
        appended = [chain.append("rpc", r, conn=conn) for r in records]
    assert [e.record for e in appended] == records
    since = appended[0].seq - 1 if appended else 0
    assert chain.entries(since_seq=since, limit=len(records) or 1) == appended
    result = verify_file(shared_store.path)
    assert result.ok and result.length == chain.head()[0]


# Any text, with lone surrogates (not UTF-8: refused) and JSON's escapes often enough.
any_text = st.text(
    alphabet=st.characters() | st.sampled_from(["\ud800", "\udfff", '"', "\\", "\x00", "\u2028"]),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(record=st.dictionaries(any_text, any_text, max_size=6), kind=any_text)
def test_flat_text_records_skip_the_parse_with_the_same_result(
    record: dict[str, str], kind: str
) -> None:
    """The parse-free path for text-only records gives exactly what the checked path gives."""

    def outcome(encode: Callable[[str, dict[Any, Any]], tuple[str, dict[str, Any]]]) -> object:
        try:
            return encode(kind, dict(record))
        except InvalidArgument as exc:  # e.g. a lone surrogate: refused by both
            return exc.message

    checked = outcome(_encode_checked)
    assert outcome(_encode_flat_text) == checked
    if kind:  # the dispatcher refuses an empty kind before encoding
        assert outcome(_encode_record) == checked


def test_text_subclasses_and_non_text_values_take_the_checked_path() -> None:
    class Sly(str):
        pass

    for record in ({Sly("a"): "x"}, {"a": Sly("x")}, {"a": 1}, {"a": None}, {1: "x", "1": "y"}):
        try:
            expected: object = _encode_checked("rpc", dict(record))
        except InvalidArgument as exc:
            expected = exc.message
        try:
            got: object = _encode_record("rpc", record)
        except InvalidArgument as exc:
            got = exc.message
        assert got == expected
