"""AdminService: policy reload, audit verification and the admin views (admin role only)."""

from __future__ import annotations

import grpc

from zone._proto import admin_pb2, admin_pb2_grpc
from zone.admin import AuditFilter, budget_report, query_audit
from zone.audit import canonical_json
from zone.clock import today_utc
from zone.errors import FailedPrecondition, ValidationFailed
from zone.server.call import current_call
from zone.server.servicers import admin_convert


class PolicySetRejected(ValidationFailed, FailedPrecondition):
    """The policies on disk are invalid; the running set stays in force."""

    code = FailedPrecondition.code


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    """Administration of a running zone."""

    def ReloadPolicies(
        self, request: admin_pb2.ReloadPoliciesRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ReloadPoliciesResponse:
        """Validate and swap in policies/*.yaml; an invalid set is refused with every problem."""
        try:
            result = current_call().services.reload_policies()
        except ValidationFailed as exc:
            raise PolicySetRejected(exc.problems, what="policy reload (running set kept)") from exc
        return admin_convert.reload_response(result)

    def ActivateDataset(
        self, request: admin_pb2.ActivateDatasetRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ActivateDatasetResponse:
        """Serve another kept version of a dataset; an invalid set is refused, nothing changes."""
        call = current_call()
        try:
            result = call.services.activate_dataset(
                request.name, request.version, call.require_principal().id
            )
        except ValidationFailed as exc:
            raise PolicySetRejected(
                exc.problems, what="dataset activation (running set kept)"
            ) from exc
        return admin_convert.activation_response(result)

    def VerifyAudit(
        self, request: admin_pb2.VerifyAuditRequest, context: grpc.ServicerContext
    ) -> admin_pb2.VerifyAuditResponse:
        """Recompute the audit chain and report the first broken record."""
        return admin_convert.verify_response(current_call().services.verifier.verify())

    def GetBudgets(
        self, request: admin_pb2.GetBudgetsRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetBudgetsResponse:
        """Budgets per principal x dataset and the zone-wide caps."""
        call = current_call()
        report = budget_report(
            call.services.store,
            call.policies,
            today_utc(),
            principal=request.principal,
            dataset=request.dataset,
        )
        return admin_convert.budgets_to_proto(report)

    def GetUsage(
        self, request: admin_pb2.GetUsageRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetUsageResponse:
        """Metered usage per principal, product and currency in a period."""
        period = admin_convert.period_from_proto(
            request.start,
            request.end,
            has_start=request.HasField("start"),
            has_end=request.HasField("end"),
        )
        rows = current_call().services.metering.usage(
            period, principal=request.principal, product=request.product
        )
        return admin_convert.usage_to_proto(rows)

    def GetRevenue(
        self, request: admin_pb2.GetRevenueRequest, context: grpc.ServicerContext
    ) -> admin_pb2.GetRevenueResponse:
        """Revenue per provider and currency in a period."""
        period = admin_convert.period_from_proto(
            request.start,
            request.end,
            has_start=request.HasField("start"),
            has_end=request.HasField("end"),
        )
        rows = current_call().services.metering.revenue(period, provider=request.provider)
        return admin_convert.revenue_to_proto(rows)

    def QueryAudit(
        self, request: admin_pb2.QueryAuditRequest, context: grpc.ServicerContext
    ) -> admin_pb2.QueryAuditResponse:
        """One page of audit records matching the filters, oldest first."""
        period = admin_convert.period_from_proto(
            request.start,
            request.end,
            has_start=request.HasField("start"),
            has_end=request.HasField("end"),
        )
        flt = AuditFilter(request.principal, request.product, request.kind, period)
        current_call().services.audit.flush()  # journaled ``rpc`` records too
        page = query_audit(
            current_call().services.store,
            flt,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return admin_convert.audit_page_to_proto(page)

    def ExitPrincipal(
        self, request: admin_pb2.ExitPrincipalRequest, context: grpc.ServicerContext
    ) -> admin_pb2.ExitPrincipalResponse:
        """Remove a principal from the zone and answer its exit receipt (idempotent)."""
        call = current_call()
        done = call.services.exits.exit(
            request.principal,
            actor=call.require_principal(),
            note=request.note,
            request_id=call.request_id,
        )
        return admin_pb2.ExitPrincipalResponse(
            receipt_id=done.receipt_id,
            receipt_json=canonical_json(dict(done.receipt)),
            audit_seq=done.audit_seq,
            already_exited=done.already,
        )
