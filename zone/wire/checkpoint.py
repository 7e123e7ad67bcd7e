"""Signed checkpoints of the audit chain: the format, the signed bytes and the signature check.

A checkpoint (``zone.checkpoint.v1``) states the chain's length ``n``, the hash of entry ``n``
(the head), the RFC 6962 Merkle root over the hashes of entries ``1..n``, the time, and the
signing key's id and public key; the Ed25519 signature covers the UTF-8 of the canonical JSON
of those seven fields (docs/EVIDENCE.md). Making and storing checkpoints, and checking a whole
chain against one, is the zone's side (``zone.audit.checkpoint``).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zone.wire.jsontext import (
    MalformedEvidence,
    canonical_json,
    int_field,
    load_strict,
    require_fields,
    text_field,
)
from zone.wire.keys import decode_public, fingerprint

FORMAT = "zone.checkpoint.v1"
SIGNED_FIELDS = ("format", "length", "head_hash", "merkle_root", "time", "key_id", "public_key")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_WHAT = "the checkpoint"


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the audit chain's state (see the module docstring)."""

    format: str
    length: int
    head_hash: str
    merkle_root: str
    time: str
    key_id: str
    public_key: str
    signature: str

    def body(self) -> dict[str, Any]:
        """The signed fields."""
        return {name: getattr(self, name) for name in SIGNED_FIELDS}

    def signed_bytes(self) -> bytes:
        """What the signature covers: the canonical JSON of :meth:`body`, UTF-8."""
        return canonical_json(self.body()).encode("utf-8")

    def to_json(self) -> str:
        """The checkpoint file's text (indented JSON)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, doc: Any) -> Checkpoint:
        """Parse a checkpoint object, checking every field's type and form.

        Raises:
            MalformedEvidence: not a well-formed checkpoint, or a field the format does not
                define (the signature is not checked here).
        """
        doc = require_fields(doc, (*SIGNED_FIELDS, "signature"), _WHAT)
        if doc["format"] != FORMAT:
            raise MalformedEvidence(f"unknown checkpoint format {str(doc['format'])[:40]!r}")
        length = int_field(doc, "length", _WHAT)
        for name in ("head_hash", "merkle_root"):
            if not _HEX64.fullmatch(text_field(doc, name, _WHAT)):
                raise MalformedEvidence(f"checkpoint {name} must be 64 lowercase hex digits")
        text = {
            name: text_field(doc, name, _WHAT)
            for name in ("head_hash", "merkle_root", "time", "key_id", "public_key", "signature")
        }
        return cls(FORMAT, length, **text)

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        """Parse a checkpoint file's text (strictly: no repeated keys, no unknown fields).

        Raises:
            MalformedEvidence: not JSON, or not a well-formed checkpoint.
        """
        return cls.from_dict(load_strict(text, _WHAT))


def signature_problem(checkpoint: Checkpoint, trusted: Ed25519PublicKey | None) -> str:
    """Why the checkpoint's signature is not acceptable, or "" when it is.

    With ``trusted`` (the zone's published key, pinned by the verifier) the checkpoint must name
    that key and be signed by it. Without it the key carried in the checkpoint is used, which
    proves only that whoever made the checkpoint held that key.
    """
    try:
        carried = decode_public(checkpoint.public_key)
    except MalformedEvidence as exc:
        return str(exc)
    if fingerprint(carried) != checkpoint.key_id:
        return "the checkpoint's key id does not match its public key"
    key = trusted or carried
    if fingerprint(key) != checkpoint.key_id:
        return f"signed by another key ({checkpoint.key_id}, expected {fingerprint(key)})"
    try:
        key.verify(base64.b64decode(checkpoint.signature, validate=True), checkpoint.signed_bytes())
    except (InvalidSignature, ValueError):
        return "the checkpoint's signature is invalid"
    return ""
