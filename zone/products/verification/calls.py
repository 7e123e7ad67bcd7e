"""The record of one verification call: its check log row and its receipt.

Receipts carry every field receipts have (``zone.audit.RECEIPT_FIELDS``) with epsilon and delta
0 (verification spends no privacy budget), plus the stated purpose, how many subjects were
named and answered, the digest of the subject list (the list itself is in the
``verification_checks`` table; see migration 0004), the parameter set, the key id and the digest
of the reply. The release desk writes them (``zone.release.desk``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from zone.audit import ReleasedArtifact
from zone.catalog import VerificationProduct
from zone.policy import Grant, PolicySet, Principal
from zone.products.verification.limits import CheckLog, Kind
from zone.products.verification.replies import MatchQuery, ScoreQuery
from zone.release.receipt import Receipt, VerificationPart
from zone.wire.he_params import ParamSet


@dataclass(frozen=True)
class Call:
    """One call about to be admitted: who, under which policy set, what, and its ids."""

    policies: PolicySet
    principal: Principal
    grant: Grant
    product: VerificationProduct
    kind: Kind
    query: MatchQuery | ScoreQuery
    request_id: str
    release_id: str
    subjects_text: str
    """The subject keys as checked and logged (``check_subjects``)."""

    @cached_property
    def log(self) -> CheckLog:
        """The call's check log row."""
        return CheckLog(self.request_id, self.release_id, self.principal.id, self.product.id,
                        self.kind, self.query.purpose, self.subjects_text,
                        len(self.query.subjects))  # fmt: skip


def receipt(
    call: Call,
    *,
    version: str,
    digest: str,
    params: ParamSet,
    answered: int,
    terms: dict[str, Any],
) -> Receipt:
    """The receipt of an answered call (no privacy budget spent: epsilon and delta 0)."""
    part = VerificationPart(
        kind=call.kind,
        purpose=call.query.purpose,
        subjects=len(call.query.subjects),
        answered=answered,
        subjects_digest=call.log.subjects_digest,
        param_set=params.name,
        key_id=call.query.key_id,
        terms=tuple(terms.items()),
    )
    return Receipt(
        release_id=call.release_id,
        request_id=call.request_id,
        principal=call.principal.id,
        product=call.product.id,
        dataset=call.product.dataset,
        dataset_version=version,
        policy_digest=call.policies.digest,
        output_digest=digest,
        part=part,
    )


def artifact(record: Receipt) -> ReleasedArtifact:
    """What the release registry keeps of a verification reply.

    What identifies the reply (its digest and the subject list's digest), not the ciphertexts:
    they are meaningless without the caller's secret key.
    """
    part = record.part
    assert isinstance(part, VerificationPart)
    return ReleasedArtifact(
        "verification",
        {
            "kind": f"verification.{part.kind}",
            "output_digest": record.output_digest,
            "subjects_digest": part.subjects_digest,
            "answered": part.answered,
        },
    )
