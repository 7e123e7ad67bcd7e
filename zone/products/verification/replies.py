"""What a Match or Score call asks and answers, as plain data, and the digest of an answer.

Match: per claim column one blinded element per subject (``zone.wire.oprf``), answered per
column by the evaluations of every subject in request order. Score: subjects in blocks of
``slot_count`` (subject ``i`` in block ``i // slot_count``, slot ``i % slot_count``), one
ciphertext per caller feature and block, or a call of few subjects packed into one block
with several features per ciphertext (``lanes``, ``compute``). Both name one consent per
subject (``consents``, aligned with ``subjects``; empty when the product needs none) and
answer one status and one consent refusal reason per subject (``""`` where the subject was
admitted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zone.wire.replies import Codes


@dataclass(frozen=True)
class Ciphertexts:
    """The ciphertexts of one caller feature, one per block."""

    name: str
    blocks: tuple[bytes, ...]


@dataclass(frozen=True)
class BlindedClaim:
    """One claim column of a Match call: 32-byte blinded elements, one per subject."""

    name: str
    elements: bytes = field(repr=False)


@dataclass(frozen=True)
class MatchQuery:
    """A Match call: blinded claims (the zone never sees the claimed values)."""

    product: str
    purpose: str
    subjects: tuple[str, ...]
    claims: tuple[BlindedClaim, ...]
    consents: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoreQuery:
    """A Score call: the caller's features, encrypted with CKKS, feature-major."""

    product: str
    key_id: str
    purpose: str
    model_id: str
    subjects: tuple[str, ...]
    features: tuple[Ciphertexts, ...]
    consents: tuple[str, ...] = ()
    lanes: int = 1
    """Caller features per ciphertext (``zone.products.verification.compute``)."""


@dataclass(frozen=True)
class EvaluatedClaim:
    """The answer for one claim column: per subject ``E`` then ``2t + 1`` sorted tags."""

    name: str
    tolerance: int
    evaluations: bytes = field(repr=False)


@dataclass(frozen=True)
class MatchAnswer:
    """What a Match call releases: in clear, each subject's status and consent refusal."""

    release_id: str
    status: Codes = field(repr=False)
    claims: tuple[EvaluatedClaim, ...]
    consent_refusals: tuple[str, ...]
    membership: str
    dataset_version: str
    output_digest: str


@dataclass(frozen=True)
class ScoreAnswer:
    """What a Score call releases: per block one CKKS ciphertext of the (noisy) logits."""

    release_id: str
    status: Codes = field(repr=False)
    logits: tuple[bytes, ...]
    slots: int
    link: str
    noise_stddev: float
    model: str
    dataset_version: str
    output_digest: str
    consent_refusals: tuple[str, ...] = ()
    lanes: int = 1
