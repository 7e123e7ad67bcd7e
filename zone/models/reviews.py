"""Administrators' decisions on kept models: which model may serve scores for which product.

A decision is one row per (model, product), replaced by a later decision, written in the same
transaction as its ``model.approved`` / ``model.rejected`` audit record (which keeps history).
It records the dataset version served when it was made: an approval lets the model score on
that version and on the one it was trained on (``zone.models.lineage``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from zone.audit import AuditChain, utc_timestamp
from zone.state.api import State, Tx

Decision = Literal["approved", "rejected"]


@dataclass(frozen=True)
class ModelDecision:
    """The decision in force for one model and product."""

    model_id: str
    product: str
    decision: Decision
    reason: str
    reviewer: str
    review_digest: str
    decided_at: str
    dataset_version: str = ""

    @property
    def approved(self) -> bool:
        """Whether the model may serve scores for the product."""
        return self.decision == "approved"


class ModelReviews:
    """Record and read decisions (the ``model_reviews`` table)."""

    def __init__(self, store: State, audit: AuditChain) -> None:
        self._store = store
        self._audit = audit

    def decide(
        self,
        *,
        model_id: str,
        product: str,
        decision: Decision,
        reason: str,
        reviewer: str,
        review_digest: str,
        dataset_version: str = "",
        tx: Tx | None = None,
    ) -> ModelDecision:
        """Record a decision (replacing an earlier one) with its audit record, durably.

        ``dataset_version`` is the version of the model's dataset served now.
        """
        made = ModelDecision(
            model_id=model_id,
            product=product,
            decision=decision,
            reason=reason,
            reviewer=reviewer,
            review_digest=review_digest,
            decided_at=utc_timestamp(),
            dataset_version=dataset_version,
        )
        with self._store.joined(tx) as w:
            w.execute(
                "INSERT INTO model_reviews (model_id, product, decision, reason, reviewer, "
                "review_digest, decided_at, dataset_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (model_id, product) DO UPDATE SET decision = excluded.decision, "
                "reason = excluded.reason, reviewer = excluded.reviewer, "
                "review_digest = excluded.review_digest, decided_at = excluded.decided_at, "
                "dataset_version = excluded.dataset_version",
                (
                    model_id,
                    product,
                    decision,
                    reason,
                    reviewer,
                    review_digest,
                    made.decided_at,
                    dataset_version,
                ),  # fmt: skip
            )
            self._audit.append(
                f"model.{decision}",
                {
                    "model_id": model_id,
                    "product": product,
                    "principal": reviewer,
                    "reason": reason,
                    "review_digest": review_digest,
                    "dataset_version": dataset_version,
                },
                conn=w,
            )
        return made

    def decision(self, model_id: str, product: str) -> ModelDecision | None:
        """The decision in force, or None if the model was never reviewed for the product."""
        with self._store.read() as r:
            row = r.execute(
                "SELECT model_id, product, decision, reason, reviewer, review_digest, decided_at, "
                "dataset_version FROM model_reviews WHERE model_id = ? AND product = ?",
                (model_id, product),
            ).fetchone()
        return None if row is None else ModelDecision(*row)
