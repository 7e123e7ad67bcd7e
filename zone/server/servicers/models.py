"""ModelService: administrators review kept models before they serve Score (admin role only)."""

from __future__ import annotations

import grpc

from zone._proto import models_pb2, models_pb2_grpc
from zone.server.call import current_call
from zone.server.servicers import models_convert as convert


class ModelServicer(models_pb2_grpc.ModelServiceServicer):
    """Thin shell around ``services.model_reviews`` (zone.products.verification.review)."""

    def ReviewModel(
        self, request: models_pb2.ReviewModelRequest, context: grpc.ServicerContext
    ) -> models_pb2.ModelReview:
        """The review of one kept model for one verification product."""
        call = current_call()
        call.product = request.product[:128]
        report = call.services.model_reviews.review(request.model_id, request.product)
        return convert.review_to_proto(report)

    def DecideModel(
        self, request: models_pb2.DecideModelRequest, context: grpc.ServicerContext
    ) -> models_pb2.ModelDecision:
        """Approve or reject a kept model for a product (audited)."""
        call = current_call()
        call.product = request.product[:128]
        reviews = call.services.model_reviews
        decide = reviews.approve if request.approve else reviews.reject
        admin = call.require_principal()
        return convert.decision_to_proto(
            decide(admin, request.model_id, request.product, request.reason)
        )
