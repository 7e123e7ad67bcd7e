"""Verification replies as both sides read them: subject statuses and the reply digest."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FOUND, NOT_FOUND, MISSING_DATA, UNDISCLOSED, CONSENT_REFUSED = 1, 2, 3, 4, 5
"""Subject statuses, with the values of ``zone.v1.SubjectStatus`` (kept equal by a test)."""
DIGEST_DOMAIN = b"zone.verification.reply.v1"
Codes = npt.NDArray[np.int8]


def refusal_group(refusals: Sequence[str]) -> tuple[str, list[bytes]]:
    """The digest group of a reply's per-subject consent refusals (``""`` where admitted)."""
    return "consent_refusals", [reason.encode("utf-8") for reason in refusals]


def reply_digest(kind: str, status: Codes, groups: Sequence[tuple[str, Sequence[bytes]]]) -> str:
    """``sha256:<hex>`` over a reply: its kind, statuses and every blob, length-prefixed.

    Match: one group per claim column (its name, its evaluations), then :func:`refusal_group`.
    Score: the group ``logits`` (one blob per block), then :func:`refusal_group`.

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
