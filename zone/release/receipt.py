"""Typed receipts: the fields every release has, plus a typed part per product kind.

A receipt is written once, as the ``release`` record of the audit chain (canonical JSON, keys
sorted) and the release registry row; :meth:`Receipt.to_record` gives that JSON object. The
common fields are ``zone.audit.RECEIPT_FIELDS``; the product part adds what its kind states
(mechanisms and accountant, the training job and model, the verification call's purpose,
subjects and reply).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from zone import __version__
from zone.audit import utc_timestamp
from zone.ledger import ZERO, Amount


@dataclass(frozen=True)
class StatisticsPart:
    """What a statistics release adds: the noise mechanisms and the accountant."""

    mechanisms: tuple[str, ...]
    accountant: str

    def fields(self) -> dict[str, Any]:
        """The part's receipt fields."""
        return {"mechanisms": list(self.mechanisms), "accountant": self.accountant}


@dataclass(frozen=True)
class TrainingPart:
    """What a training release adds: the job, the accountant's spent epsilon, the kept model."""

    job_id: str
    epsilon_spent: float | None
    accountant: str
    model_id: str

    def fields(self) -> dict[str, Any]:
        """The part's receipt fields."""
        return {
            "job_id": self.job_id,
            "epsilon_spent": self.epsilon_spent,
            "accountant": self.accountant,
            "model_id": self.model_id,
        }


@dataclass(frozen=True)
class JointTrainingPart(TrainingPart):
    """What a joint training release adds: the cohort (digest only) and the replace-one terms."""

    upload_id: str = ""
    upload_digest: str = ""
    epsilon_dpsgd: float | None = None
    delta_dpsgd: float | None = None
    neighbouring: str = "replace-one zone subject"
    accounting: str = ""

    def fields(self) -> dict[str, Any]:
        """The part's receipt fields."""
        return {
            **super().fields(),
            "kind": "joint_training",
            "upload_id": self.upload_id,
            "upload_digest": self.upload_digest,
            "epsilon_dpsgd": self.epsilon_dpsgd,
            "delta_dpsgd": self.delta_dpsgd,
            "neighbouring": self.neighbouring,
            "accounting": self.accounting,
        }


@dataclass(frozen=True)
class VerificationPart:
    """What a Match or Score call adds: purpose, subjects, key, reply, and the call's terms."""

    kind: str
    purpose: str
    subjects: int
    answered: int
    subjects_digest: str
    param_set: str
    key_id: str
    terms: tuple[tuple[str, Any], ...] = ()
    """Call-specific fields (the claims checked; the model and its noise)."""

    def fields(self) -> dict[str, Any]:
        """The part's receipt fields."""
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "terms"}
        return {**own, "kind": f"verification.{self.kind}", **dict(self.terms)}


ProductPart = StatisticsPart | TrainingPart | VerificationPart


@dataclass(frozen=True)
class Receipt:
    """Who released what, from which data and policies, at what privacy cost."""

    release_id: str
    request_id: str
    principal: str
    product: str
    dataset: str
    dataset_version: str
    policy_digest: str
    output_digest: str
    part: ProductPart
    cost: Amount = ZERO
    time: str = ""
    code_version: str = __version__

    def to_record(self) -> dict[str, Any]:
        """The receipt as the JSON object stored on the audit chain and in the registry."""
        return {
            "release_id": self.release_id,
            "request_id": self.request_id,
            "time": self.time or utc_timestamp(),
            "principal": self.principal,
            "product": self.product,
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "policy_digest": self.policy_digest,
            "code_version": self.code_version,
            "epsilon_micro": self.cost.epsilon_micro,
            "delta_femto": self.cost.delta_femto,
            "output_digest": self.output_digest,
            **self.part.fields(),
        }
