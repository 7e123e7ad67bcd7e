"""ConsentService: operators register, revoke and look up consents; admins review their use."""

from __future__ import annotations

import grpc

from zone._proto import consent_pb2, consent_pb2_grpc
from zone.server import consent_convert as convert
from zone.server.call import current_call


class ConsentServicer(consent_pb2_grpc.ConsentServiceServicer):
    """Thin shell around ``services.consents`` (zone.products.verification.consents)."""

    def RegisterConsent(
        self, request: consent_pb2.RegisterConsentRequest, context: grpc.ServicerContext
    ) -> consent_pb2.Consent:
        """Record a consent the caller collected (audited)."""
        call = current_call()
        call.product = request.product[:128]
        record = call.services.consents.register(
            call.policies,
            call.require_principal(),
            convert.consent_request(request),
            call.request_id,
        )
        return convert.consent(record)

    def RevokeConsent(
        self, request: consent_pb2.RevokeConsentRequest, context: grpc.ServicerContext
    ) -> consent_pb2.Consent:
        """Revoke one of the caller's consents (audited)."""
        call = current_call()
        record = call.services.consents.revoke(
            call.require_principal(), request.consent_id, request.reason, call.request_id
        )
        return convert.consent(record)

    def DescribeConsent(
        self, request: consent_pb2.ConsentRef, context: grpc.ServicerContext
    ) -> consent_pb2.Consent:
        """One of the caller's consents."""
        call = current_call()
        record = call.services.consents.describe(call.require_principal(), request.consent_id)
        return convert.consent(record)

    def ListConsents(
        self, request: consent_pb2.ListConsentsRequest, context: grpc.ServicerContext
    ) -> consent_pb2.Consents:
        """The caller's own registered consents."""
        call = current_call()
        call.product = request.product[:128]
        records = call.services.consents.listing(
            call.require_principal(),
            product=request.product,
            subject=request.subject,
            after=request.after_consent,
            limit=convert.row_limit(request.limit),
        )
        return consent_pb2.Consents(consents=[convert.consent(r) for r in records])

    def ListChecksWithoutConsent(
        self, request: consent_pb2.ChecksWithoutConsentRequest, context: grpc.ServicerContext
    ) -> consent_pb2.ConsentUses:
        """Checks of products that require consent, made without one (admin)."""
        uses = current_call().services.consents.without_consent(
            after_use=request.after_use, limit=convert.row_limit(request.limit)
        )
        return convert.consent_uses(uses)

    def RevokeConsentToken(
        self, request: consent_pb2.RevokeConsentTokenRequest, context: grpc.ServicerContext
    ) -> consent_pb2.ConsentTokenRevocation:
        """List an authority's token as revoked (admin; audited)."""
        call = current_call()
        revocation = call.services.consents.revoke_token(
            call.policies, call.require_principal(), request.consent, request.reason,
            call.request_id,
        )  # fmt: skip
        return convert.token_revocation(revocation)

    def GetConsentReport(
        self, request: consent_pb2.ConsentReportRequest, context: grpc.ServicerContext
    ) -> consent_pb2.ConsentReport:
        """What one consent authorized and admitted (admin)."""
        found = current_call().services.consents.report(
            request.consent, limit=convert.row_limit(request.limit)
        )
        return convert.report(found)
