"""Signed checkpoints of the audit chain: what a regulator keeps to detect rewritten history.

A checkpoint states the chain's length ``n``, the hash of entry ``n`` (the head), the RFC 6962
Merkle root over the hashes of entries ``1..n``, the time, and the signing key's fingerprint
and public key, signed with the zone's Ed25519 key over the canonical JSON of those fields.

Against a checkpoint, :func:`verify_against_checkpoint` detects any change to entries
``1..n`` (edit, deletion, reordering, truncation, and a chain rewritten and fully rehashed by
someone with write access to the database, who cannot produce the signature). It proves
nothing about entries after ``n``: those can be dropped or rewritten undetected until the next
checkpoint. The Merkle root lets a caller check one receipt with a short path instead of the
whole chain (``zone.audit.receipts``).

Checkpoints are made only by ``zone audit checkpoint`` (run it from cron): the server process
never reads the private key. Each one is stored in the state database, where the server finds
the latest to build inclusion proofs, and is refused if the chain does not verify or does not
extend the previous checkpoint signed by the same key. The checkpoint format, its signed bytes
and the signature check are shared with the SDK in ``zone.wire.checkpoint``.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from zone.audit.chain import AuditChain, utc_timestamp
from zone.audit.merkle import merkle_root
from zone.audit.verify import VerifyResult, verify_chain
from zone.errors import FailedPrecondition
from zone.state.api import State, Tx
from zone.wire.checkpoint import FORMAT, Checkpoint, signature_problem
from zone.wire.jsontext import MalformedEvidence, canonical_json
from zone.wire.keys import encode_public, fingerprint


def sign_checkpoint(
    key: Ed25519PrivateKey, length: int, head_hash: str, root: bytes, time: str
) -> Checkpoint:
    """Sign a checkpoint of a chain state with ``key``."""
    public = key.public_key()
    unsigned = Checkpoint(
        format=FORMAT,
        length=length,
        head_hash=head_hash,
        merkle_root=root.hex(),
        time=time,
        key_id=fingerprint(public),
        public_key=encode_public(public),
        signature="",
    )
    signature = base64.b64encode(key.sign(unsigned.signed_bytes())).decode("ascii")
    return Checkpoint(**{**asdict(unsigned), "signature": signature})


def leaf_hashes(conn: Tx, length: int) -> list[bytes]:
    """The stored hashes of entries ``1..length`` (as 32 raw bytes each), in seq order.

    Raises:
        FailedPrecondition: fewer than ``length`` entries, or a stored hash is malformed.
    """
    rows = conn.execute(
        "SELECT hash FROM audit_log WHERE seq <= ? ORDER BY seq", (length,)
    ).fetchall()
    if len(rows) != length:
        raise FailedPrecondition(f"the chain has {len(rows)} of the {length} checkpointed entries")
    try:
        return [bytes.fromhex(row[0]) for row in rows]
    except (TypeError, ValueError) as exc:
        raise FailedPrecondition("the chain holds a malformed hash") from exc


@dataclass(frozen=True)
class CheckpointCheck:
    """Outcome of verifying the chain against a checkpoint.

    Attributes:
        ok: Whether the signature, the chain and the signed state all agree.
        reason: "ok" or what failed, in words.
        chain: The chain's own verification (links and hashes of every entry).
    """

    ok: bool
    reason: str
    chain: VerifyResult


def verify_against_checkpoint(
    conn: Tx, checkpoint: Checkpoint, trusted: Ed25519PublicKey | None
) -> CheckpointCheck:
    """Verify the chain readable through ``conn`` against a signed checkpoint.

    Checks, in order: the signature (against ``trusted`` when given), every link and hash of
    the chain, that the chain still has the ``n`` signed entries, that entry ``n``'s hash is
    the signed head and that the Merkle root over entries ``1..n`` is the signed root.

    Args:
        conn: A connection to the state database (read-only is enough).
        checkpoint: The checkpoint, e.g. from the regulator's copy.
        trusted: The zone's public key as the verifier knows it.

    Returns:
        The outcome; ``reason`` names the first check that failed.
    """
    chain = verify_chain(conn)
    problem = signature_problem(checkpoint, trusted)
    if problem:
        return CheckpointCheck(False, problem, chain)
    if not chain.ok:
        where = "within" if chain.first_bad_seq <= checkpoint.length else "after"
        return CheckpointCheck(
            False,
            f"chain broken at entry {chain.first_bad_seq} ({chain.reason}), {where} the "
            f"{checkpoint.length} checkpointed entries",
            chain,
        )
    problem = _state_problem(conn, checkpoint)
    return CheckpointCheck(not problem, problem or "ok", chain)


def _state_problem(conn: Tx, checkpoint: Checkpoint) -> str:
    n = checkpoint.length
    if n == 0:
        return ""
    row = conn.execute("SELECT hash FROM audit_log WHERE seq = ?", (n,)).fetchone()
    if row is None:
        return f"entry {n} is missing: the chain is shorter than the checkpoint (deleted history)"
    if row[0] != checkpoint.head_hash:
        return f"entry {n} differs from the signed head: history before it was rewritten"
    if merkle_root(leaf_hashes(conn, n)).hex() != checkpoint.merkle_root:
        return f"the Merkle root over entries 1..{n} differs from the signed root"
    return ""


def latest_checkpoint(conn: Tx) -> Checkpoint | None:
    """The most recent checkpoint stored in the state database, if any.

    Raises:
        FailedPrecondition: the stored checkpoint does not parse.
    """
    row = conn.execute("SELECT checkpoint FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    try:
        return Checkpoint.from_json(row[0])
    except MalformedEvidence as exc:
        raise FailedPrecondition("the latest stored checkpoint is malformed") from exc


def make_checkpoint(store: State, key: Ed25519PrivateKey) -> Checkpoint:
    """Sign the chain's current state, store the checkpoint and audit the act.

    The chain is verified first, and the new state must extend the latest stored checkpoint
    made with the same key (its head and Merkle root are recomputed): a zone never signs a
    history that contradicts what it signed before. An ``audit.checkpoint`` entry (after the
    signed head) records it.

    Raises:
        FailedPrecondition: the chain is broken, or does not extend the previous checkpoint.
    """
    with store.read() as conn:
        chain = verify_chain(conn)
        if not chain.ok:
            raise FailedPrecondition(
                f"not signing a broken chain: entry {chain.first_bad_seq} ({chain.reason})"
            )
        previous = latest_checkpoint(conn)
        if previous is not None and previous.key_id == fingerprint(key.public_key()):
            problem = signature_problem(previous, key.public_key()) or _state_problem(
                conn, previous
            )
            if problem:
                raise FailedPrecondition(f"not extending the previous checkpoint: {problem}")
        leaves = leaf_hashes(conn, chain.length)
    checkpoint = sign_checkpoint(
        key, chain.length, chain.head_hash, merkle_root(leaves), utc_timestamp()
    )
    with store.write() as conn:
        conn.execute(
            "INSERT INTO checkpoints (length, head_hash, merkle_root, key_id, created_at, "
            "checkpoint) VALUES (?, ?, ?, ?, ?, ?)",
            (
                checkpoint.length,
                checkpoint.head_hash,
                checkpoint.merkle_root,
                checkpoint.key_id,
                checkpoint.time,
                canonical_json(asdict(checkpoint)),
            ),
        )
        AuditChain(store).append(
            "audit.checkpoint",
            {k: checkpoint.body()[k] for k in ("length", "head_hash", "merkle_root", "key_id")},
            conn=conn,
        )
    return checkpoint
