"""The console's handlers, one function per route of ``zone.console.routes.ROUTES``."""

from zone.console.pages.consents import consents
from zone.console.pages.evidence import audit, audit_verify, receipt, releases
from zone.console.pages.overview import overview
from zone.console.pages.own import own_page, own_receipt
from zone.console.pages.registry import datasets, jobs, principals, products
from zone.console.pages.session import login, login_form, logout, metrics, stylesheet
from zone.console.pages.supervision import (
    acknowledge_alert,
    alerts,
    evaluate_alerts,
    exit_principal,
    operator_report,
    operators,
    quarantine_dataset,
    release_dataset,
    restore_model,
    resume,
    revoke_model,
    suspend,
)

__all__ = [
    "acknowledge_alert",
    "alerts",
    "audit",
    "audit_verify",
    "consents",
    "datasets",
    "evaluate_alerts",
    "exit_principal",
    "jobs",
    "login",
    "login_form",
    "logout",
    "metrics",
    "operator_report",
    "operators",
    "overview",
    "own_page",
    "own_receipt",
    "principals",
    "products",
    "receipt",
    "releases",
    "quarantine_dataset",
    "release_dataset",
    "restore_model",
    "resume",
    "revoke_model",
    "stylesheet",
    "suspend",
]
