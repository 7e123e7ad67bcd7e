"""The zone's notion of today: validity windows of principals and grants are UTC days."""

from __future__ import annotations

from datetime import UTC, date, datetime


def today_utc() -> date:
    """The calendar day used for validity windows (UTC)."""
    return datetime.now(UTC).date()
