"""The record of one verification call: its check log row and its receipt.

Receipts carry every field receipts have (``zone.audit.RECEIPT_FIELDS``) with epsilon and delta
0 (verification spends no privacy budget), plus the stated purpose, how many subjects were
named and answered, the digest of the list of subjects checked (those named and admitted by
consent; the list itself is in the ``verification_checks`` table, see migration 0004), the
protocol or parameter set, the key id (Score; empty for Match, which needs no key), the digest
of the reply, and the call's terms: for Match the claims, their tolerances and the membership
mode; for Score the model and its noise; for both the consent mode, the consents used and the
refusals counted by the reason the caller was told (the precise reasons are audited apart, in
a ``verification.consent`` record: a receipt is shown to its caller). The release desk writes
them (``zone.release.desk``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zone.audit import ReleasedArtifact
from zone.catalog import VerificationProduct
from zone.consent import ConsentOutcomes
from zone.policy import Grant, PolicySet, Principal
from zone.products.verification.limits import CheckLog, Kind
from zone.products.verification.replies import MatchQuery, ScoreQuery
from zone.release.receipt import Receipt, VerificationPart


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

    def log(self, checked: Sequence[str]) -> CheckLog:
        """The call's check log row, for the subjects it checks (at least one)."""
        return CheckLog(
            self.request_id,
            self.release_id,
            self.principal.id,
            self.product.id,
            self.kind,
            self.query.purpose,
            "\n".join(checked),
            len(checked),
        )


def consent_terms(outcomes: ConsentOutcomes, mode: str) -> dict[str, Any]:
    """What a receipt says about consent: the mode, consents used, refusals by public reason."""
    return {
        "consent_mode": mode,
        "consents": outcomes.used(),
        "consent_refusals": outcomes.refusals(public=True),
    }


def receipt(
    call: Call,
    log: CheckLog,
    *,
    version: str,
    digest: str,
    protocol: str,
    key_id: str,
    answered: int,
    terms: dict[str, Any],
) -> Receipt:
    """The receipt of an answered call (no privacy budget spent: epsilon and delta 0)."""
    part = VerificationPart(
        kind=call.kind,
        purpose=call.query.purpose,
        subjects=len(call.query.subjects),
        answered=answered,
        subjects_digest=log.subjects_digest,
        param_set=protocol,
        key_id=key_id,
        terms=(("checked", log.subject_count), *terms.items()),
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

    What identifies the reply (its digest and the subject list's digest), not the reply: the
    evaluations mean nothing without the caller's blinding scalars, the ciphertexts nothing
    without its secret key.
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
