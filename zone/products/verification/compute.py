"""Running the scoring circuit block by block over a call's subjects, serializing the replies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from zone.products.verification.models import ScoreModel
from zone.products.verification.score import score_block
from zone.wire.he_params import ParamSet

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]


def block_count(subjects: int, slots: int) -> int:
    """Blocks needed for ``subjects`` subjects at ``slots`` per block."""
    return -(-subjects // slots)


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
