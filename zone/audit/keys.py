"""The zone's Ed25519 signing key for audit checkpoints: make, load, fingerprint.

The private key is a PKCS#8 PEM file readable only by its owner (0600), named in the config
(``audit: {signing_key: PATH}``); its public half is ``PATH.pub`` (SubjectPublicKeyInfo PEM),
which the zone publishes to its regulator. Whoever holds the private key can sign checkpoints:
keep it where the operators of the state database cannot write (see docs/ARCHITECTURE.md).
Key ids and the base64 form carried in checkpoints are ``zone.wire.keys``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from zone.errors import FailedPrecondition


def public_key_path(private_key_path: Path) -> Path:
    """Where the public half of a key made by :func:`generate_key` lives (``PATH.pub``)."""
    return private_key_path.with_name(private_key_path.name + ".pub")


def generate_key(path: Path) -> Ed25519PublicKey:
    """Make a new key: the private key at ``path`` (mode 0600) and its public key at ``PATH.pub``.

    Raises:
        FailedPrecondition: ``path`` or ``PATH.pub`` exists already (keys are never overwritten).
    """
    pub_path = public_key_path(path)
    if path.exists() or pub_path.exists():
        raise FailedPrecondition(f"{path} or {pub_path} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = key.public_key()
    pub_path.write_bytes(public_pem(public))
    return public


def public_pem(key: Ed25519PublicKey) -> bytes:
    """The SubjectPublicKeyInfo PEM of a public key."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read an Ed25519 private key (PKCS#8 PEM, unencrypted).

    Raises:
        FailedPrecondition: the file is missing, unreadable or not an Ed25519 private key.
    """
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise FailedPrecondition(f"cannot read the signing key {path}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise FailedPrecondition(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read an Ed25519 public key (SubjectPublicKeyInfo PEM), or the public half of a private key.

    Raises:
        FailedPrecondition: the file is missing, unreadable or holds no Ed25519 key.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FailedPrecondition(f"cannot read the public key {path}") from exc
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise FailedPrecondition(f"cannot read the public key {path}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise FailedPrecondition(f"{path} is not an Ed25519 public key")
    return key
