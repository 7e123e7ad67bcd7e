"""The privacy ledger: integer budgets, atomic reservations, charges settled with receipts."""

from zone.ledger.ledger import (
    Account,
    Balance,
    BudgetExhausted,
    PrivacyLedger,
    Reservation,
)
from zone.ledger.units import FEMTO, MICRO, ZERO, Amount

__all__ = [
    "FEMTO",
    "MICRO",
    "ZERO",
    "Account",
    "Amount",
    "Balance",
    "BudgetExhausted",
    "PrivacyLedger",
    "Reservation",
]
