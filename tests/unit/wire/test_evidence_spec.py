"""docs/EVIDENCE.md's worked example, recomputed from the spec alone and by the zone's code.

``Spec*`` below is a verifier written from the document with hashlib, json and base64 (and
cryptography for Ed25519 only); it shares no code with the zone. Each expected value is
checked against it, against zone.wire / zone.audit, and is required to appear in the document.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from zone.audit.checkpoint import sign_checkpoint
from zone.audit.merkle import inclusion_path, root_of, tree_levels
from zone.wire.checkpoint import Checkpoint, signature_problem
from zone.wire.entries import StoredEntry, entry_hash
from zone.wire.jsontext import canonical_json
from zone.wire.receipts import InclusionProof, ReceiptBundle, load_bundle, verify_bundle

DOC = Path(__file__).resolve().parents[3] / "docs" / "EVIDENCE.md"

ENTRIES: list[tuple[str, str, dict[str, Any]]] = [
    ("2026-01-01T00:00:00.000000+00:00", "server.start", {"version": "1.0"}),
    ("2026-01-01T00:00:01.000000+00:00", "release", {"release_id": "r1", "principal": "analyst",
     "epsilon_micro": 500000, "delta_femto": 0, "note": "café"}),
    ("2026-01-01T00:00:02.000000+00:00", "rpc", {"method": "Query", "decision": "allow"}),
]  # fmt: skip
ENTRY_HASHES = [
    "92c61d8f07b00ae4001a1a05c321b71e95fd58d6da04c97d906a30dd6b561ce3",
    "e432745a9d17883bd1b0837c92aea0d3c1bff69a9039a6c871dd63cc66bc06db",
    "bf83859316adeae8ba6c877420a6e238400518ac5b6db0a484c9536c45cb3ff5",
]
LEAF_HASHES = [
    "0f616f849b2bc67574013f854bce2806c58ea9ad30e09a7b87b5c3dbd52c1411",
    "90d81da299f1f3ee7054ff52865d92e528d1ec1fe7c5e8efdb191a22f16ff17f",
    "cdb1211fbba91e5fd55318c731eedb0956b38006c7b77072daaf3c2d4aa1f0d0",
]
NODE_1_2 = "bb94b9d0eb4c155b8cd0c9a8a1e566368a1fe7549ca45f4d020501fd9157a114"
ROOT = "c2e11b965032da10dec1a8a7f5d5f668cbfd8954f2b94d7712990fb04526bb49"
PATH_OF_2 = [LEAF_HASHES[0], LEAF_HASHES[2]]
SEED = hashlib.sha256(b"zone evidence example").digest()
TIME = "2026-01-01T00:00:03.000000+00:00"
KEY_ID = "sha256:dfe88dfab0755127c246d55be98a3a46aa162948f356503026ac6d4bea3f1515"
PUBLIC_KEY = "tLlwUGmbl484uZrqQjlWyPvvjPvn1I5vwUaPmTxMQ0c="
SIGNATURE = (
    "jRuTgMyFfPKg/U82QmW9dK5fxezyIBxU9eBB1/5KqfiYq9DK3TfZ3AC1Zr+/Bkl/1k93Q7HzfPlYIk93U8WIDg=="
)


# --- a verifier written from docs/EVIDENCE.md ----------------------------------------------


def spec_canonical(value: Any) -> str:
    """Section 1."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)  # fmt: skip


def spec_entry_hash(prev: str, seq: int, ts: str, kind: str, record_json: str) -> str:
    """Section 2: the record embedded as a string."""
    text = spec_canonical(["zone.audit.v1", prev, seq, ts, kind, record_json])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def spec_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def spec_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def spec_mth(data: list[bytes]) -> bytes:
    """Section 3, RFC 6962's recursive definition."""
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return spec_leaf(data[0])
    k = 1
    while k * 2 < len(data):
        k *= 2
    return spec_node(spec_mth(data[:k]), spec_mth(data[k:]))


def spec_verify_path(data: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """Section 3: RFC 9162, 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, spec_leaf(data)
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = spec_node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = spec_node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def spec_signed_bytes(checkpoint: dict[str, Any]) -> bytes:
    """Section 4: every field but the signature."""
    return spec_canonical({k: v for k, v in checkpoint.items() if k != "signature"}).encode()


def spec_chain() -> list[str]:
    prev, out = "0" * 64, []
    for seq, (ts, kind, record) in enumerate(ENTRIES, 1):
        prev = spec_entry_hash(prev, seq, ts, kind, spec_canonical(record))
        out.append(prev)
    return out


def spec_checkpoint() -> dict[str, Any]:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    body: dict[str, Any] = {
        "format": "zone.checkpoint.v1", "length": 3, "head_hash": ENTRY_HASHES[2],
        "merkle_root": ROOT, "time": TIME, "key_id": "sha256:" + hashlib.sha256(raw).hexdigest(),
        "public_key": base64.b64encode(raw).decode(),
    }  # fmt: skip
    body["signature"] = base64.b64encode(key.sign(spec_signed_bytes(body))).decode()
    return body


# --- the tests -------------------------------------------------------------------------------


def test_the_document_states_every_expected_value() -> None:
    text = DOC.read_text(encoding="utf-8")
    for value in (*ENTRY_HASHES, *LEAF_HASHES, NODE_1_2, ROOT, KEY_ID, PUBLIC_KEY, SIGNATURE,
                  SEED.hex(), spec_canonical(ENTRIES[1][2])):  # fmt: skip
        assert value in text, value
    payload = spec_canonical(["zone.audit.v1", ENTRY_HASHES[0], 2, ENTRIES[1][0], "release",
                              spec_canonical(ENTRIES[1][2])])  # fmt: skip
    assert payload in text
    assert spec_signed_bytes(spec_checkpoint()).decode() in text


def test_entry_hashes_from_the_spec_and_from_the_zone() -> None:
    assert spec_chain() == ENTRY_HASHES
    prev = "0" * 64
    for seq, ((ts, kind, record), expected) in enumerate(
        zip(ENTRIES, ENTRY_HASHES, strict=True), 1
    ):
        assert canonical_json(record) == spec_canonical(record)
        assert entry_hash(prev, seq, ts, kind, canonical_json(record)) == expected
        prev = expected
    # Not the hash over the record as a nested object (what ARCHITECTURE.md once said).
    ts, kind, record = ENTRIES[0]
    nested = spec_canonical(["zone.audit.v1", "0" * 64, 1, ts, kind, record])
    assert hashlib.sha256(nested.encode()).hexdigest() != ENTRY_HASHES[0]


def test_leaves_nodes_root_and_path_from_the_spec_and_from_the_zone() -> None:
    data = [bytes.fromhex(h) for h in ENTRY_HASHES]
    assert [spec_leaf(d).hex() for d in data] == LEAF_HASHES
    assert spec_node(spec_leaf(data[0]), spec_leaf(data[1])).hex() == NODE_1_2
    assert spec_mth(data).hex() == ROOT
    path = [bytes.fromhex(h) for h in PATH_OF_2]
    assert spec_verify_path(data[1], 1, 3, path, bytes.fromhex(ROOT))
    assert not spec_verify_path(data[0], 1, 3, path, bytes.fromhex(ROOT))
    assert not spec_verify_path(data[1], 1, 2, path, bytes.fromhex(ROOT))
    levels = tree_levels(data)
    assert [h.hex() for h in levels[0]] == LEAF_HASHES and levels[1][0].hex() == NODE_1_2
    assert root_of(levels).hex() == ROOT
    assert [h.hex() for h in inclusion_path(levels, 1)] == PATH_OF_2


def test_checkpoint_from_the_spec_and_from_the_zone() -> None:
    spec = spec_checkpoint()
    assert (spec["key_id"], spec["public_key"], spec["signature"]) == (KEY_ID, PUBLIC_KEY,
                                                                       SIGNATURE)  # fmt: skip
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(PUBLIC_KEY))
    public.verify(base64.b64decode(SIGNATURE), spec_signed_bytes(spec))  # raises if wrong
    zone = sign_checkpoint(
        Ed25519PrivateKey.from_private_bytes(SEED), 3, ENTRY_HASHES[2], bytes.fromhex(ROOT), TIME
    )
    assert zone == Checkpoint(**spec)
    assert zone.signed_bytes() == spec_signed_bytes(spec)
    assert signature_problem(Checkpoint.from_json(json.dumps(spec)), public) == ""


@pytest.mark.parametrize("via_file", [False, True])
def test_the_example_receipt_verifies(via_file: bool) -> None:
    ts, kind, record = ENTRIES[1]
    entry = StoredEntry(2, ts, kind, spec_canonical(record), ENTRY_HASHES[0], ENTRY_HASHES[1])
    bundle = ReceiptBundle("r1", record, entry, InclusionProof(1, 3, tuple(PATH_OF_2)),
                           Checkpoint(**spec_checkpoint()))  # fmt: skip
    if via_file:
        bundle = load_bundle(json.dumps(bundle.to_dict()))
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(PUBLIC_KEY))
    assert verify_bundle(bundle, trusted=public) == ""
