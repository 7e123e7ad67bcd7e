"""The SDK's administrator calls (admin role): reload, activation, audit, budgets, usage."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

import zone.client.admin as admin
import zone.client.types as types
from zone._proto import admin_pb2, admin_pb2_grpc, models_pb2, models_pb2_grpc

T = TypeVar("T")


class AdminCalls:
    """Administrator calls of :class:`~zone.client.client.ZoneClient` (mixed into it)."""

    _admin: admin_pb2_grpc.AdminServiceStub
    _models: models_pb2_grpc.ModelServiceStub

    def _call(self, method: Callable[..., T], request: Any) -> T:
        raise NotImplementedError  # provided by ZoneClient

    def reload_policies(self) -> types.PolicyReload:
        """Reload policies, products and the active dataset versions on the server (admin)."""
        reply = self._call(self._admin.ReloadPolicies, admin_pb2.ReloadPoliciesRequest())
        return types.PolicyReload(
            reply.policy_digest, reply.previous_digest, reply.principals, reply.grants,
            reply.products, dict(reply.dataset_versions), reply.serving_digest,
        )  # fmt: skip

    def activate_dataset(self, name: str, version: str) -> types.DatasetActivation:
        """Serve another kept version of a dataset (admin); ``version`` may be a hex prefix."""
        reply = self._call(
            self._admin.ActivateDataset,
            admin_pb2.ActivateDatasetRequest(name=name, version=version),
        )
        return types.DatasetActivation(
            reply.name, reply.version, reply.previous_version, reply.report_digest,
            reply.policy_digest,
        )  # fmt: skip

    def verify_audit(self) -> types.AuditVerification:
        """Recompute the server's audit chain (admin)."""
        reply = self._call(self._admin.VerifyAudit, admin_pb2.VerifyAuditRequest())
        return types.AuditVerification(
            reply.ok, reply.length, reply.head_hash, reply.first_bad_seq, reply.reason
        )

    def get_budgets(self, *, principal: str = "", dataset: str = "") -> admin.Budgets:
        """Budgets per principal x dataset and the zone-wide caps (admin)."""
        request = admin_pb2.GetBudgetsRequest(principal=principal, dataset=dataset)
        return admin.budgets_from_proto(self._call(self._admin.GetBudgets, request))

    def get_usage(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        principal: str = "",
        product: str = "",
    ) -> list[admin.UsageRow]:
        """Metered usage in [start, end) UTC per principal, product and currency (admin)."""
        request = admin_pb2.GetUsageRequest(principal=principal, product=product)
        _set_period(request, start, end)
        return admin.usage_from_proto(self._call(self._admin.GetUsage, request))

    def get_revenue(
        self, start: datetime | None = None, end: datetime | None = None, *, provider: str = ""
    ) -> list[admin.RevenueRow]:
        """Revenue in [start, end) UTC per data provider and currency (admin)."""
        request = admin_pb2.GetRevenueRequest(provider=provider)
        _set_period(request, start, end)
        return admin.revenue_from_proto(self._call(self._admin.GetRevenue, request))

    def query_audit(
        self,
        *,
        principal: str = "",
        product: str = "",
        kind: str = "",
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> admin.AuditPage:
        """One page of audit records matching the filters, oldest first (admin)."""
        request = admin_pb2.QueryAuditRequest(
            principal=principal,
            product=product,
            kind=kind,
            page_size=page_size,
            page_token=page_token,
        )
        _set_period(request, start, end)
        return admin.audit_page_from_proto(self._call(self._admin.QueryAudit, request))

    def iter_audit(self, **filters: Any) -> Iterator[admin.AuditRecord]:
        """Every audit record matching ``filters`` (as :meth:`query_audit`), page by page."""
        token = ""
        while True:
            page = self.query_audit(**filters, page_token=token)
            yield from page.records
            token = page.next_page_token
            if not token:
                return

    def exit_principal(self, principal: str, *, note: str = "") -> admin.PrincipalExit:
        """Remove ``principal`` from the zone and return its exit receipt (admin; idempotent).

        Its calls are refused from now on, its running jobs cancelled under the charging rule,
        its cohorts and HE keys erased and its open charges settled. Fetch the receipt with its
        inclusion proof by ``get_receipt(receipt_id)``.
        """
        request = admin_pb2.ExitPrincipalRequest(principal=principal, note=note)
        reply = self._call(self._admin.ExitPrincipal, request)
        return admin.PrincipalExit(
            principal,
            reply.receipt_id,
            json.loads(reply.receipt_json),
            reply.audit_seq,
            reply.already_exited,
        )

    def review_model(self, model_id: str, product: str) -> models_pb2.ModelReview:
        """A kept model's review for a verification product: weights, shares, rule check."""
        request = models_pb2.ReviewModelRequest(model_id=model_id, product=product)
        return self._call(self._models.ReviewModel, request)

    def decide_model(
        self, model_id: str, product: str, *, approve: bool, reason: str
    ) -> models_pb2.ModelDecision:
        """Approve or reject a kept model for a product (refused if it breaks the rules)."""
        request = models_pb2.DecideModelRequest(
            model_id=model_id, product=product, approve=approve, reason=reason
        )
        return self._call(self._models.DecideModel, request)


def _set_period(request: Any, start: datetime | None, end: datetime | None) -> None:
    if start is not None:
        request.start.CopyFrom(admin.timestamp(start))
    if end is not None:
        request.end.CopyFrom(admin.timestamp(end))
