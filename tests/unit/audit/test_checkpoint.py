"""Keys, signing and storing checkpoints; forged and malformed checkpoints are refused."""

from __future__ import annotations

import json
import stat
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from zone.audit import AuditChain, canonical_json, entry_hash, verify_chain
from zone.audit.checkpoint import (
    latest_checkpoint,
    make_checkpoint,
    sign_checkpoint,
    verify_against_checkpoint,
)
from zone.audit.keys import generate_key, load_private_key, load_public_key, public_key_path
from zone.audit.merkle import merkle_root
from zone.errors import FailedPrecondition
from zone.state import StateStore
from zone.wire.checkpoint import Checkpoint, signature_problem
from zone.wire.jsontext import MalformedEvidence
from zone.wire.keys import fingerprint

from .conftest import Tamper


@pytest.fixture
def key(tmp_path: Path) -> Ed25519PrivateKey:
    path = tmp_path / "keys" / "zone.key"
    path.parent.mkdir()
    generate_key(path)
    return load_private_key(path)


def test_keygen_writes_a_private_key_0600_and_its_public_half(tmp_path: Path) -> None:
    path = tmp_path / "signing.key"
    public = generate_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in path.read_bytes()
    pub = public_key_path(path)
    assert pub.name == "signing.key.pub" and b"PUBLIC KEY" in pub.read_bytes()
    assert fingerprint(load_public_key(pub)) == fingerprint(public)
    assert fingerprint(load_public_key(path)) == fingerprint(public)  # from the private key
    with pytest.raises(FailedPrecondition):
        generate_key(path)  # never overwritten
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(FailedPrecondition):
        load_private_key(tmp_path / "junk.pem")
    with pytest.raises(FailedPrecondition):
        load_public_key(tmp_path / "missing.pub")


def test_signature_is_checked_against_the_pinned_key(key: Ed25519PrivateKey) -> None:
    cp = sign_checkpoint(key, 5, "a" * 64, b"\x01" * 32, "2026-01-01T00:00:00+00:00")
    assert signature_problem(cp, key.public_key()) == ""
    assert signature_problem(cp, None) == ""  # unpinned: the carried key
    other = Ed25519PrivateKey.generate()
    assert "another key" in signature_problem(cp, other.public_key())
    for field, value in (("length", 6), ("head_hash", "b" * 64), ("time", "2027")):
        assert "signature is invalid" in signature_problem(replace(cp, **{field: value}), None)
    forged = sign_checkpoint(other, 5, "a" * 64, b"\x01" * 32, cp.time)
    assert "another key" in signature_problem(forged, key.public_key())
    mixed = replace(forged, key_id=cp.key_id)  # claims the zone's key id, carries another key
    assert "does not match its public key" in signature_problem(mixed, key.public_key())
    assert "signature is invalid" in signature_problem(replace(cp, signature="!!"), None)


def test_checkpoint_json_round_trip_and_malformed_files(key: Ed25519PrivateKey) -> None:
    cp = sign_checkpoint(key, 3, "c" * 64, b"\x02" * 32, "t")
    assert Checkpoint.from_json(cp.to_json()) == cp
    doc = asdict(cp)
    for bad in (
        {**doc, "extra": 1},
        {k: v for k, v in doc.items() if k != "signature"},
        {**doc, "format": "other"},
        {**doc, "length": True},
        {**doc, "length": -1},
        {**doc, "head_hash": "C" * 64},
        {**doc, "merkle_root": "00"},
        {**doc, "time": 5},
    ):
        with pytest.raises(MalformedEvidence):
            Checkpoint.from_dict(bad)
    with pytest.raises(MalformedEvidence):
        Checkpoint.from_json("{not json")
    assert "malformed" in signature_problem(replace(cp, public_key="***"), None)


def test_make_checkpoint_signs_stores_and_audits(
    store: StateStore, chain: AuditChain, key: Ed25519PrivateKey
) -> None:
    empty = make_checkpoint(store, key)
    assert (empty.length, empty.head_hash) == (0, "0" * 64)
    for i in range(6):
        chain.append("rpc", {"i": i})
    length, head = chain.head()
    cp = make_checkpoint(store, key)
    assert (cp.length, cp.head_hash) == (length, head)
    assert signature_problem(cp, key.public_key()) == ""
    entries = chain.entries()
    assert cp.merkle_root == merkle_root([bytes.fromhex(e.hash) for e in entries[:length]]).hex()
    assert entries[-1].kind == "audit.checkpoint" and entries[-1].seq == length + 1
    assert entries[-1].record["merkle_root"] == cp.merkle_root
    with store.read() as conn:
        assert latest_checkpoint(conn) == cp
        assert verify_against_checkpoint(conn, cp, key.public_key()).ok
        assert verify_chain(conn).ok
    later = make_checkpoint(store, key)  # extends the previous one
    assert later.length == length + 1


def test_make_checkpoint_refuses_a_broken_chain_or_rewritten_history(
    store: StateStore, chain: AuditChain, key: Ed25519PrivateKey, db_path: Path, tamper: Tamper
) -> None:
    for i in range(4):
        chain.append("rpc", {"i": i})
    make_checkpoint(store, key)
    tamper(db_path, "UPDATE audit_log SET record = ? WHERE seq = 2", (json.dumps({"i": 9}),))
    with pytest.raises(FailedPrecondition, match="broken chain"):
        make_checkpoint(store, key)


def test_make_checkpoint_refuses_to_contradict_its_previous_checkpoint(
    store: StateStore, chain: AuditChain, key: Ed25519PrivateKey, db_path: Path, tamper: Tamper
) -> None:
    for i in range(4):
        chain.append("rpc", {"i": i})
    make_checkpoint(store, key)
    # Rewrite entry 2 and rehash everything after it: the chain verifies on its own.
    prev = chain.entries()[0].hash
    for e in chain.entries()[1:]:
        record = canonical_json({"i": 99} if e.seq == 2 else dict(e.record))
        digest = entry_hash(prev, e.seq, e.ts, e.kind, record)
        tamper(
            db_path,
            "UPDATE audit_log SET record = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (record, prev, digest, e.seq),
        )
        prev = digest
    with store.read() as conn:
        assert verify_chain(conn).ok
    with pytest.raises(FailedPrecondition, match="previous checkpoint"):
        make_checkpoint(store, key)


def test_cli_keygen_and_checkpoint_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from zone.cli import main

    key = tmp_path / "zone.key"
    assert main(["audit", "keygen", "--out", str(key)]) == 0
    assert "key id:      sha256:" in capsys.readouterr().out
    assert main(["audit", "keygen", "--out", str(key)]) == 1  # never overwrites
    assert "refusing to overwrite" in capsys.readouterr().err
    config = tmp_path / "zone.yaml"
    config.write_text("datasets_db: d\nstate_db: s.sqlite\nmodels_dir: m\npolicies_dir: p\n")
    assert main(["audit", "checkpoint", "--config", str(config)]) == 1
    assert "no audit.signing_key" in capsys.readouterr().err
    config.write_text(config.read_text() + "audit: {signing_key: zone.key}\n")
    assert main(["audit", "checkpoint", "--config", str(config)]) == 0
    printed = Checkpoint.from_json(capsys.readouterr().out)
    assert printed.length == 0 and signature_problem(printed, load_public_key(key)) == ""


def test_checkpoint_files_with_repeated_keys_are_refused(key: Ed25519PrivateKey) -> None:
    text = sign_checkpoint(key, 3, "c" * 64, b"\x02" * 32, "t").to_json()
    assert text.count('"length":') == 1
    repeated = text.replace('"length":', '"length": 2, "length":')
    with pytest.raises(MalformedEvidence, match="repeats the key 'length'"):
        Checkpoint.from_json(repeated)
