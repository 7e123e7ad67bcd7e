"""Administrators review kept models before they serve per-subject scores (issue 14).

A kept model of a caller's could otherwise read a zone column out one subject at a time: a
model trained on ``penalties`` alone scores ``b + w * penalties`` (plus noise), which is the
column. So a kept model serves Score for a product only after an administrator approved it
for that product, and approval refuses models that break the product's scoring rules
(``min_zone_features`` features each with a real share of the zone part's range, none above
``max_zone_feature_share``, none weighing more than ``max_zone_weight``; see
``zone.catalog._verification.scoring_problems``). The review
shows what the administrator decides on: features, weights, each feature's share, the rule
check, and the receipt of the DP training job that made the model. Every decision is on the
audit chain. A product's own ``score_model`` is approved by being in models/*.yaml, and the
same rules are checked when products are loaded.

Models follow their data (``zone.models.lineage``): the review shows the dataset version the
model was trained on and the one served now, and an approval is recorded for the served
version. After another version is activated, a model trained on an older one scores again only
once it is approved for the new version: the same review and approval, no second mechanism.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from zone.audit import ReleaseRegistry, canonical_json
from zone.catalog import DatasetCatalog, Product, VerificationProduct
from zone.catalog._verification import zone_feature_shares
from zone.errors import FailedPrecondition, InvalidArgument, NotFound
from zone.jobs import JobStore
from zone.models.lineage import may_serve
from zone.models.registry import ModelRegistry
from zone.models.reviews import ModelDecision, ModelReviews
from zone.policy import Principal
from zone.products.verification.models import ScoreModel, registry_model, rule_problems

MAX_REASON = 1000


@dataclass(frozen=True)
class FeatureShare:
    """One feature of a reviewed model: its weight and its share of the range.

    A zone feature's share is of the zone part's range (what the rules check); a caller
    feature's is of the whole score's range.
    """

    name: str
    side: str
    weight: float
    share: float


@dataclass(frozen=True)
class ModelReport:
    """What an administrator sees before deciding."""

    model_id: str
    owner: str
    product: str
    trained_by: str
    job_id: str
    link: str
    intercept: float
    features: tuple[FeatureShare, ...]
    problems: tuple[str, ...]
    training_receipt: Mapping[str, Any]
    decision: ModelDecision | None
    trained_on_version: str = ""
    serving_version: str = ""

    @property
    def digest(self) -> str:
        """sha256 over what the review shows (not the decision): what a decision refers to."""
        shown = {k: v for k, v in asdict(self).items() if k != "decision"}
        return "sha256:" + hashlib.sha256(canonical_json(shown).encode("utf-8")).hexdigest()


def shares_of(model: ScoreModel) -> tuple[FeatureShare, ...]:
    """Weights and shares of every feature of a linear score model."""
    zone = {s.column: w for s, w in zip(model.zone_features, model.zone_weights, strict=True)}
    caller = {f.name: w for f, w in zip(model.caller_features, model.caller_weights, strict=True)}
    shares = zone_feature_shares(zone)
    total = sum(abs(w) for w in (*zone.values(), *caller.values())) or 1.0
    return (
        *(FeatureShare(name, "zone", w, shares[name]) for name, w in zone.items()),
        *(FeatureShare(name, "caller", w, abs(w) / total) for name, w in caller.items()),
    )


class ModelReviewDesk:
    """Review, approve and reject kept models for verification products (admin only)."""

    def __init__(
        self,
        products: Mapping[str, Product],
        models: ModelRegistry,
        reviews: ModelReviews,
        jobs: JobStore,
        releases: ReleaseRegistry,
        catalog: DatasetCatalog,
    ) -> None:
        self._products = products
        self._catalog = catalog
        self._models = models
        self._reviews = reviews
        self._jobs = jobs
        self._releases = releases

    def review(self, model_id: str, product_id: str) -> ModelReport:
        """The review of a kept model for a verification product.

        Raises:
            NotFound: no such model, or no such verification product.
            InvalidArgument: the model cannot score for that product at all (not linear,
                another dataset, features the product does not allow).
        """
        product = self._product(product_id)
        try:
            record = self._models.get_model(model_id)
        except NotFound:
            raise NotFound("no such model", reason="unknown_model") from None
        model = registry_model(record, product, self._products)
        features = shares_of(model)
        problems = rule_problems(model, product)
        return ModelReport(
            model_id=record.model_id,
            owner=record.owner,
            product=product.id,
            trained_by=record.product,
            job_id=record.job_id,
            link=model.link,
            intercept=model.intercept,
            features=features,
            problems=tuple(problems),
            training_receipt=self._training_receipt(record.job_id),
            decision=self._reviews.decision(record.model_id, product.id),
            trained_on_version=self._trained_on(record.job_id),
            serving_version=self._catalog.get(product.dataset).version,
        )

    def approve(
        self, admin: Principal, model_id: str, product_id: str, reason: str
    ) -> ModelDecision:
        """Let the model serve scores for the product (audited).

        Raises:
            NotFound / InvalidArgument: as :meth:`review`; or no reason given.
            FailedPrecondition: the model breaks the product's scoring rules (every problem).
        """
        report = self.review(model_id, product_id)
        if report.problems:
            raise FailedPrecondition(
                "the model breaks the product's scoring rules: " + "; ".join(report.problems),
                reason="scoring_rules",
            )
        return self._decide(admin, report, "approved", reason)

    def reject(
        self, admin: Principal, model_id: str, product_id: str, reason: str
    ) -> ModelDecision:
        """Refuse (or withdraw) the model's use for the product (audited)."""
        return self._decide(admin, self.review(model_id, product_id), "rejected", reason)

    def is_approved(self, model_id: str, product_id: str) -> bool:
        """Whether the decision in force lets the model score for the product now.

        An approval, for the dataset version served now or the model's training version, of
        a model that follows the product's rules now (Score checks them at every call).
        """
        decision = self._reviews.decision(model_id, product_id)
        if decision is None or not decision.approved:
            return False
        report = self.review(model_id, product_id)
        if report.problems:
            return False
        return may_serve(report.trained_on_version, report.serving_version, decision)

    def _decide(
        self, admin: Principal, report: ModelReport, decision: str, reason: str
    ) -> ModelDecision:
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON:
            raise InvalidArgument(
                f"give the reason for the decision (1 to {MAX_REASON} characters)",
                reason="no_reason",
            )
        return self._reviews.decide(
            model_id=report.model_id,
            product=report.product,
            decision="approved" if decision == "approved" else "rejected",
            reason=reason,
            reviewer=admin.id,
            review_digest=report.digest,
            dataset_version=report.serving_version,
        )

    def _product(self, product_id: str) -> VerificationProduct:
        product = self._products.get(product_id)
        if not isinstance(product, VerificationProduct):
            raise NotFound("no such verification product", reason="unknown_product")
        return product

    def _trained_on(self, job_id: str) -> str:
        try:
            return str(self._jobs.get(job_id).spec.get("dataset_version", ""))
        except NotFound:
            return ""

    def _training_receipt(self, job_id: str) -> Mapping[str, Any]:
        try:
            job = self._jobs.get(job_id)
            return dict(self._releases.get(job.release_id).receipt)
        except NotFound:
            return {}
