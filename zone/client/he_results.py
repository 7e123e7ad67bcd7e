"""Decrypting Score replies on the caller's side, into column-wise reports.

A reply is checked against its request (one status and one consent reason per subject, the
expected number of ciphertexts) and against its own ``output_digest`` (the digest the receipt
carries) before anything is decrypted. Reports keep one column per field (built with numpy, so
that a batch of tens of thousands of subjects is decoded in milliseconds) and build a
per-subject result object only when one is asked for. Match results: ``zone.client.match``
(re-exported here).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt
import tenseal as ts

from zone._proto import verification_pb2
from zone.client.he import HEKeys
from zone.client.match import MatchReport, MatchResult, ReplyMismatch
from zone.wire.replies import (
    CONSENT_REFUSED,
    FOUND,
    MISSING_DATA,
    NOT_FOUND,
    refusal_group,
    reply_digest,
)

__all__ = [
    "MatchReport",
    "MatchResult",
    "ReplyMismatch",
    "ScoreReport",
    "ScoreResult",
    "score_report",
    "sigmoid",
]


class ScoreResult(NamedTuple):
    """One subject: ``SCORED``, ``NOT_FOUND``, ``MISSING_DATA`` or ``CONSENT_REFUSED``.

    ``value`` is the logit after the link; ``refusal`` a consent refusal's reason.
    """

    subject: str
    status: str
    logit: float | None
    value: float | None
    refusal: str = ""


def _decrypt(keys: HEKeys, blob: bytes) -> npt.NDArray[Any]:
    return np.asarray(ts._ts_cpp.CKKSVector(keys.context.data, blob).decrypt())


def _statuses(values: Any, count: int) -> npt.NDArray[np.int8]:
    codes = np.fromiter(values, dtype=np.int8, count=len(values))
    if codes.size != count or not set(codes.tolist()) <= set(_SCORE_NAMES):
        raise ReplyMismatch("the reply's subject statuses do not match the request")
    return codes


def sigmoid(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The logistic function, without overflow for large |logit|."""
    with np.errstate(over="ignore"):
        exp = np.exp(-np.abs(logits))
    return np.where(logits >= 0, 1.0 / (1.0 + exp), exp / (1.0 + exp))


_SCORE_NAMES = {
    FOUND: "SCORED",
    NOT_FOUND: "NOT_FOUND",
    MISSING_DATA: "MISSING_DATA",
    CONSENT_REFUSED: "CONSENT_REFUSED",
}


class ScoreReport(Sequence[ScoreResult]):
    """Per subject ``SCORED`` / ``NOT_FOUND`` / ``MISSING_DATA``, logits and linked values."""

    def __init__(
        self,
        subjects: Sequence[str],
        statuses: Sequence[str],
        logits: npt.NDArray[np.float64],
        link: str,
        release_ids: Sequence[str],
        refusals: Sequence[str] | None = None,
    ) -> None:
        self.subjects = list(subjects)
        self.statuses = list(statuses)
        self.release_ids = [r for r in release_ids if r]
        self.refusals = list(refusals) if refusals is not None else [""] * len(self.subjects)
        self.link = link
        scored = np.asarray(self.statuses) == "SCORED"
        self.logits = np.where(scored, logits, np.nan)
        self.values = sigmoid(self.logits) if link == "logit" else self.logits

    def __len__(self) -> int:
        return len(self.subjects)

    @overload
    def __getitem__(self, index: int) -> ScoreResult: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ScoreResult]: ...
    def __getitem__(self, index: int | slice) -> ScoreResult | Sequence[ScoreResult]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        status = self.statuses[index]
        if status != "SCORED":
            return ScoreResult(self.subjects[index], status, None, None, self.refusals[index])
        logit, value = float(self.logits[index]), float(self.values[index])
        return ScoreResult(self.subjects[index], status, logit, value)

    def __iter__(self) -> Iterator[ScoreResult]:
        return (self[i] for i in range(len(self)))

    @classmethod
    def join(cls, reports: Sequence[ScoreReport]) -> ScoreReport:
        """One report of several calls, in order."""
        return cls(
            [s for r in reports for s in r.subjects],
            [s for r in reports for s in r.statuses],
            np.concatenate([r.logits for r in reports]) if reports else np.zeros(0),
            reports[0].link if reports else "logit",
            [i for r in reports for i in r.release_ids],
            [x for r in reports for x in r.refusals],
        )


def score_report(
    keys: HEKeys, subjects: Sequence[str], reply: verification_pb2.ScoreReply, lanes: int = 1
) -> ScoreReport:
    """Decrypt a ScoreReply (the link is applied in :attr:`ScoreReport.values`).

    ``lanes``: the request's (``he.lanes_for``); with two or more, each subject's logit is
    the sum of its slot in every lane of the one ciphertext.

    Raises:
        ReplyMismatch: the reply does not answer the request, or not its digest.
    """
    status = _statuses(reply.status, len(subjects))
    refusals = list(reply.consent_refusals)
    logits_blobs = list(reply.logits)
    groups = [("logits", logits_blobs), refusal_group(refusals)]
    if (
        len(refusals) != len(subjects)
        or reply_digest("score", status, groups) != reply.output_digest
    ):
        raise ReplyMismatch("the reply does not match its digest")
    slots = keys.params.slot_count
    released = bool(reply.release_id)
    if len(logits_blobs) != (-(-len(subjects) // slots) if released else 0) or max(
        1, reply.lanes
    ) != max(1, lanes):
        raise ReplyMismatch("the reply does not match the request")
    values = [_decrypt(keys, blob)[:slots] for blob in logits_blobs]
    if lanes > 1 and values:
        width, count = slots // lanes, len(subjects)
        lanes_of = values[0][: lanes * width].reshape(lanes, width)[:, :count]
        values = [lanes_of.sum(axis=0)]
    logits = np.concatenate(values)[: len(subjects)] if values else np.full(len(subjects), np.nan)
    names = [_SCORE_NAMES[code] for code in status.tolist()]
    return ScoreReport(
        subjects, names, logits.astype(np.float64), reply.link, [reply.release_id], refusals
    )
