"""Fixtures of the consent tests: a consent authority's key pair."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

sys.path.insert(0, str(Path(__file__).resolve().parent))

from consentkit import AUTHORITY  # noqa: E402


@pytest.fixture(scope="session")
def authority_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def authorities(authority_key: Ed25519PrivateKey) -> dict[str, Ed25519PublicKey]:
    return {AUTHORITY: authority_key.public_key()}
