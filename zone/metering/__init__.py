"""Metering: call quotas, per-call and per-job prices, usage, and revenue shares to providers.

Products call :meth:`Metering.charge` when a call or job is admitted (see
:mod:`zone.metering.meter` for the guarantees); :mod:`zone.metering.reports` turns the usage
into reports for administrators and reconciles them with the audit chain. No grpc here.
"""

from zone.metering.meter import Charge, Metering, ProvidersOf, QuotaExhausted, utc_now
from zone.metering.pricing import (
    UNASSIGNED,
    UNITS,
    Priced,
    Unit,
    iso,
    month_start,
    price_of,
    split,
    window_end,
    window_start,
)
from zone.metering.reports import (
    AuditTotals,
    Period,
    RevenueRow,
    UsageRow,
    revenue_report,
    totals_from_audit,
    usage_report,
)

__all__ = [
    "UNASSIGNED",
    "UNITS",
    "AuditTotals",
    "Charge",
    "Metering",
    "Period",
    "Priced",
    "ProvidersOf",
    "QuotaExhausted",
    "RevenueRow",
    "Unit",
    "UsageRow",
    "iso",
    "month_start",
    "price_of",
    "revenue_report",
    "split",
    "totals_from_audit",
    "usage_report",
    "utc_now",
    "window_end",
    "window_start",
]
