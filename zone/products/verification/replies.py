"""What a Match or Score call asks and answers, as plain data, and the digest of an answer.

Subjects are sent in blocks of ``slot_count``: subject ``i`` sits in block ``i // slot_count``,
slot ``i % slot_count``. Every claim column (Match) or caller feature (Score) carries one
ciphertext per block.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zone.wire.replies import Codes


@dataclass(frozen=True)
class Ciphertexts:
    """The ciphertexts of one claim column or caller feature, one per block."""

    name: str
    blocks: tuple[bytes, ...]


@dataclass(frozen=True)
class MatchQuery:
    """A Match call: claimed values, encrypted with BFV under the caller's registered key."""

    product: str
    key_id: str
    purpose: str
    subjects: tuple[str, ...]
    claims: tuple[Ciphertexts, ...]


@dataclass(frozen=True)
class ScoreQuery:
    """A Score call: the caller's features, encrypted with CKKS, feature-major."""

    product: str
    key_id: str
    purpose: str
    model_id: str
    subjects: tuple[str, ...]
    features: tuple[Ciphertexts, ...]


@dataclass(frozen=True)
class ClaimAnswer:
    """The reply ciphertexts of one claim: block ``b``, candidate ``k`` at ``b * candidates + k``.

    A subject matches when, in its slot, one of its block's candidates decrypts to zero.
    """

    name: str
    candidates: int
    ciphertexts: tuple[bytes, ...]


@dataclass(frozen=True)
class MatchAnswer:
    """What a Match call releases: in clear, only whether each subject was found."""

    release_id: str
    status: Codes = field(repr=False)
    claims: tuple[ClaimAnswer, ...]
    slots: int
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
