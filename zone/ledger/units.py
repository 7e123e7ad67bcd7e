"""Privacy amounts as integers: micro-epsilon and femto-delta.

Costs round up and limits round down, so integer rounding can only make the ledger stricter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

MICRO = 10**6
FEMTO = 10**15


def _scaled(value: float, scale: int, *, up: bool) -> int:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"privacy amount must be finite and >= 0, got {value!r}")
    # The shortest decimal that round-trips the float: 0.1 is charged as 100,000 micro-epsilon,
    # not as its binary expansion 0.1000000000000000055... (which would round up to 100,001).
    exact = Decimal(repr(float(value))) * scale
    return math.ceil(exact) if up else math.floor(exact)


@dataclass(frozen=True, order=True)
class Amount:
    """An (epsilon, delta) pair in integer units."""

    epsilon_micro: int
    delta_femto: int

    @classmethod
    def cost(cls, epsilon: float, delta: float = 0.0) -> Amount:
        """A cost, rounded up to the next unit."""
        return cls(_scaled(epsilon, MICRO, up=True), _scaled(delta, FEMTO, up=True))

    @classmethod
    def limit(cls, epsilon: float, delta: float = 0.0) -> Amount:
        """A limit, rounded down to the unit."""
        return cls(_scaled(epsilon, MICRO, up=False), _scaled(delta, FEMTO, up=False))

    @property
    def epsilon(self) -> float:
        """Epsilon as a float (for display)."""
        return self.epsilon_micro / MICRO

    @property
    def delta(self) -> float:
        """Delta as a float (for display)."""
        return self.delta_femto / FEMTO

    def minus(self, other: Amount) -> Amount:
        """What is left of ``self`` after ``other`` (never negative)."""
        return Amount(
            max(0, self.epsilon_micro - other.epsilon_micro),
            max(0, self.delta_femto - other.delta_femto),
        )

    def fits_in(self, other: Amount) -> bool:
        """Both components are at most ``other``'s."""
        return self.epsilon_micro <= other.epsilon_micro and self.delta_femto <= other.delta_femto


ZERO = Amount(0, 0)
