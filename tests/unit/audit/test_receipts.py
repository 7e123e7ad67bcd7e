"""Registry rows commit with their receipt; receipt bundles verify offline or are refused."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from zone.audit import AuditChain, ReleasedArtifact, ReleaseRegistry, canonical_json, verify_chain
from zone.audit.checkpoint import make_checkpoint
from zone.audit.receipts import ReceiptBook
from zone.errors import FailedPrecondition, NotFound
from zone.ledger import Account, Amount, PrivacyLedger
from zone.state import StateStore
from zone.wire.jsontext import MalformedEvidence
from zone.wire.receipts import (
    InclusionProof,
    ReceiptBundle,
    bundle_from_dict,
    load_bundle,
    verify_bundle,
)

from .conftest import Tamper


def receipt(release_id: str, principal: str = "bank-a", **extra: Any) -> dict[str, Any]:
    return {
        "release_id": release_id,
        "time": "2026-01-01T00:00:00+00:00",
        "principal": principal,
        "product": "enterprise-stats",
        "dataset_version": "sha256:" + "d" * 64,
        "policy_digest": "sha256:" + "e" * 64,
        "code_version": "0.1.0",
        "epsilon_micro": 500_000,
        "delta_femto": 0,
        "output_digest": "sha256:" + "f" * 64,
        **extra,
    }


ARTIFACT = ReleasedArtifact("statistics", {"measures": []})


@pytest.fixture
def registry(store: StateStore, chain: AuditChain) -> ReleaseRegistry:
    return ReleaseRegistry(store, chain)


@pytest.fixture
def book(store: StateStore, registry: ReleaseRegistry) -> ReceiptBook:
    return ReceiptBook(store, registry)


def _count(store: StateStore, table: str) -> int:
    with store.read() as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_record_writes_the_receipt_entry_and_the_row_together(
    registry: ReleaseRegistry, chain: AuditChain, store: StateStore
) -> None:
    entry = registry.record(receipt("r1"), ARTIFACT)
    row = registry.get("r1")
    assert (row.audit_seq, row.principal, row.kind) == (entry.seq, "bank-a", "statistics")
    assert row.receipt == entry.record and entry.kind == "release"
    length = chain.head()[0]
    with pytest.raises(sqlite3.IntegrityError):
        registry.record(receipt("r1"), ARTIFACT)  # same release id: nothing written
    incomplete = {k: v for k, v in receipt("r2").items() if k != "dataset_version"}
    with pytest.raises(ValueError, match="dataset_version"):
        registry.record(incomplete, ARTIFACT)
    assert chain.head()[0] == length and _count(store, "releases") == 1
    with pytest.raises(NotFound):
        registry.get("nope")


def test_ledger_release_writes_the_row_in_the_settlement_transaction(
    store: StateStore, chain: AuditChain, registry: ReleaseRegistry
) -> None:
    ledger = PrivacyLedger(store, chain)
    account = Account("bank-a", "enterprises", Amount.limit(1.0, 1e-6))
    r = ledger.reserve(account, product="enterprise-stats", cost=Amount.cost(0.5), request_id="q")
    with pytest.raises(RuntimeError, match="boom"), store.write() as conn:
        ledger.release(r, receipt(r.release_id), artifact=ARTIFACT, conn=conn)
        raise RuntimeError("boom")
    assert _count(store, "releases") == 0
    with store.read() as conn:
        state = conn.execute("SELECT state FROM charges").fetchone()[0]
    assert state == "reserved"
    with pytest.raises(ValueError):
        ledger.release(r, {"release_id": r.release_id}, artifact=ARTIFACT)
    assert _count(store, "releases") == 0
    entry = ledger.release(r, receipt(r.release_id), artifact=ARTIFACT)
    assert registry.get(r.release_id).audit_seq == entry.seq


def test_receipts_are_visible_to_their_principal_and_admins_only(
    registry: ReleaseRegistry, book: ReceiptBook
) -> None:
    registry.record(receipt("mine"), ARTIFACT)
    assert book.bundle("bank-a", False, "mine").receipt["release_id"] == "mine"
    assert book.bundle("zone-admin", True, "mine").release_id == "mine"
    with pytest.raises(NotFound) as other:
        book.bundle("bank-b", False, "mine")
    with pytest.raises(NotFound) as unknown:
        book.bundle("bank-b", False, "unknown")
    assert other.value.message == unknown.value.message


def test_bundle_is_unproven_until_a_checkpoint_covers_it(
    registry: ReleaseRegistry, book: ReceiptBook, store: StateStore
) -> None:
    registry.record(receipt("r1"), ARTIFACT)
    bundle = book.bundle("bank-a", False, "r1")
    assert bundle.proof is None and bundle.checkpoint is None
    assert "newer than the latest checkpoint" in verify_bundle(bundle)
    make_checkpoint(store, Ed25519PrivateKey.generate())
    registry.record(receipt("r2"), ARTIFACT)
    assert book.bundle("bank-a", False, "r1").proof is not None
    assert book.bundle("bank-a", False, "r2").proof is None


Proven = tuple[Ed25519PrivateKey, list[ReceiptBundle]]


@pytest.fixture
def proven(
    registry: ReleaseRegistry, book: ReceiptBook, store: StateStore, chain: AuditChain
) -> Proven:
    """Nine receipts among other entries, all covered by one checkpoint."""
    key = Ed25519PrivateKey.generate()
    for i in range(9):
        chain.append("rpc", {"i": i})
        registry.record(receipt(f"r{i}", epsilon_spent=0.1 * i), ARTIFACT)
    make_checkpoint(store, key)
    return key, [book.bundle("bank-a", False, f"r{i}") for i in range(9)]


def test_every_proven_receipt_verifies_and_survives_a_file_round_trip(proven: Proven) -> None:
    key, bundles = proven
    for bundle in bundles:
        assert verify_bundle(bundle, trusted=key.public_key()) == ""
        again = load_bundle(json.dumps(bundle.to_dict()))
        assert again == bundle and verify_bundle(again, trusted=key.public_key()) == ""


def test_modified_receipts_wrong_proofs_and_other_keys_are_refused(proven: Proven) -> None:
    key, bundles = proven
    b = bundles[4]
    pub = key.public_key()
    changed = {**b.receipt, "epsilon_micro": 1}
    assert "differs from the record" in verify_bundle(replace(b, receipt=changed), trusted=pub)
    e = b.entry
    forged_entry = replace(e, record_json=canonical_json(changed))
    assert "hash does not match" in verify_bundle(
        replace(b, receipt=changed, entry=forged_entry), trusted=pub
    )
    assert b.proof is not None
    path = list(b.proof.path)
    path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]
    assert "does not lead" in verify_bundle(replace(b, proof=replace(b.proof, path=tuple(path))))
    other = bundles[5].proof
    assert "another entry" in verify_bundle(replace(b, proof=other), trusted=pub)
    shorter = InclusionProof(b.proof.leaf_index, b.proof.tree_size - 1, b.proof.path)
    assert "checkpoint of" in verify_bundle(replace(b, proof=shorter), trusted=pub)
    intruder = Ed25519PrivateKey.generate().public_key()
    assert "another key" in verify_bundle(b, trusted=intruder)
    assert "another release id" in verify_bundle(replace(b, release_id="r5"), trusted=pub)
    not_release = replace(b, entry=replace(e, kind="rpc"))
    assert "not a release receipt" in verify_bundle(not_release, trusted=pub)


def test_malformed_bundle_files_are_refused(proven: Proven) -> None:
    _, bundles = proven
    doc = bundles[0].to_dict()
    for bad in ({**doc, "format": "x"}, {**doc, "entry": {}}, {**doc, "receipt": [1]}, []):
        with pytest.raises(MalformedEvidence):
            bundle_from_dict(bad)
    with pytest.raises(MalformedEvidence):
        load_bundle("not json")


def test_server_refuses_proofs_when_the_chain_no_longer_matches_the_checkpoint(
    proven: Proven, store: StateStore, registry: ReleaseRegistry, db_path: Path, tamper: Tamper
) -> None:
    tamper(db_path, "UPDATE audit_log SET hash = ? WHERE seq = 3", ("a" * 64,))
    with pytest.raises(FailedPrecondition, match="no longer matches"):
        ReceiptBook(store, registry).bundle("bank-a", False, "r1")
    with store.read() as conn:
        assert not verify_chain(conn).ok


def _repeat(text: str, key: str, first: str) -> str:
    """``text`` with ``"key": first,`` inserted before the key's only occurrence."""
    assert text.count(f'"{key}":') == 1
    return text.replace(f'"{key}":', f'"{key}": {first}, "{key}":')


def test_a_repeated_key_anywhere_in_a_bundle_is_refused(proven: Proven) -> None:
    key, bundles = proven
    text = json.dumps(bundles[4].to_dict(), indent=2)
    assert verify_bundle(load_bundle(text), trusted=key.public_key()) == ""
    # Python keeps the last value, so this forgery verified; a first-key-wins reader of the
    # same file would see epsilon_micro 1.
    with pytest.raises(MalformedEvidence, match="repeats the key 'epsilon_micro'"):
        load_bundle(_repeat(text, "epsilon_micro", "1"))
    for name, first in (("seq", "1"), ("record_json", '"{}"'), ("leaf_index", "0"),
                        ("path", "[]"), ("merkle_root", '"00"'), ("signature", '""')):  # fmt: skip
        with pytest.raises(MalformedEvidence, match=f"repeats the key '{name}'"):
            load_bundle(_repeat(text, name, first))


def test_fields_a_bundle_does_not_define_are_refused(proven: Proven) -> None:
    _, bundles = proven
    doc = bundles[4].to_dict()
    for part in ("entry", "proof", "checkpoint"):
        with pytest.raises(MalformedEvidence, match="does not define: 'extra'"):
            bundle_from_dict({**doc, part: {**doc[part], "extra": 1}})
    with pytest.raises(MalformedEvidence, match="does not define: 'extra'"):
        bundle_from_dict({**doc, "extra": 1})
    with pytest.raises(MalformedEvidence, match="'seq' must be an integer"):
        bundle_from_dict({**doc, "entry": {**doc["entry"], "seq": "5"}})


def test_the_sdk_reads_a_reply_strictly(proven: Proven) -> None:
    from zone.client.receipts import bundle_from_proto
    from zone.server.servicers.receipts import receipt_to_proto

    key, bundles = proven
    reply = receipt_to_proto(bundles[4])
    assert bundle_from_proto(reply) == bundles[4]
    reply.receipt_json = _repeat(reply.receipt_json, "epsilon_micro", "1")
    with pytest.raises(MalformedEvidence, match="epsilon_micro"):
        bundle_from_proto(reply)
