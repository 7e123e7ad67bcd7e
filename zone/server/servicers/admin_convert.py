"""AdminService report proto <-> domain conversion (budgets, usage, revenue, audit pages)."""

from __future__ import annotations

from datetime import UTC

from google.protobuf import timestamp_pb2

from zone._proto import admin_pb2
from zone.admin import AuditPage, BudgetReport
from zone.audit import VerifyResult
from zone.errors import InvalidArgument
from zone.ledger import Amount
from zone.metering import Period, RevenueRow, UsageRow
from zone.serving import Activation, ReloadResult


def period_from_proto(
    start: timestamp_pb2.Timestamp, end: timestamp_pb2.Timestamp, *, has_start: bool, has_end: bool
) -> Period:
    """A UTC period from optional timestamps.

    Raises:
        InvalidArgument: a timestamp is out of range, or start is not before end.
    """
    try:
        period = Period(
            start.ToDatetime(tzinfo=UTC) if has_start else None,
            end.ToDatetime(tzinfo=UTC) if has_end else None,
        )
    except (ValueError, OverflowError):
        raise InvalidArgument("timestamp out of range", reason="bad_period") from None
    if period.start is not None and period.end is not None and period.start >= period.end:
        raise InvalidArgument("period start must be before its end", reason="bad_period")
    return period


def _amount(a: Amount) -> admin_pb2.BudgetAmount:
    return admin_pb2.BudgetAmount(epsilon_micro=a.epsilon_micro, delta_femto=a.delta_femto)


def budgets_to_proto(report: BudgetReport) -> admin_pb2.GetBudgetsResponse:
    """Every account and dataset cap."""
    reply = admin_pb2.GetBudgetsResponse()
    for b in report.budgets:
        reply.budgets.add(
            principal=b.principal,
            dataset=b.dataset,
            limit=_amount(b.limit),
            spent=_amount(b.spent),
            remaining=_amount(b.remaining),
            granted=b.granted,
        )
    for c in report.caps:
        cap = reply.caps.add(dataset=c.dataset, spent=_amount(c.spent))
        if c.cap is not None and c.remaining is not None:
            cap.cap.CopyFrom(_amount(c.cap))
            cap.remaining.CopyFrom(_amount(c.remaining))
    return reply


def usage_to_proto(rows: list[UsageRow]) -> admin_pb2.GetUsageResponse:
    """Usage rows, amounts in micro-units."""
    return admin_pb2.GetUsageResponse(
        rows=[
            admin_pb2.UsageRow(
                principal=r.principal,
                product=r.product,
                currency=r.currency,
                calls=r.calls,
                jobs=r.jobs,
                unbilled=r.unbilled,
                amount_micro=r.amount_micro,
                waived_micro=r.waived_micro,
            )
            for r in rows
        ]
    )


def revenue_to_proto(rows: list[RevenueRow]) -> admin_pb2.GetRevenueResponse:
    """Revenue rows, amounts in micro-units."""
    return admin_pb2.GetRevenueResponse(
        rows=[
            admin_pb2.RevenueRow(
                provider=r.provider,
                currency=r.currency,
                amount_micro=r.amount_micro,
                charges=r.charges,
            )
            for r in rows
        ]
    )


def audit_page_to_proto(page: AuditPage) -> admin_pb2.QueryAuditResponse:
    """One page of audit records as stored."""
    return admin_pb2.QueryAuditResponse(
        records=[
            admin_pb2.AuditRecord(
                seq=r.seq,
                time=r.ts,
                kind=r.kind,
                record_json=r.record_json,
                hash=r.hash,
                prev_hash=r.prev_hash,
            )
            for r in page.rows
        ],
        next_page_token=page.next_page_token,
    )


def reload_response(result: ReloadResult) -> admin_pb2.ReloadPoliciesResponse:
    """Outcome of a policy reload."""
    return admin_pb2.ReloadPoliciesResponse(
        policy_digest=result.digest,
        previous_digest=result.previous_digest,
        principals=result.principals,
        grants=result.grants,
        products=result.products,
        dataset_versions=dict(result.datasets),
        serving_digest=result.serving_digest,
    )


def activation_response(result: Activation) -> admin_pb2.ActivateDatasetResponse:
    """Outcome of a dataset activation."""
    return admin_pb2.ActivateDatasetResponse(
        name=result.dataset,
        version=result.version,
        previous_version=result.previous_version,
        report_digest=result.report_digest,
        policy_digest=result.policy_digest,
    )


def verify_response(result: VerifyResult) -> admin_pb2.VerifyAuditResponse:
    """Outcome of an audit chain verification."""
    return admin_pb2.VerifyAuditResponse(
        ok=result.ok,
        length=result.length,
        head_hash=result.head_hash,
        first_bad_seq=result.first_bad_seq,
        reason=result.reason,
    )
