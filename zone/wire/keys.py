"""Ed25519 public keys as checkpoints carry them: raw bytes, base64 text and key ids."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from zone.wire.jsontext import MalformedEvidence


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """``sha256:<hex>`` of the raw public key: the key id printed and stamped on checkpoints."""
    return "sha256:" + hashlib.sha256(raw_public(key)).hexdigest()


def encode_public(key: Ed25519PublicKey) -> str:
    """The raw public key in base64 (as carried in a checkpoint)."""
    return base64.b64encode(raw_public(key)).decode("ascii")


def decode_public(text: str) -> Ed25519PublicKey:
    """Inverse of :func:`encode_public`.

    Raises:
        MalformedEvidence: not a base64 Ed25519 public key.
    """
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError) as exc:
        raise MalformedEvidence("the checkpoint's public key is malformed") from exc
