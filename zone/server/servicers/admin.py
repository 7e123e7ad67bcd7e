"""AdminService: policy reload and audit verification (admin role only, see the method table)."""

from __future__ import annotations

import grpc

from zone._proto import admin_pb2, admin_pb2_grpc
from zone.errors import FailedPrecondition, ValidationFailed
from zone.server import convert
from zone.server.call import current_call


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
            result = current_call().runtime.reload_policies()
        except ValidationFailed as exc:
            raise PolicySetRejected(exc.problems, what="policy reload (running set kept)") from exc
        return convert.reload_response(result)

    def VerifyAudit(
        self, request: admin_pb2.VerifyAuditRequest, context: grpc.ServicerContext
    ) -> admin_pb2.VerifyAuditResponse:
        """Recompute the audit chain and report the first broken record."""
        return convert.verify_response(current_call().runtime.verify_audit())
