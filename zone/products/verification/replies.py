"""What a Match or Score call asks and answers, as plain data, and the digest of an answer.

Subjects are sent in blocks of ``slot_count``: subject ``i`` sits in block ``i // slot_count``,
slot ``i % slot_count``. Every claim column (Match) or caller feature (Score) carries one
ciphertext per block.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FOUND, NOT_FOUND, MISSING_DATA = 1, 2, 3
"""Subject statuses, with the values of ``zone.v1.SubjectStatus`` (kept equal by a test)."""
DIGEST_DOMAIN = b"zone.verification.reply.v1"
Codes = npt.NDArray[np.int8]


@dataclass(frozen=True)
class Ciphertexts:
    """The ciphertexts of one claim column or caller feature, one per block."""

    name: str
    blocks: tuple[bytes, ...]


@dataclass(frozen=True)
class MatchQuery:
    """A Match call: claimed values, encrypted with BFV under the caller's registered key."""

    product: str
    key_id: str
    purpose: str
    subjects: tuple[str, ...]
    claims: tuple[Ciphertexts, ...]


@dataclass(frozen=True)
class ScoreQuery:
    """A Score call: the caller's features, encrypted with CKKS, feature-major."""

    product: str
    key_id: str
    purpose: str
    model_id: str
    subjects: tuple[str, ...]
    features: tuple[Ciphertexts, ...]


@dataclass(frozen=True)
class ClaimAnswer:
    """The reply ciphertexts of one claim: block ``b``, candidate ``k`` at ``b * candidates + k``.

    A subject matches when, in its slot, one of its block's candidates decrypts to zero.
    """

    name: str
    candidates: int
    ciphertexts: tuple[bytes, ...]


@dataclass(frozen=True)
class MatchAnswer:
    """What a Match call releases: in clear, only whether each subject was found."""

    release_id: str
    status: Codes = field(repr=False)
    claims: tuple[ClaimAnswer, ...]
    slots: int
    dataset_version: str
    output_digest: str


@dataclass(frozen=True)
class ScoreAnswer:
    """What a Score call releases: per block one CKKS ciphertext of the (noisy) logits."""

    release_id: str
    status: Codes = field(repr=False)
    logits: tuple[bytes, ...]
    slots: int
    link: str
    noise_stddev: float
    model: str
    dataset_version: str
    output_digest: str


def reply_digest(kind: str, status: Codes, groups: Sequence[tuple[str, Sequence[bytes]]]) -> str:
    """``sha256:<hex>`` over a reply: its kind, statuses and every ciphertext, length-prefixed.

    Statuses enter as one byte each (their ``SubjectStatus`` values).

    The SDK computes the same digest over what it received, so a caller can match a reply to
    its receipt.
    """
    digest = hashlib.sha256(DIGEST_DOMAIN)
    for data in (kind.encode("utf-8"), np.asarray(status, dtype=np.int8).tobytes()):
        digest.update(len(data).to_bytes(8, "big") + data)
    for name, blobs in groups:
        data = name.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big") + data + len(blobs).to_bytes(8, "big"))
        for blob in blobs:
            digest.update(len(blob).to_bytes(8, "big"))
            digest.update(blob)
    return "sha256:" + digest.hexdigest()
