"""Pure pricing rules: quota windows, the price of one call or job, and revenue splits.

Everything here is integer arithmetic on micro-units (see :mod:`zone.money`); nothing reads
the clock or the database, so each rule can be tested on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from zone.money import MICRO, to_micro
from zone.policy import Grant, QuotaWindow

Unit = Literal["call", "job"]
UNITS: tuple[Unit, ...] = ("call", "job")

UNASSIGNED = "(unassigned)"
"""Provider of the revenue of a dataset whose metadata names no providers (never a valid id)."""

_WINDOW_LENGTH: dict[QuotaWindow, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


def window_start(window: QuotaWindow, now: datetime) -> datetime:
    """Start of the fixed UTC window holding ``now`` (minute, hour or calendar day)."""
    now = now.astimezone(UTC)
    if window == "minute":
        return now.replace(second=0, microsecond=0)
    if window == "hour":
        return now.replace(minute=0, second=0, microsecond=0)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def window_end(window: QuotaWindow, now: datetime) -> datetime:
    """When the window holding ``now`` ends (the quota resets)."""
    return window_start(window, now) + _WINDOW_LENGTH[window]


def month_start(now: datetime) -> datetime:
    """Start of the UTC calendar month holding ``now`` (volume tiers count from here)."""
    return window_start("day", now).replace(day=1)


def iso(moment: datetime) -> str:
    """The one text form of times in metering tables: UTC ISO-8601 with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Priced:
    """What one call or job costs under a grant.

    Attributes:
        currency: ISO 4217 code; ``""`` when the grant has no price.
        list_micro: The grant's price for this unit (tier applied).
        amount_micro: What is charged: ``list_micro``, or 0 for a public-interest grant.
        tier: Index of the volume tier applied; -1 for a flat price.
    """

    currency: str
    list_micro: int
    amount_micro: int
    tier: int


def price_of(grant: Grant, unit: Unit, units_before: int) -> Priced:
    """The price of the unit made after ``units_before`` units of the same kind this month.

    Calls use the grant's volume tiers when it has them (graduated: only calls beyond a
    threshold get that tier's price); jobs cost ``per_job``. A public-interest grant is free:
    ``amount_micro`` is 0, and ``list_micro`` keeps what was waived.
    """
    price = grant.price
    if price is None:
        return Priced("", 0, 0, -1)
    if unit == "call":
        list_micro, tier = price.call_price(units_before)
    else:
        list_micro, tier = price.per_job_micro, -1
    amount = 0 if grant.public_interest else list_micro
    return Priced(price.currency, list_micro, amount, tier)


def split(amount_micro: int, shares: Sequence[tuple[str, Decimal]]) -> list[tuple[str, int]]:
    """Split ``amount_micro`` among providers by their shares; the parts sum exactly to it.

    Largest remainder (Hamilton): each provider first gets the floor of its exact part;
    the micro-units left over (fewer than the number of providers) go one each to the largest
    fractional remainders, ties broken by provider id. Shares are exact decimals with at most
    6 places summing to 1 (validated with the metadata); without shares everything goes to
    :data:`UNASSIGNED`.

    Raises:
        ValueError: the amount is negative or the shares do not sum to exactly 1.
    """
    if amount_micro < 0:
        raise ValueError("amount must not be negative")
    if not shares:
        return [(UNASSIGNED, amount_micro)]
    ppm = [(provider, to_micro(share)) for provider, share in shares]
    if sum(p for _, p in ppm) != MICRO:
        raise ValueError("shares must sum to exactly 1")
    parts = {provider: amount_micro * p // MICRO for provider, p in ppm}
    left = amount_micro - sum(parts.values())
    by_remainder = sorted(ppm, key=lambda item: (-(amount_micro * item[1] % MICRO), item[0]))
    for provider, _ in by_remainder[:left]:
        parts[provider] += 1
    return [(provider, parts[provider]) for provider, _ in ppm]
