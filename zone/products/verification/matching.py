"""Match over the OPRF: the claim columns of a call checked, evaluated and assembled.

:func:`claim_batches` checks the request's claim columns and every blinded element before the
call is admitted (``pet.check_blinded``). :func:`evaluate` runs the admitted subjects' elements
through ``pet.evaluate_batch`` (on the worker processes, ``workers.MatchWorkers``) with their
recorded codes, and puts random filler (``pet.filler``) where a subject's consent was refused:
nothing is computed with a refused subject's element. :func:`statuses` says what the reply
tells about each subject, by the product's membership mode (``pet.disclosed_found``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from zone.catalog import VerificationProduct
from zone.errors import InvalidArgument
from zone.products.verification.pet import (
    ClaimBatch,
    Membership,
    check_blinded,
    disclosed_found,
    filler,
    recorded_codes,
)
from zone.products.verification.records import ProductRecords
from zone.products.verification.replies import BlindedClaim, EvaluatedClaim
from zone.products.verification.workers import MatchWorkers
from zone.wire.oprf import ELEMENT_BYTES, reply_bytes
from zone.wire.replies import CONSENT_REFUSED, FOUND, NOT_FOUND, UNDISCLOSED, Codes

I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


def claim_batches(
    product: VerificationProduct, claims: Sequence[BlindedClaim], subjects: tuple[str, ...]
) -> list[ClaimBatch]:
    """One batch per claim column, every element checked (nothing recorded read yet).

    Raises:
        InvalidArgument: no claim, a column twice or not among the product's claims.
        BadBlindedElement: a column's elements are not one valid element per subject.
    """
    names = [claim.name for claim in claims]
    if not names or len(set(names)) != len(names) or not set(names) <= set(product.claims):
        raise InvalidArgument(
            "claims must be distinct columns among the product's claims", reason="bad_claims"
        )
    batches = []
    for claim in claims:
        declared = product.claims[claim.name]
        batch = ClaimBatch(
            product.id, claim.name, declared.unit, declared.tolerance, subjects, (), claim.elements
        )
        check_blinded(batch)
        batches.append(batch)
    return batches


def reply_size(batches: Sequence[ClaimBatch]) -> int:
    """Bytes of evaluations the reply to ``batches`` carries."""
    return sum(reply_bytes(len(b.subjects), b.tolerance) for b in batches)


def _admitted_only(batch: ClaimBatch, picked: list[int]) -> ClaimBatch:
    blinded = batch.blinded
    elements = b"".join(blinded[i * ELEMENT_BYTES : (i + 1) * ELEMENT_BYTES] for i in picked)
    return replace(batch, subjects=tuple(batch.subjects[i] for i in picked), blinded=elements)


def _with_filler(evaluations: bytes, checked: Flags, tolerance: int) -> bytes:
    size = reply_bytes(1, tolerance)
    out = bytearray()
    position = 0
    for admitted in checked.tolist():
        if admitted:
            out += evaluations[position : position + size]
            position += size
        else:
            out += filler(1, tolerance)
    return bytes(out)


def evaluate(
    workers: MatchWorkers,
    secret: bytes,
    batches: Sequence[ClaimBatch],
    records: ProductRecords,
    rows: I64,
    checked: Flags,
) -> tuple[EvaluatedClaim, ...]:
    """Every column's evaluations, in subject order, filler where a subject was not admitted.

    Args:
        workers: Where the group operations run.
        secret: The call's secret (``MasterSecret.call_secret``).
        batches: From :func:`claim_batches`.
        records: The product's records.
        rows: Each subject's row (-1 where not in the dataset).
        checked: Which subjects were admitted (at least one).
    """
    picked = np.flatnonzero(checked).tolist()
    everyone = len(picked) == len(rows)
    runs = []
    for batch in batches:
        run = batch if everyone else _admitted_only(batch, picked)
        codes = recorded_codes(records.values(batch.claim, rows[picked]).tolist(), batch.unit)
        runs.append(replace(run, recorded=codes))
    replies = workers.evaluate(secret, runs)
    return tuple(
        EvaluatedClaim(
            b.claim, b.tolerance, r if everyone else _with_filler(r, checked, b.tolerance)
        )
        for b, r in zip(batches, replies, strict=True)
    )


def statuses(rows: I64, checked: Flags, membership: Membership) -> Codes:
    """Per subject: FOUND / NOT_FOUND (disclosed), UNDISCLOSED (hidden), or CONSENT_REFUSED."""
    told = disclosed_found((rows >= 0).tolist(), membership)
    base = [UNDISCLOSED if f is None else FOUND if f else NOT_FOUND for f in told]
    return np.where(checked, np.asarray(base, dtype=np.int8), CONSENT_REFUSED).astype(np.int8)
