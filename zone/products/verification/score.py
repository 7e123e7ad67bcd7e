"""The encrypted joint-scoring circuit (CKKS, feature-major, plaintext operations only).

For one block of up to ``slot_count`` subjects the caller sends one ciphertext per caller
feature ``j`` holding ``x[j, s]`` (its scaled feature for subject ``s`` in slot ``s``). The zone
computes, per slot::

    logit[s] = sum_j x[j, s] * w[j] * live[s]        (plaintext multiply, rescaled)
             + Enc(0) + (z[s] + e[s])    for live slots
             + Enc(0) + u[s]             for every other slot

with ``z[s] = intercept + sum_i v[i] * zone_feature[i, s]`` (the zone's own part, from public
scaling), ``e[s] ~ N(0, noise_stddev^2)`` fresh flooding noise and ``u[s]`` uniform on
(-2^30, 2^30], and ``Enc(0)`` a fresh public-key encryption of zero under the caller's key (made
ahead of the call by a worker, see :mod:`zeros`; each is used once). When none is ready,
``Enc(0) + v`` is made as one public-key encryption of the plaintext ``v`` (SEAL encrypts ``v``
exactly so: a fresh encryption of zero plus ``v``). No rotation and no relinearization keys are
needed.

What the fresh encryption protects: it rerandomizes the reply, so a caller that crafts its
input ciphertexts (e.g. a ``c1`` polynomial of its choosing) can no longer read the zone's
plaintext weights and ``z`` off the reply's polynomials: a naive reply ``(c0 * W + Z, c1 * W)``
gives them away (a test runs that attack both ways).

What the flooding noise protects, and what it does not: ``e`` hides the low-order bits of each
logit, where CKKS's own approximation errors (which depend on the zone's plaintexts) sit; its
standard deviation is public (product parameter ``noise_stddev``). It is not a formal
circuit-privacy or differential-privacy guarantee: CKKS errors grow with the caller's inputs,
and the caller can choose inputs far outside [0, 1]. The caller legitimately learns
``w . x + z + e`` per subject; enough well-chosen queries reveal ``w`` (and ``z``), which is why
scoring counts against a per-model query budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import tenseal as ts

from zone.products.verification.randomness import gaussian, uniform_symmetric

F64 = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]

FILL_BOUND = 2.0**30
"""Masked slots are filled with values uniform on (-FILL_BOUND, FILL_BOUND]."""


def combine_planes(vectors: Sequence[Any], multipliers: Sequence[F64]) -> Any | None:
    """``sum_j vectors[j] * multipliers[j]`` slot-wise: the caller's part, unprotected.

    Never returned to a caller as is: :func:`protect` must be applied. None without vectors.
    """
    total = None
    for vector, multiplier in zip(vectors, multipliers, strict=True):
        # TenSEAL's C++ vector: its Python wrapper re-copies every operand.
        term = vector.data.mul_plain(multiplier.tolist())
        if total is None:
            total = term
        else:
            total.add_(term)
    return None if total is None else ts.CKKSVector._wrap(total)


def combine(vectors: Sequence[Any], weights: Sequence[float], live: Flags) -> Any | None:
    """``sum_j vectors[j] * (weights[j] * live)``: one feature per vector (``combine_planes``)."""
    return combine_planes(vectors, [np.where(live, weight, 0.0) for weight in weights])


def protection_values(
    zone_part: F64, live: Flags, noise_stddev: float, readable: Flags | None = None
) -> F64:
    """What the fresh encryption carries: ``z + e`` in live slots, uniform fill elsewhere.

    ``readable`` (packed calls, :mod:`compute`): further slots the caller reads, which get 0
    (they carry a partial sum of the caller's own features times public weights); every
    slot neither live nor readable is filled.
    """
    slots = len(live)
    noisy = zone_part + gaussian(noise_stddev, slots)
    other = uniform_symmetric(FILL_BOUND, slots)
    if readable is not None:
        other = np.where(readable, 0.0, other)
    return np.where(live, noisy, other)


def protect(
    zero: Any | None,
    partial: Any | None,
    zone_part: F64,
    live: Flags,
    noise_stddev: float,
    readable: Flags | None = None,
    context: Any = None,
) -> Any:
    """Add the zone's part, the flooding noise and the masks to a fresh encryption of zero.

    Args:
        zero: A fresh encryption of zero under the caller's key (TenSEAL C++ vector, used up),
            or None: the values are then encrypted now under ``context`` with the caller's
            public key, which is the same (SEAL encrypts ``m`` as a fresh public-key
            encryption of zero plus ``m``) without encoding the zero vector and adding.
        partial: :func:`combine`'s result, or None when the model has no caller features.
        zone_part: ``z`` per slot (ignored where not live).
        live: Slots that get ``z + e``.
        noise_stddev: Standard deviation of the flooding noise.
        readable: Further slots the caller may read (see :func:`protection_values`).
        context: The caller's public context (needed when ``zero`` is None).

    Returns:
        The reply ``CKKSVector``.

    Raises:
        ValueError: neither ``zero`` nor ``context``.
    """
    values = protection_values(zone_part, live, noise_stddev, readable).tolist()
    if zero is None:
        if context is None:
            raise ValueError("protect needs a fresh encryption of zero or the public context")
        zero = ts._ts_cpp.CKKSVector(context.data, values, context.global_scale)
    else:
        zero.add_plain_(values)
    if partial is None:
        return ts.CKKSVector._wrap(zero)
    return ts.CKKSVector._wrap(partial.data.add(zero))


def score_block(
    zero: Any | None,
    vectors: Sequence[Any],
    weights: Sequence[float],
    zone_part: F64,
    live: Flags,
    noise_stddev: float,
    context: Any = None,
) -> Any:
    """The protected reply for one block: :func:`combine` then :func:`protect`."""
    partial = combine(vectors, weights, live)
    return protect(zero, partial, zone_part, live, noise_stddev, context=context)
