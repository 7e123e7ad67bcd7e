"""Money and shares as exact decimals, stored as integer micro-units (1e-6 of the currency).

Prices in policies and revenue shares in dataset metadata are written as YAML numbers (or
quoted decimal strings). A YAML float is converted through its shortest round-trip decimal
(``repr``), which is exactly the decimal written in the file for every value this module
accepts (at most 15 significant digits: up to 10^9 with 6 decimal places), so ``0.05`` is
50,000 micro-units, never its binary expansion. Values that are not a whole number of
micro-units are refused rather than rounded: no rounding happens when a price is read. The
ledger stores and sums only integers; the one place where money is divided (a charge split
among data providers) uses largest remainders, so the parts always sum to the whole.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

MICRO = 10**6
"""Micro-units per currency unit (and parts per million of a share)."""

PLACES = 6
MAX_AMOUNT = Decimal(10**9)
_DECIMAL_TEXT = re.compile(r"^[0-9]{1,10}(\.[0-9]{1,12})?$")


def parse_decimal(value: object) -> Decimal:
    """An exact, finite, non-negative decimal with at most 6 decimal places, at most 10^9.

    Accepts an int, a float (through its shortest round-trip decimal) or a decimal string
    such as ``"0.05"``; refuses booleans, exponents, signs and anything else.

    Raises:
        ValueError: with a message fit for a policy or metadata problem.
    """
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        amount = Decimal(repr(value))
    elif isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value.strip()):
        amount = Decimal(value.strip())
    else:
        raise ValueError("must be a decimal number such as 0.05")
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be a finite number >= 0")
    if amount > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT:,}")
    if to_micro_exact(amount) is None:
        raise ValueError(f"must have at most {PLACES} decimal places (micro-units)")
    return amount


def to_micro_exact(amount: Decimal) -> int | None:
    """``amount`` in micro-units, or None when it is not a whole number of micro-units."""
    try:
        scaled = amount.scaleb(PLACES)
        whole = int(scaled)
    except (InvalidOperation, OverflowError, ValueError):
        return None
    return whole if scaled == whole else None


def to_micro(amount: Decimal) -> int:
    """``amount`` (already validated by :func:`parse_decimal`) in micro-units.

    Raises:
        ValueError: ``amount`` is not a whole number of micro-units.
    """
    micro = to_micro_exact(amount)
    if micro is None:
        raise ValueError(f"{amount} is not a whole number of micro-units")
    return micro


def format_micro(micro: int) -> str:
    """Micro-units as a decimal text with at least 2 places: 50000 -> ``"0.05"``."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    digits = f"{frac:06d}".rstrip("0")
    return f"{sign}{whole}.{digits.ljust(2, '0')}"
