"""The zone's side of Match: a keyed OPRF evaluation and its tolerance window, per subject.

For each (subject, claim field) of a call the caller sends one blinded element ``B``
(:mod:`zone.wire.oprf`). The zone answers ``E = k * B`` and the sorted tags
``H2(w, k * H1(w))`` for the ``2t + 1`` codes ``w`` within the tolerance ``t`` of the recorded
code, where ``k`` is derived for this call, product, field and subject from the zone's master
secret (:func:`call_secret`, :func:`subject_key`): an evaluation is useless against any other
subject's, field's or call's tags. The caller learns whether its one claimed value is in the
window, nothing else (docs/SECURITY.md, "Match against a malicious caller"); the zone learns
nothing about the claim.

No recorded value (``recorded[i] is None``): the subject is not in the dataset, its value is
NULL, or the value is not a whole number of units. Its element is answered exactly like a
no-match, with the same work: ``E = k * B`` and ``2t + 1`` tags that match nothing (a random
key times random elements, hashed). Whether the caller is *told* a subject was not found is
the product's ``membership`` option (:func:`disclosed_found`); the reply itself never says.

Everything here is plain data in, bytes out, no grpc and no database: :func:`evaluate_batch`
takes a per-call secret (never the master secret) and a picklable :class:`ClaimBatch`, so a
process pool can run the parts of a call (:func:`evaluate`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Literal

import rbcl

from zone.errors import InvalidArgument
from zone.wire.oprf import (
    ELEMENT_BYTES,
    TAG_BYTES,
    CodeOutOfRange,
    InvalidElement,
    check_elements,
    claim_input,
    finalize,
    hash_to_group,
    value_code,
    window_size,
)

MASTER_SECRET_BYTES = 32
NONCE_BYTES = 32
CALL_KEY_TAG = b"zone.verification.match.oprf.v1.call-key"
SUBJECT_KEY_TAG = b"zone.verification.match.oprf.v1.subject-key"
Membership = Literal["disclosed", "hidden"]


class BadBlindedElement(InvalidArgument):
    """A blinded element of the request is not a valid, canonical, non-identity element."""

    def __init__(self, claim: str, index: int, problem: str) -> None:
        where = "the request" if index < 0 else f"subject {index}"
        super().__init__(f"claim {claim!r}, {where}: {problem}", reason="bad_blinded_element")


@dataclass(frozen=True)
class ClaimBatch:
    """One claim field for a run of a call's subjects: what a worker needs, picklable.

    Attributes:
        product: The product id (bound into every input).
        claim: The claim field.
        unit: The field's public unit (bound into every input).
        tolerance: The public tolerance ``t`` in units.
        subjects: Subject keys.
        recorded: The recorded code per subject, ``None`` where there is none to match.
        blinded: One blinded element per subject, concatenated (checked or not).
    """

    product: str
    claim: str
    unit: float
    tolerance: int
    subjects: tuple[str, ...]
    recorded: tuple[int | None, ...] = field(repr=False)
    blinded: bytes = field(repr=False)


def _prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def new_nonce() -> bytes:
    """A fresh call nonce (never reused: a reused nonce reuses every subject's key)."""
    return os.urandom(NONCE_BYTES)


def call_secret(master_secret: bytes, nonce: bytes) -> bytes:
    """The per-call secret ``HMAC-SHA512(master, tag || nonce)``: what workers receive.

    Raises:
        ValueError: a master secret shorter than 32 bytes, or a nonce of the wrong size.
    """
    if len(master_secret) < MASTER_SECRET_BYTES or len(nonce) != NONCE_BYTES:
        raise ValueError(f"need a master secret of >= {MASTER_SECRET_BYTES} bytes and a nonce")
    return hmac.digest(master_secret, CALL_KEY_TAG + nonce, hashlib.sha512)


def subject_key(secret: bytes, product: str, claim: str, subject: str) -> bytes:
    """``k = HMAC-SHA512(call secret, tag || product || claim || subject) mod L``.

    64 uniform bytes reduced modulo the group order: bias below 2^-250; zero with
    probability 2^-252 (then scalar multiplication refuses, see :func:`evaluate_batch`).
    """
    parts = b"".join(_prefixed(p.encode()) for p in (product, claim, subject))
    digest = hmac.digest(secret, SUBJECT_KEY_TAG + parts, hashlib.sha512)
    return bytes(rbcl.crypto_core_ristretto255_scalar_reduce(digest))


def recorded_codes(values: Sequence[float], unit: float) -> tuple[int | None, ...]:
    """The recorded codes of a claim column, ``None`` where there is nothing to match.

    ``values`` as loaded (NaN for NULL and for subjects not found). Nothing to match: NULL,
    not a whole number of units, out of range: the rule the SDK applies to claims
    (``value_code``).
    """
    out: list[int | None] = []
    for value in values:
        try:
            out.append(value_code(float(value), unit))
        except CodeOutOfRange:
            out.append(None)
    return tuple(out)


def check_blinded(batch: ClaimBatch) -> None:
    """Check every blinded element of ``batch`` (before the call is admitted).

    Raises:
        BadBlindedElement: the wrong total length, or the first bad element (wrong length,
            not a canonical encoding, not on the group, the identity).
    """
    try:
        check_elements(batch.blinded, len(batch.subjects))
    except InvalidElement as exc:
        raise BadBlindedElement(batch.claim, exc.index, exc.problem) from None


def _mult(scalar: bytes, element: bytes) -> bytes:
    return bytes(rbcl.crypto_scalarmult_ristretto255(scalar, element))


def _window_tags(batch: ClaimBatch, key: bytes, subject: str, code: int | None) -> list[bytes]:
    width = window_size(batch.tolerance)
    if code is None:  # same work as a recorded value, tags that match nothing
        stand_in = bytes(rbcl.crypto_core_ristretto255_scalar_random())
        return [
            finalize(os.urandom(ELEMENT_BYTES), _mult(stand_in, hash_to_group(os.urandom(64))))
            for _ in range(width)
        ]
    tags = []
    for offset in range(-batch.tolerance, batch.tolerance + 1):
        x = claim_input(batch.product, batch.claim, batch.unit, subject, code + offset)
        tags.append(finalize(x, _mult(key, hash_to_group(x))))
    return tags


def evaluate_batch(secret: bytes, batch: ClaimBatch) -> bytes:
    """The reply to ``batch``: per subject ``E = k * B`` then its tags sorted bytewise.

    Guarantee (docs/SECURITY.md, "Match against a malicious caller"): per element the caller
    can test whether one value of its choice is within the tolerance of the recorded code, and
    learns nothing else about it; an element for a subject without a recorded value answers like a
    no-match. Runs in a worker process as well as in the caller's thread.

    Args:
        secret: The per-call secret (:func:`call_secret`).
        batch: The subjects, their recorded codes and blinded elements.

    Returns:
        ``len(subjects) * reply_bytes(1, tolerance)`` bytes (see :mod:`zone.wire.oprf`).

    Raises:
        InvalidElement: a blinded element is not acceptable (checked again here, so a batch
            that skipped :func:`check_blinded` still cannot reach the group arithmetic).
    """
    if len(batch.recorded) != len(batch.subjects):
        raise ValueError("one recorded code per subject is needed")
    elements = check_elements(batch.blinded, len(batch.subjects))
    out = bytearray()
    for subject, code, element in zip(batch.subjects, batch.recorded, elements, strict=True):
        key = subject_key(secret, batch.product, batch.claim, subject)
        out += _mult(key, element)
        out += b"".join(sorted(_window_tags(batch, key, subject, code)))
    return bytes(out)


def split_batch(batch: ClaimBatch, parts: int) -> list[ClaimBatch]:
    """``batch`` cut into at most ``parts`` runs of consecutive subjects, in order."""
    count = len(batch.subjects)
    size = max(1, -(-count // max(1, parts)))
    return [
        replace(
            batch,
            subjects=batch.subjects[start : start + size],
            recorded=batch.recorded[start : start + size],
            blinded=batch.blinded[start * ELEMENT_BYTES : (start + size) * ELEMENT_BYTES],
        )
        for start in range(0, count, size)
    ]


def evaluate(
    secret: bytes, batch: ClaimBatch, executor: Executor | None = None, parts: int = 2
) -> bytes:
    """:func:`evaluate_batch`, in ``parts`` pieces on ``executor`` (a process pool) if given.

    The replies of the pieces are concatenated in order: the same bytes layout as one batch
    (tags for a subject without a recorded value are random, so not the same bytes).
    """
    if executor is None or parts <= 1 or len(batch.subjects) < 2:
        return evaluate_batch(secret, batch)
    pieces = split_batch(batch, parts)
    return b"".join(executor.map(evaluate_batch, [secret] * len(pieces), pieces))


def filler(count: int, tolerance: int) -> bytes:
    """Reply bytes for ``count`` subjects that were not evaluated: random, revealing nothing.

    Each subject's part has the layout of an answer (a valid random element, then ``2t + 1``
    random tags, sorted) and depends on nothing the zone holds. Used where a subject's consent
    was refused: its status says so, and nothing was computed with its element.
    """
    width = window_size(tolerance)
    out = bytearray()
    for _ in range(count):
        out += hash_to_group(os.urandom(64))
        out += b"".join(sorted(os.urandom(TAG_BYTES) for _ in range(width)))
    return bytes(out)


def disclosed_found(found: Sequence[bool], membership: Membership) -> tuple[bool | None, ...]:
    """What the reply's statuses may say about membership: the truth, or nothing.

    ``disclosed``: whether each subject is in the dataset (NOT_FOUND in clear). ``hidden``:
    ``None`` for every subject; an unknown subject's element is then indistinguishable
    from a known subject's no-match (only a MATCH proves membership). Hidden membership
    also needs the per-subject limits to count unknown subjects like known ones, or a
    refusal would tell.
    """
    if membership == "hidden":
        return tuple(None for _ in found)
    return tuple(bool(f) for f in found)
