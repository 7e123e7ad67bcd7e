"""Tracing a leaked artifact back to the release (and so the principal) it came from.

Every release carries its own DP noise, so two releases of the same query or model differ in
most of their numbers. A leaked file is compared with every artifact in the release registry:

* **keyed** (the file names its numbers, e.g. feature names or ``measure|group|index`` cells,
  and some release carries at least half of those names): the score is the fraction of the
  leaked numbers whose release value under the same name is compatible with it;
* **unkeyed** (no usable names, e.g. a headerless CSV with shuffled columns): the numbers are
  matched as multisets, each leaked number to at most one release value, and the score is
  matched / (leaked + release - matched), so a release with many more numbers gains nothing
  from chance matches.

A release value is *compatible* with a leaked number when it lies within 0.55 of the number's
quantum (the place of its last non-zero digit; 0.5 covers any rounding to that place, the rest
double rounding such as ``%.6g`` then 3 significant digits). Rounding therefore never loses the
true release; it only lets more other releases match by chance, which the margin shows.

A match is *confident* when at least ``MIN_COMPARED`` numbers were compared, the best score is
at least ``CONFIDENT_SCORE`` and it leads the next release by at least ``MIN_MARGIN``. What this
cannot do: trace a number coarser than its noise (a count of 12,345 rounded to 12,300 matches
every release within +-50), a file re-noised by the leaker, or a model retrained elsewhere.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from zone.audit.leaked import LeakedValues, Number, labelled_numbers
from zone.audit.releases import ReleaseRecord

SLACK = 0.55
MIN_COMPARED = 3
CONFIDENT_SCORE = 0.8
MIN_MARGIN = 0.2
_RELATIVE_EPS = 1e-9


@dataclass(frozen=True)
class Candidate:
    """One release scored against the leaked artifact."""

    release_id: str
    principal: str
    product: str
    kind: str
    created_at: str
    score: float
    matched: int


@dataclass(frozen=True)
class TraceResult:
    """Every release ranked by score (best first), and whether the best is a confident match.

    Attributes:
        mode: ``keyed`` or ``unkeyed`` (see the module docstring).
        compared: How many leaked numbers were compared.
        ranked: All releases, best first.
        margin: Best score minus the second best (the best score if there is one release).
        confident: Whether the best release is a confident match.
    """

    mode: Literal["keyed", "unkeyed"]
    compared: int
    ranked: tuple[Candidate, ...]
    margin: float
    confident: bool

    @property
    def best(self) -> Candidate | None:
        """The best-scoring release, if any release exists."""
        return self.ranked[0] if self.ranked else None


@dataclass(frozen=True)
class _Fingerprint:
    record: ReleaseRecord
    labelled: Mapping[str, float]
    values: list[float]  # sorted


def compatible(leaked: Number, value: float) -> bool:
    """Whether a release value may have produced the leaked number by rounding."""
    tolerance = SLACK * leaked.quantum + _RELATIVE_EPS * max(abs(value), abs(leaked.value))
    return abs(value - leaked.value) <= tolerance


def trace(leaked: LeakedValues, releases: Iterable[ReleaseRecord]) -> TraceResult:
    """Rank every release by how well it explains the leaked numbers (module docstring)."""
    prints = [_fingerprint(record) for record in releases]
    keyed = _use_labels(leaked, prints)
    compared = len(leaked.labelled) if keyed else len(leaked.values)
    scored = [_score(leaked, p, keyed) for p in prints]
    ranked = tuple(sorted(scored, key=lambda c: (-c.score, c.created_at, c.release_id)))
    if not ranked:
        return TraceResult("keyed" if keyed else "unkeyed", compared, ranked, 0.0, False)
    second = ranked[1].score if len(ranked) > 1 else 0.0
    margin = ranked[0].score - second
    confident = (
        compared >= MIN_COMPARED and ranked[0].score >= CONFIDENT_SCORE and margin >= MIN_MARGIN
    )
    return TraceResult("keyed" if keyed else "unkeyed", compared, ranked, margin, confident)


def _fingerprint(record: ReleaseRecord) -> _Fingerprint:
    labelled: dict[str, float] = {}
    values: list[float] = []
    for label, value in labelled_numbers(record.artifact):
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
            if math.isfinite(number):
                values.append(number)
                if label is not None:
                    labelled.setdefault(label, number)
    return _Fingerprint(record, labelled, sorted(values))


def _use_labels(leaked: LeakedValues, prints: list[_Fingerprint]) -> bool:
    """Keyed mode if some release carries at least half of the leaked labels."""
    if not leaked.labelled:
        return False
    labels = leaked.labelled.keys()
    best = max((len(labels & p.labelled.keys()) for p in prints), default=0)
    return best * 2 >= len(labels)


def _score(leaked: LeakedValues, fingerprint: _Fingerprint, keyed: bool) -> Candidate:
    if keyed:
        matched = sum(
            1
            for label, number in leaked.labelled.items()
            if label in fingerprint.labelled and compatible(number, fingerprint.labelled[label])
        )
        score = matched / len(leaked.labelled)
    else:
        matched = _match_multisets(leaked.values, fingerprint.values)
        union = len(leaked.values) + len(fingerprint.values) - matched
        score = matched / union if union else 0.0
    r = fingerprint.record
    return Candidate(
        release_id=r.release_id,
        principal=r.principal,
        product=r.product,
        kind=r.kind,
        created_at=r.created_at,
        score=score,
        matched=matched,
    )


def _match_multisets(leaked: list[Number], values: list[float]) -> int:
    """Largest number of leaked numbers each matched to a distinct compatible release value.

    Intervals sorted by their upper end, each takes the smallest free value inside it (the
    greedy choice is optimal for points and intervals); free values are found through a
    "next free index" union-find.
    """
    intervals = sorted(
        (
            (n.value - (t := SLACK * n.quantum + _RELATIVE_EPS * abs(n.value)), n.value + t)
            for n in leaked
        ),
        key=lambda iv: iv[1],
    )
    next_free = list(range(len(values) + 1))

    def find(i: int) -> int:
        root = i
        while next_free[root] != root:
            root = next_free[root]
        while next_free[i] != root:
            next_free[i], i = root, next_free[i]
        return root

    matched = 0
    for low, high in intervals:
        j = find(bisect.bisect_left(values, low))
        if j < len(values) and values[j] <= high:
            matched += 1
            next_free[j] = j + 1
    return matched


def describe(result: TraceResult, top: int = 5) -> list[str]:
    """Lines for the CLI: the verdict and the best ``top`` releases with their scores."""
    lines = []
    best = result.best
    if best is not None and result.confident:
        lines.append(
            f"match: release {best.release_id} to {best.principal} ({best.product}, "
            f"{best.created_at}); score {best.score:.3f}, margin {result.margin:.3f}"
        )
    else:
        lines.append(f"no confident match (margin {result.margin:.3f})")
    lines.append(f"{result.mode} comparison of {result.compared} numbers; best releases:")
    for c in result.ranked[:top]:
        lines.append(
            f"  {c.score:.3f}  {c.matched:>6}  {c.release_id}  {c.principal}  {c.product}  "
            f"{c.kind}  {c.created_at}"
        )
    return lines
