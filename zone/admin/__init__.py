"""Read-only views for administrators: budgets and the audit chain (no grpc here).

Usage and revenue reports live in :mod:`zone.metering.reports`.
"""

from zone.admin.audit_query import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    AuditFilter,
    AuditPage,
    query_audit,
)
from zone.admin.budgets import BudgetLine, BudgetReport, CapLine, budget_report

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "AuditFilter",
    "AuditPage",
    "BudgetLine",
    "BudgetReport",
    "CapLine",
    "budget_report",
    "query_audit",
]
