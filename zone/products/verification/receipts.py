"""The record of one verification call: its check log row and its receipt.

Receipts carry every field receipts have (``zone.audit.RECEIPT_FIELDS``) with epsilon and delta
0 (verification spends no privacy budget), plus the stated purpose, how many subjects were
named and answered, the digest of the subject list (the list itself is in the
``verification_checks`` table; see migration 0004), the parameter set, the key id and the digest
of the reply. :func:`record_release` is the one place they are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from zone import __version__
from zone.audit import ReleasedArtifact, ReleaseRegistry, utc_timestamp
from zone.catalog import VerificationProduct
from zone.policy import Grant, PolicySet, Principal
from zone.products.verification.limits import CheckLog, Kind
from zone.products.verification.params import ParamSet
from zone.products.verification.replies import MatchQuery, ScoreQuery


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
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The receipt of an answered call (JSON-able)."""
    return {
        "release_id": call.release_id,
        "request_id": call.request_id,
        "time": utc_timestamp(),
        "principal": call.principal.id,
        "product": call.product.id,
        "dataset": call.product.dataset,
        "dataset_version": version,
        "policy_digest": call.policies.digest,
        "code_version": __version__,
        "epsilon_micro": 0,
        "delta_femto": 0,
        "kind": f"verification.{call.kind}",
        "purpose": call.query.purpose,
        "subjects": len(call.query.subjects),
        "answered": answered,
        "subjects_digest": call.log.subjects_digest,
        "param_set": params.name,
        "key_id": call.query.key_id,
        "output_digest": digest,
        **extra,
    }


def record_release(releases: ReleaseRegistry, record: dict[str, Any]) -> None:
    """Write a verification receipt (kind ``release``) and its registry row, durably.

    The registry keeps what identifies the reply (its digest and the subject list's digest),
    not the ciphertexts: they are meaningless without the caller's secret key.
    """
    artifact = {k: record[k] for k in ("kind", "output_digest", "subjects_digest", "answered")}
    releases.record(record, ReleasedArtifact("verification", artifact))
