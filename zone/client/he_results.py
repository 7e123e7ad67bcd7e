"""Decrypting Match and Score replies on the caller's side, into column-wise reports.

A reply is checked against its request (one status per subject, the expected number of
ciphertexts) and against its own ``output_digest`` (the digest the receipt carries) before
anything is decrypted. Reports keep one column per field (built with numpy, so that a batch of
tens of thousands of subjects is decoded in milliseconds) and build a per-subject result
object only when one is asked for.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple, overload

import numpy as np
import numpy.typing as npt
import tenseal as ts

from zone._proto import verification_pb2
from zone.client.he import HEKeys
from zone.wire.replies import FOUND, MISSING_DATA, NOT_FOUND, reply_digest


class ReplyMismatch(ValueError):
    """The reply does not fit the request (wrong counts, or its digest does not match)."""


class MatchResult(NamedTuple):
    """One subject: ``MATCH`` (every claim checked matches), ``NO_MATCH`` or ``NOT_FOUND``."""

    subject: str
    status: str
    claims: Mapping[str, bool]


class ScoreResult(NamedTuple):
    """One subject: ``SCORED``, ``NOT_FOUND`` or ``MISSING_DATA``; ``value`` after the link."""

    subject: str
    status: str
    logit: float | None
    value: float | None


def _decrypt(keys: HEKeys, blob: bytes) -> npt.NDArray[Any]:
    native = ts._ts_cpp.BFVVector if keys.params.scheme == "bfv" else ts._ts_cpp.CKKSVector
    return np.asarray(native(keys.context.data, blob).decrypt())


def _statuses(values: Any, count: int) -> npt.NDArray[np.int8]:
    codes = np.fromiter(values, dtype=np.int8, count=len(values))
    if codes.size != count or (codes.size and (codes.min() < FOUND or codes.max() > MISSING_DATA)):
        raise ReplyMismatch("the reply's subject statuses do not match the request")
    return codes


def sigmoid(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The logistic function, without overflow for large |logit|."""
    with np.errstate(over="ignore"):
        exp = np.exp(-np.abs(logits))
    return np.where(logits >= 0, 1.0 / (1.0 + exp), exp / (1.0 + exp))


_VERDICTS = np.array(["NOT_FOUND", "NO_MATCH", "MATCH"], dtype=object)
_SCORE_STATUSES = np.empty(MISSING_DATA + 1, dtype=object)
_SCORE_STATUSES[[FOUND, NOT_FOUND, MISSING_DATA]] = ["SCORED", "NOT_FOUND", "MISSING_DATA"]


class MatchReport(Sequence[MatchResult]):
    """Per subject ``MATCH`` / ``NO_MATCH`` / ``NOT_FOUND``, with one column per claim."""

    def __init__(
        self, subjects: Sequence[str], found: npt.NDArray[np.bool_],
        claims: Mapping[str, npt.NDArray[np.bool_]], release_ids: Sequence[str],
    ) -> None:  # fmt: skip
        self.subjects = list(subjects)
        self.release_ids = list(release_ids)
        self._found = found
        self._claims = dict(claims)
        every = np.logical_and.reduce(list(claims.values())) if claims else found
        verdict = np.where(found, np.where(every, 2, 1), 0)
        self.statuses: list[str] = _VERDICTS[verdict].tolist()  # three shared str objects

    def matched(self, claim: str) -> list[bool]:
        """Per subject, whether ``claim`` matched (False for subjects not found)."""
        flags: list[bool] = (self._claims[claim] & self._found).tolist()
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
        claims = (
            {} if status == "NOT_FOUND" else {n: bool(c[index]) for n, c in self._claims.items()}
        )
        return MatchResult(self.subjects[index], status, claims)

    def __iter__(self) -> Iterator[MatchResult]:
        return (self[i] for i in range(len(self)))

    @classmethod
    def join(cls, reports: Sequence[MatchReport]) -> MatchReport:
        """One report of several calls, in order."""
        names = list(reports[0]._claims) if reports else []
        return cls(
            list(itertools.chain.from_iterable(r.subjects for r in reports)),
            np.concatenate([r._found for r in reports]) if reports else np.zeros(0, bool),
            {n: np.concatenate([r._claims[n] for r in reports]) for n in names},
            [i for r in reports for i in r.release_ids],
        )


def match_report(
    keys: HEKeys, subjects: Sequence[str], reply: verification_pb2.MatchReply
) -> MatchReport:
    """Decrypt a MatchReply: a claim matches where one of its candidates decrypts to zero."""
    status = _statuses(reply.status, len(subjects))
    groups = [(c.name, list(c.ciphertexts)) for c in reply.claims]
    if reply_digest("match", status, groups) != reply.output_digest:
        raise ReplyMismatch("the reply does not match its digest")
    slots = keys.params.slot_count
    blocks = -(-len(subjects) // slots)
    claims = {}
    for name, blobs in groups:
        candidates = next(c.candidates for c in reply.claims if c.name == name)
        if not candidates or len(blobs) != blocks * candidates:
            raise ReplyMismatch("the reply does not match the request")
        zero = np.zeros(blocks * slots, dtype=bool)
        for index, blob in enumerate(blobs):
            block = index // candidates
            zero[block * slots : (block + 1) * slots] |= (
                _decrypt(keys, blob) % keys.params.plain_modulus == 0
            )
        claims[name] = zero[: len(subjects)]
    return MatchReport(subjects, status == FOUND, claims, [reply.release_id])


class ScoreReport(Sequence[ScoreResult]):
    """Per subject ``SCORED`` / ``NOT_FOUND`` / ``MISSING_DATA``, logits and linked values."""

    def __init__(
        self, subjects: Sequence[str], statuses: Sequence[str],
        logits: npt.NDArray[np.float64], link: str, release_ids: Sequence[str],
    ) -> None:  # fmt: skip
        self.subjects = list(subjects)
        self.statuses = list(statuses)
        self.release_ids = list(release_ids)
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
            return ScoreResult(self.subjects[index], status, None, None)
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
        )


def score_report(
    keys: HEKeys, subjects: Sequence[str], reply: verification_pb2.ScoreReply
) -> ScoreReport:
    """Decrypt a ScoreReply (the link is applied in :attr:`ScoreReport.values`)."""
    status = _statuses(reply.status, len(subjects))
    logits_blobs = list(reply.logits)
    if reply_digest("score", status, [("logits", logits_blobs)]) != reply.output_digest:
        raise ReplyMismatch("the reply does not match its digest")
    slots = keys.params.slot_count
    if len(logits_blobs) != -(-len(subjects) // slots):
        raise ReplyMismatch("the reply does not match the request")
    values = [_decrypt(keys, blob)[:slots] for blob in logits_blobs]
    logits = np.concatenate(values)[: len(subjects)] if values else np.zeros(0)
    names = _SCORE_STATUSES[status].tolist()
    return ScoreReport(subjects, names, logits.astype(np.float64), reply.link, [reply.release_id])
