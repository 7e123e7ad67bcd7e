"""Running the circuits block by block over a call's subjects, and serializing the replies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zone.catalog import VerificationProduct
from zone.products.verification.match import claim_codes, match_block
from zone.products.verification.models import ScoreModel
from zone.products.verification.records import ProductRecords
from zone.products.verification.replies import ClaimAnswer
from zone.products.verification.score import score_block
from zone.wire.he_params import ParamSet

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


def block_count(subjects: int, slots: int) -> int:
    """Blocks needed for ``subjects`` subjects at ``slots`` per block."""
    return -(-subjects // slots)


def replies_needed(product: VerificationProduct, claims: Sequence[str], blocks: int) -> int:
    """Reply ciphertexts of a Match call: ``2t + 1`` per claim and block."""
    return blocks * sum(2 * product.claims[name].tolerance + 1 for name in claims)


def padded(values: npt.NDArray[Any], block: int, slots: int, fill: Any) -> npt.NDArray[Any]:
    """The values of block ``block``, padded with ``fill`` to ``slots`` entries."""
    part = values[block * slots : (block + 1) * slots]
    out = np.full(slots, fill, dtype=values.dtype)
    out[: len(part)] = part
    return out


def answer_claims(
    context: Any,
    params: ParamSet,
    product: VerificationProduct,
    claimed: Mapping[str, Sequence[Any]],
    records: ProductRecords,
    rows: I64,
    zeros: list[Any],
) -> tuple[ClaimAnswer, ...]:
    """Match every claim column, block by block; replies serialized.

    A slot is live when its subject was found and its recorded value is comparable. ``zeros``
    holds one fresh encryption of zero per reply ciphertext (:func:`replies_needed`); they are
    used up.
    """
    slots = params.slot_count
    found = rows >= 0
    answers = []
    for name, vectors in claimed.items():
        claim = product.claims[name]
        codes, comparable = claim_codes(records.values(name, rows), claim.unit)
        live = found & comparable
        blobs: list[bytes] = []
        for block, vector in enumerate(vectors):
            replies = match_block(
                context,
                vector,
                padded(codes, block, slots, 0),
                padded(live, block, slots, False),
                claim.tolerance,
                params,
                [zeros.pop() for _ in range(2 * claim.tolerance + 1)],
            )
            blobs += [reply.serialize() for reply in replies]
        answers.append(ClaimAnswer(name, 2 * claim.tolerance + 1, tuple(blobs)))
    return tuple(answers)


def answer_scores(
    params: ParamSet,
    model: ScoreModel,
    features: Sequence[Sequence[Any]],
    zone_part: F64,
    live: Flags,
    zeros: list[Any],
) -> tuple[bytes, ...]:
    """Score every block; ``features[j][b]`` is caller feature ``j`` of block ``b``.

    ``zeros`` holds one fresh encryption of zero per block; they are used up.
    """
    slots = params.slot_count
    blobs = []
    for block in range(block_count(len(live), slots)):
        reply = score_block(
            zeros.pop(),
            [vectors[block] for vectors in features],
            model.caller_weights,
            padded(zone_part, block, slots, 0.0),
            padded(live, block, slots, False),
            model.noise_stddev,
        )
        blobs.append(reply.serialize())
    return tuple(blobs)
