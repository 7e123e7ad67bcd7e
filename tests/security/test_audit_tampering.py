"""Rewriting the stored audit chain is detected against a signed checkpoint.

The attacker has write access to the state database file (drops the append-only triggers) but
not to the zone's signing key. Each attack is checked twice: in-process against the checkpoint
and through ``zone audit verify --checkpoint`` (exit status 1 with the reason).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from zone.audit import AuditChain, canonical_json, entry_hash, open_state_readonly, verify_chain
from zone.audit.checkpoint import make_checkpoint, sign_checkpoint
from zone.audit.keys import generate_key, load_private_key
from zone.audit.merkle import merkle_root
from zone.cli import main
from zone.state import StateStore
from zone.wire.checkpoint import Checkpoint

N = 12
Row = tuple[str, str, str]  # ts, kind, record_json
Rewrite = Callable[[list[Row]], list[Row]]


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Checkpoint]:
    """A zone config, a chain of N entries and a checkpoint of it written to a file."""
    key_path = tmp_path / "zone.key"
    generate_key(key_path)
    config = tmp_path / "zone.yaml"
    config.write_text(
        "datasets_db: d.duckdb\nstate_db: state.sqlite\nmodels_dir: m\npolicies_dir: p\n"
        "audit: {signing_key: zone.key}\n"
    )
    with StateStore.open(tmp_path / "state.sqlite") as store:
        chain = AuditChain(store)
        for i in range(N):
            chain.append("release" if i % 3 == 0 else "rpc", {"principal": f"p{i % 2}", "i": i})
        checkpoint = make_checkpoint(store, load_private_key(key_path))
    (tmp_path / "cp.json").write_text(checkpoint.to_json())
    return config, tmp_path / "cp.json", checkpoint


def _rows(db: Path) -> list[Row]:
    with open_state_readonly(db) as conn:
        return list(conn.execute("SELECT ts, kind, record FROM audit_log ORDER BY seq"))


def _write(db: Path, rows: list[tuple[int, str, str, str, str, str]]) -> None:
    conn = sqlite3.connect(str(db), isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        conn.execute("DELETE FROM audit_log")
        conn.executemany(
            "INSERT INTO audit_log (seq, ts, kind, record, prev_hash, hash) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


def rehash(db: Path, rewrite: Rewrite) -> None:
    """Rewrite the chain's contents and recompute every seq, link and hash consistently."""
    prev, out = "0" * 64, []
    for seq, (ts, kind, record) in enumerate(rewrite(_rows(db)), start=1):
        digest = entry_hash(prev, seq, ts, kind, record)
        out.append((seq, ts, kind, record, prev, digest))
        prev = digest
    _write(db, out)


def raw(db: Path, sql: str, params: tuple[object, ...] = ()) -> None:
    """Change stored rows without rehashing."""
    conn = sqlite3.connect(str(db), isolation_level=None)
    try:
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        conn.execute(sql, params)
    finally:
        conn.close()


def _edit(rows: list[Row]) -> list[Row]:
    ts, kind, _ = rows[3]
    return [*rows[:3], (ts, kind, canonical_json({"principal": "p1", "i": 999})), *rows[4:]]


def _verify_cli(config: Path, checkpoint: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["audit", "verify", "--config", str(config), "--checkpoint", str(checkpoint)])
    captured = capsys.readouterr()
    assert code == 1, captured.out
    return captured.err


def test_untouched_chain_and_later_entries_verify(
    setup: tuple[Path, Path, Checkpoint], capsys: pytest.CaptureFixture[str]
) -> None:
    config, cp_file, _ = setup
    with StateStore.open(config.parent / "state.sqlite") as store:
        AuditChain(store).append("rpc", {"after": "checkpoint"})
    code = main(["audit", "verify", "--config", str(config), "--checkpoint", str(cp_file)])
    assert code == 0
    assert f"the first {N} match the checkpoint" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        ("edit", "hash mismatch"),
        ("delete", "sequence gap"),
        ("reorder", "prev_hash does not link"),
        ("truncate", "shorter than the checkpoint"),
    ],
)
def test_raw_tampering_is_detected(
    setup: tuple[Path, Path, Checkpoint],
    capsys: pytest.CaptureFixture[str],
    attack: str,
    reason: str,
) -> None:
    config, cp_file, _ = setup
    db = config.parent / "state.sqlite"
    if attack == "edit":
        raw(db, "UPDATE audit_log SET record = ? WHERE seq = 4", ('{"i":999,"principal":"p1"}',))
    elif attack == "delete":
        raw(db, "DELETE FROM audit_log WHERE seq = 5")
    elif attack == "reorder":
        with open_state_readonly(db) as conn:
            six, seven = conn.execute(
                "SELECT ts, kind, record, prev_hash, hash FROM audit_log WHERE seq IN (6, 7) "
                "ORDER BY seq"
            ).fetchall()
        swap = (
            "UPDATE audit_log SET ts = ?, kind = ?, record = ?, prev_hash = ?, hash = ? "
            "WHERE seq = ?"
        )
        raw(db, swap, (*seven, 6))
        raw(db, swap, (*six, 7))
    else:
        raw(db, "DELETE FROM audit_log WHERE seq >= ?", (N - 2,))
    assert reason in _verify_cli(config, cp_file, capsys)


@pytest.mark.parametrize(
    "rewrite",
    [
        _edit,
        lambda rows: rows[:4] + rows[5:],  # delete one entry
        lambda rows: [rows[1], rows[0], *rows[2:]],  # reorder
        lambda rows: rows[:-3],  # drop the newest checkpointed entries
        lambda rows: [*rows[:3], rows[3], *rows[3:]],  # insert a copy
    ],
    ids=["edit", "delete", "reorder", "truncate", "insert"],
)
def test_fully_rehashed_chain_verifies_alone_but_not_against_the_checkpoint(
    setup: tuple[Path, Path, Checkpoint], capsys: pytest.CaptureFixture[str], rewrite: Rewrite
) -> None:
    config, cp_file, _ = setup
    db = config.parent / "state.sqlite"
    rehash(db, rewrite)
    with open_state_readonly(db) as conn:
        assert verify_chain(conn).ok  # the chain alone cannot tell
    assert main(["audit", "verify", "--config", str(config)]) == 0
    capsys.readouterr()
    err = _verify_cli(config, cp_file, capsys)
    assert "signed head" in err or "shorter than the checkpoint" in err


def test_rehashed_chain_with_a_forged_checkpoint_is_refused(
    setup: tuple[Path, Path, Checkpoint], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, _, genuine = setup
    db = config.parent / "state.sqlite"
    rehash(db, _edit)
    rows = _rows(db)
    with open_state_readonly(db) as conn:
        hashes = [bytes.fromhex(h) for (h,) in conn.execute("SELECT hash FROM audit_log")]
    attacker = Ed25519PrivateKey.generate()
    head = hashes[N - 1].hex()
    forged = sign_checkpoint(attacker, N, head, merkle_root(hashes[:N]), genuine.time)
    assert len(rows) == N + 1
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(forged.to_json())
    assert "signed by another key" in _verify_cli(config, forged_file, capsys)
    # The genuine checkpoint with its head and root swapped for the rewritten ones.
    edited = replace(genuine, head_hash=head, merkle_root=merkle_root(hashes[:N]).hex())
    forged_file.write_text(edited.to_json())
    assert "signature is invalid" in _verify_cli(config, forged_file, capsys)


def test_dropping_entries_after_the_checkpoint_is_not_detected(
    setup: tuple[Path, Path, Checkpoint], capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented limit: a checkpoint covers only the entries it signed."""
    config, cp_file, _ = setup
    db = config.parent / "state.sqlite"
    raw(db, "DELETE FROM audit_log WHERE seq > ?", (N,))  # the audit.checkpoint record
    assert main(["audit", "verify", "--config", str(config), "--checkpoint", str(cp_file)]) == 0


def test_verify_needs_a_trusted_key(
    setup: tuple[Path, Path, Checkpoint], capsys: pytest.CaptureFixture[str]
) -> None:
    config, cp_file, _ = setup
    config.write_text(config.read_text().replace("audit: {signing_key: zone.key}\n", ""))
    code = main(["audit", "verify", "--config", str(config), "--checkpoint", str(cp_file)])
    assert code == 1 and "--public-key" in capsys.readouterr().err
    unpinned = ["audit", "verify", "--config", str(config), "--checkpoint", str(cp_file)]
    assert main([*unpinned, "--allow-unpinned"]) == 0  # the carried key, with a warning
    assert "NOT pinned" in capsys.readouterr().out
    other = config.parent / "other.key"
    generate_key(other)
    args = ["--checkpoint", str(cp_file), "--public-key", str(other) + ".pub"]
    assert main(["audit", "verify", "--config", str(config), *args]) == 1
    assert "another key" in capsys.readouterr().err
    args[-1] = str(config.parent / "zone.key.pub")
    assert main(["audit", "verify", "--config", str(config), *args]) == 0
