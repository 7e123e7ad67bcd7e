"""A receipt forged from nothing: the forger makes up a chain and signs it with its own key.

Everything in such a bundle is consistent (record, entry hash, Merkle path, signature), so
only the key tells it apart from a genuine one. ``zone receipt verify`` must refuse it unless
the zone's published key is pinned (then it names another key) or the caller explicitly
accepts an unpinned key with ``--allow-unpinned`` (then it still says NOT pinned).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from zone.audit.checkpoint import sign_checkpoint
from zone.audit.keys import generate_key
from zone.audit.merkle import inclusion_path, root_of, tree_levels
from zone.cli import main
from zone.wire.entries import StoredEntry, entry_hash
from zone.wire.jsontext import canonical_json
from zone.wire.receipts import InclusionProof, ReceiptBundle, verify_bundle


def forged_bundle(forger: Ed25519PrivateKey) -> ReceiptBundle:
    """A receipt for epsilon 0.000001 at entry 5 of a made-up chain, signed by ``forger``."""
    receipt = {"release_id": "r-forged", "principal": "analyst", "product": "enterprise-stats",
               "epsilon_micro": 1, "delta_femto": 0}  # fmt: skip
    record_json = canonical_json(receipt)
    prev = hashlib.sha256(b"made up").hexdigest()
    ts = "2026-01-01T00:00:00.000000+00:00"
    entry = StoredEntry(5, ts, "release", record_json, prev,
                        entry_hash(prev, 5, ts, "release", record_json))  # fmt: skip
    leaves = [hashlib.sha256(bytes([i])).digest() for i in range(4)] + [bytes.fromhex(entry.hash)]
    levels = tree_levels(leaves)
    path = tuple(h.hex() for h in inclusion_path(levels, 4))
    checkpoint = sign_checkpoint(forger, 5, entry.hash, root_of(levels), ts)
    return ReceiptBundle("r-forged", receipt, entry, InclusionProof(4, 5, path), checkpoint)


@pytest.fixture
def forged_file(tmp_path: Path) -> Path:
    path = tmp_path / "forged.json"
    bundle = forged_bundle(Ed25519PrivateKey.generate())
    assert verify_bundle(bundle) == ""  # consistent in itself: only the key can tell
    path.write_text(json.dumps(bundle.to_dict(), indent=2))
    return path


def test_an_unpinned_forgery_is_refused(
    forged_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["receipt", "verify", str(forged_file)]) == 1
    err = capsys.readouterr().err
    assert "NOT pinned" in err and "--public-key" in err


def test_allow_unpinned_accepts_it_but_still_warns(
    forged_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["receipt", "verify", str(forged_file), "--allow-unpinned"]) == 0
    assert "NOT pinned" in capsys.readouterr().out


def test_the_zone_key_pinned_names_the_forgers_key(
    forged_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_key(tmp_path / "zone.key")
    args = ["receipt", "verify", str(forged_file), "--public-key", str(tmp_path / "zone.key.pub")]
    assert main(args) == 1
    assert "another key" in capsys.readouterr().err
    assert main([*args, "--allow-unpinned"]) == 1  # a pinned key is never overridden
