"""Running the scoring circuit block by block over a call's subjects, serializing the replies.

Two layouts (the request's ``lanes``, L):

- L = 1: one caller feature per ciphertext, subjects in blocks of ``slots`` (subject ``i`` in
  block ``i // slots``, slot ``i % slots``).
- L >= 2 (packed): a call of ``n <= W = slots // L`` subjects is one block, and L features
  share a ciphertext: feature ``j`` sits in ciphertext ``j // L``, lane ``j % L``, slots
  ``[(j % L) * W, (j % L) * W + n)``. The zone multiplies each ciphertext by its lanes' public
  caller weights (0 outside the live slots), sums, and adds ``z + e`` in lane 0 only; the
  caller sums the lanes of each subject after decrypting. A call of 2,048 subjects with two
  caller features then costs one ciphertext each way instead of two, and half the plaintext
  products. The caller reads each lane's partial sum ``sum_j w_j x_j`` apart: the caller-side
  weights are public (DescribeProduct publishes them, and one call with chosen inputs reads
  any of them anyway), so this tells it nothing its inputs and the catalog do not; the zone's
  part ``z`` and the flooding noise enter lane 0 exactly as in the unpacked layout
  (docs/SECURITY.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zone.errors import InvalidArgument
from zone.products.verification.models import ScoreModel
from zone.products.verification.replies import Ciphertexts
from zone.products.verification.score import combine_planes, protect, score_block
from zone.products.verification.validate import load_vector
from zone.wire.he_params import ParamSet

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


def block_count(subjects: int, slots: int) -> int:
    """Blocks needed for ``subjects`` subjects at ``slots`` per block."""
    return -(-subjects // slots)


def check_lanes(lanes: int, subjects: int, features: int, slots: int) -> int:
    """The call's lanes (0 reads as 1), or refuse a layout that does not fit.

    Raises:
        InvalidArgument: more lanes than caller features, or more subjects than a lane holds.
    """
    lanes = max(1, lanes)
    if lanes > 1 and (lanes > features or subjects > slots // lanes):
        raise InvalidArgument(
            f"lanes {lanes}: at most one per caller feature ({features}), and at most "
            f"slots / lanes ({slots // lanes}) subjects per call",
            reason="bad_lanes",
        )
    return lanes


def blocks_expected(lanes: int, subjects: int, features: int, slots: int) -> list[int]:
    """Ciphertexts each caller feature carries (packed: only the first of each lane group)."""
    if lanes == 1:
        return [block_count(subjects, slots)] * features
    return [1 if j % lanes == 0 else 0 for j in range(features)]


def load_features(
    context: Any, params: ParamSet, groups: Sequence[Ciphertexts], lanes: int, subjects: int
) -> list[list[Any]]:
    """Every caller ciphertext loaded and checked (``validate.load_vector``), per feature.

    Raises:
        InvalidArgument: a feature with the wrong number of ciphertexts for the layout, or a
            ciphertext that fails the checks.
    """
    slots = params.slot_count
    expected = blocks_expected(lanes, subjects, len(groups), slots)
    loaded = []
    for group, blocks in zip(groups, expected, strict=True):
        if len(group.blocks) != blocks:
            raise InvalidArgument(
                f"feature {group.name!r}: expected {blocks} ciphertext(s), one per block of "
                f"{slots} subjects (packed calls: one for the first feature of each lane "
                "group, none for the others)",
                reason="bad_block_count",
            )
        loaded.append(
            [
                load_vector(context, params, blob, f"feature {group.name!r} block {b}")
                for b, blob in enumerate(group.blocks)
            ]
        )
    return loaded


def padded(values: npt.NDArray[Any], block: int, slots: int, fill: Any) -> npt.NDArray[Any]:
    """The values of block ``block``, padded with ``fill`` to ``slots`` entries."""
    part = values[block * slots : (block + 1) * slots]
    out = np.full(slots, fill, dtype=values.dtype)
    out[: len(part)] = part
    return out


def answer_scores(
    params: ParamSet,
    model: ScoreModel,
    features: Sequence[Sequence[Any]],
    zone_part: F64,
    live: Flags,
    zeros: list[Any],
    lanes: int = 1,
    context: Any = None,
) -> tuple[bytes, ...]:
    """Score every block; ``features[j][b]`` is caller feature ``j`` of block ``b``.

    ``zeros`` holds fresh encryptions of zero made ahead, used up one per block; a block
    without one encrypts its protection values now under ``context`` (``score.protect``).
    With ``lanes`` >= 2 (checked by :func:`check_lanes`) the call is one packed block
    (module docstring).
    """
    slots = params.slot_count
    if lanes > 1:
        zero = zeros.pop() if zeros else None
        return (_packed_block(params, model, features, zone_part, live, zero, lanes, context),)
    blobs = []
    for block in range(block_count(len(live), slots)):
        reply = score_block(
            zeros.pop() if zeros else None,
            [vectors[block] for vectors in features],
            model.caller_weights,
            padded(zone_part, block, slots, 0.0),
            padded(live, block, slots, False),
            model.noise_stddev,
            context,
        )
        blobs.append(reply.serialize())
    return tuple(blobs)


def _packed_block(
    params: ParamSet,
    model: ScoreModel,
    features: Sequence[Sequence[Any]],
    zone_part: F64,
    live: Flags,
    zero: Any | None,
    lanes: int,
    context: Any,
) -> bytes:
    slots, count = params.slot_count, len(live)
    width = slots // lanes
    weights = model.caller_weights
    vectors, multipliers = [], []
    for first in range(0, len(weights), lanes):
        multiplier = np.zeros(slots)
        for lane, weight in enumerate(weights[first : first + lanes]):
            multiplier[lane * width : lane * width + count] = np.where(live, weight, 0.0)
        vectors.append(features[first][0])
        multipliers.append(multiplier)
    readable = np.zeros(slots, dtype=bool)
    for lane in range(lanes):
        readable[lane * width : lane * width + count] = live
    reply = protect(
        zero,
        combine_planes(vectors, multipliers),
        padded(zone_part, 0, slots, 0.0),
        padded(live, 0, slots, False),
        model.noise_stddev,
        readable,
        context,
    )
    blob: bytes = reply.serialize()
    return blob
