"""Randomness for masks, permutations and flooding noise, from the OS's CSPRNG only.

The masks hide the zone's values: a caller who could predict them could divide them out of a
reply (``r * (claim - true)`` reveals ``true`` once ``r`` is known). So nothing here uses a
seedable generator (numpy's PCG64 state can be recovered from its outputs); every draw comes
from ``os.urandom``. Reduction of 64 random bits modulo a 26-bit modulus has a bias below
2^-38 per value, which is negligible for masks.
"""

from __future__ import annotations

import math
import os

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]


def random_u64(shape: int | tuple[int, ...]) -> U64:
    """Uniform 64-bit integers from the OS CSPRNG."""
    count = math.prod(shape) if isinstance(shape, tuple) else shape
    raw = np.frombuffer(os.urandom(8 * count), dtype=np.uint64)
    return raw.reshape(shape).copy()


def uniform_nonzero(modulus: int, count: int) -> U64:
    """``count`` values uniform on 1 .. modulus - 1 (bias < 2^-38 for moduli below 2^26)."""
    return random_u64(count) % np.uint64(modulus - 1) + np.uint64(1)


def uniform_unit(count: int) -> F64:
    """``count`` floats uniform on (0, 1] with 53 random bits each."""
    return ((random_u64(count) >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53


def gaussian(stddev: float, count: int) -> F64:
    """``count`` draws of N(0, stddev^2) (Box-Muller on CSPRNG uniforms)."""
    radius = np.sqrt(-2.0 * np.log(uniform_unit(count)))
    return stddev * radius * np.cos(2.0 * np.pi * uniform_unit(count))


def uniform_symmetric(bound: float, count: int) -> F64:
    """``count`` floats uniform on (-bound, bound]."""
    return (2.0 * uniform_unit(count) - 1.0) * bound


def slot_permutations(slots: int, size: int) -> npt.NDArray[np.int64]:
    """One uniformly random permutation of ``0 .. size-1`` per slot: shape (slots, size).

    Sorting independent 64-bit keys gives a uniform permutation up to ties (probability below
    size^2 * 2^-64 per slot).
    """
    return np.argsort(random_u64((slots, size)), axis=1, kind="stable").astype(np.int64)
