"""The encrypted match circuit (BFV, plaintext operations only, no depth).

For one claim column and one block of ``slot_count`` subjects the caller sends ``Enc(c)`` (its
claimed codes in slots). With ``v`` the zone's codes and tolerance ``t``, the zone returns
``2t + 1`` ciphertexts; in each slot ``s`` the ``k``-th holds::

    r[k, s] * c[s]  +  r[k, s] * (o[k, s] - v[s])  +  Enc(0)     (live slots)
             0      +  m[k, s]                  +  Enc(0)     (masked slots)

where ``o[., s]`` is a fresh random permutation of the offsets ``-t .. t`` (so the position of a
zero tells nothing), ``r`` and ``m`` are fresh uniform non-zero values modulo the plain modulus
``p`` (prime), and ``Enc(0)`` is a fresh public-key encryption of zero under the caller's key
(made ahead of the call when the zone was idle, see :mod:`fresh`; each is used once). The
circuit is one plaintext multiplication and one plaintext addition per reply. Since
``|c - v + o| <= 2 * MAX_CLAIM_CODE + MAX_TOLERANCE < p`` for comparable codes, a slot decrypts
to 0 for exactly one ``k`` when ``|c - v| <= t``, and otherwise every ``k`` decrypts to a value
uniform on ``1 .. p-1``: the caller learns match or no match, nothing about ``v``.

Masked slots: subjects not in the dataset (reported as such in clear), subjects whose value is
NULL or not comparable (so they read as *no match*), and unused slots beyond the last subject.

What rerandomization does and does not give: the fresh encryption makes the reply's
ciphertext a fresh-looking encryption (it hides ``r`` and ``v`` from anyone reading the
ciphertext's polynomials, which a naive reply reveals to a caller that crafts its input), but
the reply's decryption *noise* still depends on ``r`` times the caller's input noise. A caller
that crafts inputs with chosen noise and holds the secret key may learn about ``r`` from it.
This is not circuit privacy in the formal sense (that needs noise flooding with a larger
modulus); see docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import tenseal as ts

from zone.catalog._verification import MAX_CLAIM_CODE
from zone.products.verification.randomness import slot_permutations, uniform_nonzero
from zone.wire.he_params import ParamSet

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

_WHOLE = 1e-6  # tolerance for float rounding when dividing a value by its unit


def claim_codes(values: F64, unit: float) -> tuple[I64, Flags]:
    """Codes ``value / unit`` and whether each is comparable.

    Comparable: finite, a whole number of units (up to float rounding), ``|code| <=
    MAX_CLAIM_CODE``. A value that is not comparable never matches.
    """
    with np.errstate(invalid="ignore"):
        scaled = values / unit
        codes = np.rint(scaled)
        ok = np.isfinite(scaled) & (
            np.abs(scaled - codes) <= _WHOLE * np.maximum(1.0, np.abs(scaled))
        )
        ok &= np.abs(codes) <= MAX_CLAIM_CODE
    return np.where(ok, codes, 0).astype(np.int64), ok


def block_plaintexts(
    codes: I64, live: Flags, tolerance: int, params: ParamSet
) -> list[tuple[list[int], list[int]]]:
    """The plaintext vectors of one block: per candidate the factor ``r`` and the addend.

    The addend is ``r * (offset - v)`` in live slots and the mask ``m`` elsewhere (where ``r``
    is 0), both modulo ``p``.

    Args:
        codes: The zone's codes for the block's slots (``slot_count`` entries).
        live: Slots the caller may read.
        tolerance: The claim's tolerance ``t``.
        params: The BFV parameter set.

    Returns:
        ``2t + 1`` pairs of Python int lists (what TenSEAL takes), each of ``slot_count``.
    """
    p = np.uint64(params.plain_modulus)
    slots = params.slot_count
    offsets = slot_permutations(slots, 2 * tolerance + 1) - tolerance
    out = []
    for k in range(2 * tolerance + 1):
        shift = np.mod(offsets[:, k] - codes, params.plain_modulus).astype(np.uint64)
        factor = np.where(live, uniform_nonzero(params.plain_modulus, slots), np.uint64(0))
        # shift, factor < p < 2^26: the product fits in 64 bits before reduction.
        addend = np.where(live, shift * factor % p, uniform_nonzero(params.plain_modulus, slots))
        out.append((factor.tolist(), addend.tolist()))
    return out


def match_block(
    context: Any,
    claimed: Any,
    codes: I64,
    live: Flags,
    tolerance: int,
    params: ParamSet,
    zeros: list[Any],
) -> list[Any]:
    """The ``2t + 1`` reply vectors for one block (see the module docstring).

    Args:
        context: The caller's public context.
        claimed: The caller's ``BFVVector`` of claimed codes (validated).
        codes: The zone's codes per slot.
        live: Slots the caller may read.
        tolerance: The claim's tolerance.
        params: The BFV parameter set.
        zeros: ``2t + 1`` fresh encryptions of zero under ``context`` (TenSEAL C++ vectors,
            consumed: each is added into one reply).

    Returns:
        ``BFVVector`` replies, rerandomized with the fresh encryptions.
    """
    replies = []
    native = claimed.data  # TenSEAL's C++ vector: its Python wrapper re-copies every operand
    plaintexts = block_plaintexts(codes, live, tolerance, params)
    for (factor, addend), zero in zip(plaintexts, zeros, strict=True):
        zero.add_plain_(addend)
        zero.add_(native.mul_plain(factor))
        replies.append(ts.BFVVector._wrap(zero))
    return replies
