"""Domain -> proto conversion for the model review service."""

from __future__ import annotations

from zone._proto import models_pb2
from zone.audit import canonical_json
from zone.models.reviews import ModelDecision
from zone.products.verification.review import ModelReport


def decision_to_proto(d: ModelDecision) -> models_pb2.ModelDecision:
    """A decision in force."""
    return models_pb2.ModelDecision(
        model_id=d.model_id,
        product=d.product,
        decision=d.decision,
        reason=d.reason,
        reviewer=d.reviewer,
        review_digest=d.review_digest,
        decided_at=d.decided_at,
        dataset_version=d.dataset_version,
    )


def review_to_proto(r: ModelReport) -> models_pb2.ModelReview:
    """What the administrator sees."""
    reply = models_pb2.ModelReview(
        model_id=r.model_id,
        owner=r.owner,
        product=r.product,
        trained_by=r.trained_by,
        job_id=r.job_id,
        link=r.link,
        intercept=r.intercept,
        features=[
            models_pb2.FeatureShare(name=f.name, side=f.side, weight=f.weight, share=f.share)
            for f in r.features
        ],
        problems=list(r.problems),
        training_receipt_json=canonical_json(dict(r.training_receipt))
        if r.training_receipt
        else "",
        review_digest=r.digest,
        trained_on_version=r.trained_on_version,
        serving_version=r.serving_version,
    )
    if r.decision is not None:
        reply.decision.CopyFrom(decision_to_proto(r.decision))
    return reply
