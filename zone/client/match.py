"""Match on the caller's side: claims encoded and blinded, replies read into per-subject results.

Every claimed value becomes the integer code ``value / unit`` (the product's public unit) and is
blinded with a fresh secret scalar (``zone.wire.oprf.blind_claims``): the zone receives one
random-looking group element per subject and claim, never the value. A reply is checked
against its request (statuses, consent reasons and evaluations per subject, its own
``output_digest``: the digest the receipt carries) before anything is read. A claim matches
when its finalized value is one of the subject's tags (``zone.wire.oprf.read_matches``).

Per subject the result is ``MATCH`` (every claim checked matches), ``NO_MATCH``, ``NOT_FOUND``
(not in the dataset, for products that disclose membership) or ``CONSENT_REFUSED`` (with the
reason the zone gave). With ``membership: hidden`` the zone does not say whether a subject is
in the dataset, so a ``NO_MATCH`` also covers subjects it does not hold.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt

from zone._proto import verification_pb2
from zone.wire.oprf import (
    ELEMENT_BYTES,
    Blinded,
    CodeOutOfRange,
    InvalidElement,
    blind_claims,
    read_matches,
    reply_bytes,
    value_code,
)
from zone.wire.replies import (
    CONSENT_REFUSED,
    FOUND,
    NOT_FOUND,
    UNDISCLOSED,
    refusal_group,
    reply_digest,
)

REQUEST_BUDGET_BYTES = 3_500_000
"""What one request or reply may carry in elements, keys and consents (the limit is 4 MiB)."""


class ClaimOutOfRange(ValueError):
    """A claimed value cannot be encoded exactly (not whole units, or too large)."""


class ReplyMismatch(ValueError):
    """The reply does not fit the request (wrong counts, or its digest does not match)."""


class MatchResult(NamedTuple):
    """One subject: its status, per claim whether it matched, and a consent refusal's reason."""

    subject: str
    status: str
    claims: Mapping[str, bool]
    refusal: str = ""


@dataclass(frozen=True)
class MatchPart:
    """One call's subjects and the blinding secrets of its claims (never sent)."""

    subjects: list[str]
    blinded: dict[str, Blinded]
    tolerances: dict[str, int]


def claim_codes(values: Sequence[float], unit: float) -> list[int]:
    """Codes of claimed values (``value / unit``, never rounded).

    Raises:
        ClaimOutOfRange: a value is not finite, not a whole number of units, or too large.
    """
    try:
        return [value_code(value, unit) for value in values]
    except CodeOutOfRange as exc:
        raise ClaimOutOfRange(f"claimed value {exc}") from None


def per_call(subjects: Sequence[str], refs: Sequence[str], claims: int, reply: int) -> int:
    """How many subjects one call may carry: request and reply under the budget."""
    longest = max(map(len, subjects), default=0) + max(map(len, refs), default=0)
    request = claims * ELEMENT_BYTES + longest * 4 + 16  # UTF-8 and field overhead
    return max(1, REQUEST_BUDGET_BYTES // max(request, reply))


def match_requests(
    product: str,
    subjects: Sequence[str],
    claims: Mapping[str, Sequence[float]],
    purpose: str,
    parameters: Mapping[str, Any],
    consents: Sequence[str] = (),
) -> Iterator[tuple[MatchPart, verification_pb2.MatchRequest]]:
    """Blinded Match requests, each with its part (blinded as iterated).

    Raises:
        ValueError: an unknown claim column, lengths that differ.
        ClaimOutOfRange: a claimed value cannot be encoded exactly.
    """
    declared = parameters.get("claims") or {}
    if consents and len(consents) != len(subjects):
        raise ValueError("name one consent per subject (or none)")
    codes: dict[str, list[int]] = {}
    tolerances: dict[str, int] = {}
    for name, values in claims.items():
        if name not in declared:
            raise ValueError(f"{name!r} is not a claim of {product}")
        if len(values) != len(subjects):
            raise ValueError(f"claim {name!r}: one value per subject is needed")
        codes[name] = claim_codes(values, float(declared[name]["unit"]))
        tolerances[name] = int(declared[name]["tolerance"])
    units = {name: float(declared[name]["unit"]) for name in codes}
    reply = sum(reply_bytes(1, t) for t in tolerances.values())
    limit = int((parameters.get("limits") or {}).get("max_subjects_per_call", 4096))
    size = min(limit, per_call(subjects, consents, len(codes), reply))

    def build() -> Iterator[tuple[MatchPart, verification_pb2.MatchRequest]]:
        for start in range(0, len(subjects), size):
            part = list(subjects[start : start + size])
            blinded = {
                name: blind_claims(product, name, units[name], part, values[start : start + size])
                for name, values in codes.items()
            }
            request = verification_pb2.MatchRequest(
                product=product,
                purpose=purpose,
                subjects=part,
                blinded=[
                    verification_pb2.BlindedClaim(name=name, elements=b.elements)
                    for name, b in blinded.items()
                ],
                consents=list(consents[start : start + size]),
            )
            yield MatchPart(part, blinded, tolerances), request

    return build()


_NAMES = {
    FOUND: "FOUND",
    NOT_FOUND: "NOT_FOUND",
    UNDISCLOSED: "UNDISCLOSED",
    CONSENT_REFUSED: "CONSENT_REFUSED",
}


class MatchReport(Sequence[MatchResult]):
    """Per subject ``MATCH`` / ``NO_MATCH`` / ``NOT_FOUND`` / ``CONSENT_REFUSED``.

    ``membership`` is the product's mode (``hidden``: NO_MATCH also covers unknown subjects).
    """

    def __init__(
        self,
        subjects: Sequence[str],
        status: npt.NDArray[np.int8],
        claims: Mapping[str, npt.NDArray[np.bool_]],
        refusals: Sequence[str],
        release_ids: Sequence[str],
        membership: str,
    ) -> None:
        self.subjects = list(subjects)
        self.release_ids = [r for r in release_ids if r]
        self.membership = membership
        self.refusals = list(refusals)
        self._status = status
        self._claims = dict(claims)
        evaluated = (status == FOUND) | (status == UNDISCLOSED)
        every = np.logical_and.reduce(list(claims.values())) if claims else evaluated
        verdict = np.where(evaluated, np.where(every, "MATCH", "NO_MATCH"), "NOT_FOUND")
        verdict = np.where(status == CONSENT_REFUSED, "CONSENT_REFUSED", verdict)
        self.statuses: list[str] = verdict.tolist()
        self._evaluated = evaluated

    def matched(self, claim: str) -> list[bool]:
        """Per subject, whether ``claim`` matched (False for subjects not evaluated)."""
        flags: list[bool] = (self._claims[claim] & self._evaluated).tolist()
        return flags

    def __len__(self) -> int:
        return len(self.subjects)

    @overload
    def __getitem__(self, index: int) -> MatchResult: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[MatchResult]: ...
    def __getitem__(self, index: int | slice) -> MatchResult | Sequence[MatchResult]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        status = self.statuses[index]
        evaluated = bool(self._evaluated[index])
        claims = {n: bool(c[index]) for n, c in self._claims.items()} if evaluated else {}
        return MatchResult(self.subjects[index], status, claims, self.refusals[index])

    def __iter__(self) -> Iterator[MatchResult]:
        return (self[i] for i in range(len(self)))

    @classmethod
    def join(cls, reports: Sequence[MatchReport]) -> MatchReport:
        """One report of several calls, in order."""
        names = list(reports[0]._claims) if reports else []
        return cls(
            list(itertools.chain.from_iterable(r.subjects for r in reports)),
            np.concatenate([r._status for r in reports]) if reports else np.zeros(0, np.int8),
            {n: np.concatenate([r._claims[n] for r in reports]) for n in names},
            [x for r in reports for x in r.refusals],
            [i for r in reports for i in r.release_ids],
            reports[0].membership if reports else "disclosed",
        )


def match_report(part: MatchPart, reply: verification_pb2.MatchReply) -> MatchReport:
    """Read a MatchReply: per subject and claim, match or no match.

    Raises:
        ReplyMismatch: the reply does not answer the request, or not its digest.
    """
    count = len(part.subjects)
    status = np.fromiter(reply.status, dtype=np.int8, count=len(reply.status))
    refusals = list(reply.consent_refusals)
    if status.size != count or len(refusals) != count or not set(status.tolist()) <= set(_NAMES):
        raise ReplyMismatch("the reply's subject statuses do not match the request")
    evaluated = {c.name: c for c in reply.evaluated}
    if list(evaluated) != list(part.blinded) or len(evaluated) != len(reply.evaluated):
        raise ReplyMismatch("the reply does not answer the claims sent")
    groups = [(c.name, [c.evaluations]) for c in reply.evaluated] + [refusal_group(refusals)]
    if reply_digest("match", status, groups) != reply.output_digest:
        raise ReplyMismatch("the reply does not match its digest")
    claims = {}
    for name, blinded in part.blinded.items():
        answer = evaluated[name]
        if answer.tolerance != part.tolerances[name]:
            raise ReplyMismatch(f"claim {name!r}: not the product's tolerance")
        try:
            claims[name] = np.array(read_matches(blinded, answer.evaluations, answer.tolerance))
        except InvalidElement as exc:
            raise ReplyMismatch(f"claim {name!r}: {exc}") from None
    return MatchReport(
        part.subjects, status, claims, refusals, [reply.release_id], reply.membership
    )
