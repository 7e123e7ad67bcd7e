"""Public keys of consent authorities, as written in policies: raw base64 or PEM."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

RAW_KEY_LENGTH = 32


def decode_authority_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from the 32 raw bytes in base64, or SubjectPublicKeyInfo PEM.

    Raises:
        ValueError: with a message fit for a policy problem (never the key's bytes).
    """
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        if "PRIVATE KEY" in stripped:
            raise ValueError("must be a public key; a private key must never be in a policy")
        try:
            key = serialization.load_pem_public_key(stripped.encode("ascii"))
        except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
            raise ValueError("is not a readable PEM public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("must be an Ed25519 public key")
        return key
    try:
        raw = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be base64 of a 32-byte Ed25519 public key, or PEM") from exc
    if len(raw) != RAW_KEY_LENGTH:
        raise ValueError(
            f"must be base64 of a 32-byte Ed25519 public key, or PEM (got {len(raw)} bytes)"
        )
    return Ed25519PublicKey.from_public_bytes(raw)


def encode_authority_key(key: Ed25519PublicKey) -> str:
    """The raw public key in base64 (the short form for policies)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")
