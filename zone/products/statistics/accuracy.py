"""95% error bounds of released statistics: from released values and public parameters only.

Every bound here is a function of what the caller receives (the released values, a mean's
noisy count) and of the public plan (noise scales, integer steps, public bounds, the number of
quantile candidates). Nothing reads the data and nothing spends budget: a bound is a
post-processing of DP outputs, so the release stays (epsilon, delta)-DP as planned.

What each bound covers (``COVERAGE`` = 95%):

* count, histogram, sum: the exact 95% quantile of the discrete Laplace noise. OpenDP's integer
  Laplace draws ``Z`` with ``P(Z = k) = (1 - p) / (1 + p) * p**|k|``, ``p = exp(-1 / scale)``,
  so ``P(|Z| > b) = 2 p**(b + 1) / (1 + p)``; the bound is the smallest integer ``b`` with
  ``P(|Z| > b) <= 5%`` (times the sum's granularity). The released value lies within it of the
  exact aggregate of the clamped (and, for sums, granularity-rounded) values with probability
  at least 95% and below 95% + P(|Z| = b). Clamping values into the public bounds and rounding
  them to the granularity are deterministic, public rules not counted in the bound.
* mean: a conservative interval. The sum's and the count's noise lie within their
  ``sqrt(95%)`` bounds together with probability >= 95% (independent noise); on that event the
  true mean lies between the extreme ratios ``(S' +- b_S) / (C' -+ b_C)`` (``S'`` recovered as
  released mean x max(released count, 1); a mean clamped to a bound only widens this), cut to
  the public bounds. The bound is the larger distance from the released mean to that interval:
  coverage at least 95% (often more: it is a box, not an exact quantile).
* quantile: in *ranks*, not in the column's units (a value bound would need the data's
  density). The exponential mechanism (report noisy max) picks a candidate whose score (for the
  alpha-quantile, ``|(1 - alpha) #below - alpha #above|``, a distance in ranks) is worse than
  the best candidate's by more than ``t`` with probability at most ``(m - 1) exp(-t / scale)``
  over m candidates, so with ``t = scale * ln((m - 1) / 5%)`` the released value is, with
  probability >= 95%, within ``t`` ranks of the best public candidate (the true quantile up to
  the grid's spacing). Conservative: the union bound over all candidates is tight only when
  many candidates tie.

``low_signal`` marks a value whose 95% interval reaches zero (bound >= |value|, the sign and
magnitude are not established); a mean whose interval covers at least half of the public
bounds; and a quantile whose rank bound reaches min(alpha, 1 - alpha) x the group's released
count, where the same release carries one (a ``count`` measure, or the support of a mean of the
same column): the released quantile could then be the group's minimum or maximum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from zone.products.statistics.measure_plans import ComponentPlan, MeasurePlan, in_units
from zone.products.statistics.mechanisms import QUANTILE
from zone.products.statistics.plan import QueryPlan
from zone.products.statistics.release import Cell, MeasureRelease, StatsRelease

COVERAGE = 0.95
MISS = 1.0 - COVERAGE
_MEAN_PART_MISS = 1.0 - math.sqrt(COVERAGE)  # sum and count noise each, independent
_MAX_ADJUST = 4  # float steps around the closed form (beyond them a unit is immaterial)

EXACT = "exact 95% quantile of the discrete Laplace noise (in the measure's units)"
MEAN_BOX = (
    "conservative 95% interval: sum and count noise each within their sqrt(95%) bounds, "
    "extreme ratios, cut to the public bounds (in the column's units)"
)
RANKS = (
    "95% bound in ranks (number of the group's values) between the released candidate and "
    "the best public candidate; exponential-mechanism tail bound, conservative"
)


def discrete_laplace_tail(scale: float, bound: int) -> float:
    """``P(|Z| > bound)`` for OpenDP's discrete Laplace noise ``Z`` of ``scale``."""
    if scale <= 0:
        return 0.0
    p = math.exp(-1.0 / scale)
    return 2.0 * math.exp(-(bound + 1) / scale) / (1.0 + p)


def discrete_laplace_bound(scale: float, miss: float = MISS) -> int:
    """The smallest integer ``b >= 0`` with ``P(|Z| > b) <= miss`` (exact, see the module doc)."""
    if scale <= 0:
        return 0
    p = math.exp(-1.0 / scale)
    bound = max(0, math.ceil(-scale * math.log(miss * (1.0 + p) / 2.0)) - 1)
    for _ in range(_MAX_ADJUST):
        if bound > 0 and discrete_laplace_tail(scale, bound - 1) <= miss:
            bound -= 1
    for _ in range(_MAX_ADJUST):
        if discrete_laplace_tail(scale, bound) > miss:
            bound += 1
    return bound


def quantile_rank_bound(scale: float, candidates: int, miss: float = MISS) -> float:
    """Ranks within which the released candidate's score is of the best, w.p. >= 1 - miss."""
    if candidates <= 1:
        return 0.0
    return scale * math.log((candidates - 1) / miss)


def component_bound(component: ComponentPlan, candidates: int = 0) -> float:
    """The data-independent 95% bound of one mechanism, in its released units.

    Discrete Laplace: the exact bound times the step (granularity for sums); quantiles: ranks.
    """
    if component.mechanism == QUANTILE:
        return quantile_rank_bound(component.scale, candidates)
    return in_units(float(discrete_laplace_bound(component.scale)), component.granularity)


def method(plan: MeasurePlan) -> str:
    """How the bounds of ``plan``'s cells are computed, in words."""
    if plan.kind == "mean":
        return MEAN_BOX
    if plan.kind == "quantile":
        return RANKS
    return EXACT


def annotate(plan: QueryPlan, release: StatsRelease) -> StatsRelease:
    """``release`` with a 95% error bound and a low-signal flag on every released value.

    Post-processing only (released values and the public plan): the guarantee of ``release``
    is unchanged and nothing is charged.
    """
    counts = _released_counts(plan, release)
    pairs = zip(plan.measures, release.measures, strict=True)
    measures = tuple(_annotate_measure(p, m, counts) for p, m in pairs)
    return replace(release, measures=measures)


def _released_counts(
    plan: QueryPlan, release: StatsRelease
) -> dict[str, Mapping[tuple[str, ...], float]]:
    """Per column (``""`` for entities): each group's released count, where there is one."""
    counts: dict[str, Mapping[tuple[str, ...], float]] = {}
    for p, m in zip(plan.measures, release.measures, strict=True):
        if p.kind == "count":
            counts.setdefault("", {c.key: c.values[0] for c in m.cells})
        elif p.kind == "mean":
            counts[p.column] = {c.key: float(c.support) for c in m.cells if c.support is not None}
    return counts


def _annotate_measure(
    plan: MeasurePlan,
    release: MeasureRelease,
    counts: Mapping[str, Mapping[tuple[str, ...], float]],
) -> MeasureRelease:
    if plan.kind == "mean":
        cells = tuple(_mean_cell(plan, cell) for cell in release.cells)
    elif plan.kind == "quantile":
        group_sizes = counts.get(plan.column) or counts.get("") or {}
        cells = tuple(_quantile_cell(plan, c, group_sizes.get(c.key)) for c in release.cells)
    else:
        bound = component_bound(plan.components[0])
        cells = tuple(_laplace_cell(cell, bound) for cell in release.cells)
    return replace(release, cells=cells, error_bound_method=method(plan))


def _reaches_zero(value: float, bound: float) -> bool:
    return bound > 0 and bound >= abs(value)


def _laplace_cell(cell: Cell, bound: float) -> Cell:
    flags = tuple(_reaches_zero(v, bound) for v in cell.values)
    return cell._replace(error_bounds=(bound,) * len(cell.values), low_signal=flags)


def mean_interval(
    mean: float, support: int, plan: MeasurePlan, miss: float = _MEAN_PART_MISS
) -> tuple[float, float]:
    """The interval holding the true mean when both noises are within their bounds.

    ``mean`` and ``support`` are the released mean and its noisy count; see the module doc.
    """
    low, high = plan.bounds or (-math.inf, math.inf)
    total, count = plan.components
    sum_bound = in_units(float(discrete_laplace_bound(total.scale, miss)), total.granularity)
    count_bound = discrete_laplace_bound(count.scale, miss)
    smallest = max(support - count_bound, 1)
    largest = support + count_bound
    if largest < 1:  # possibly no values at all: the bounds are all that is known
        return low, high
    noisy_sum = mean * max(support, 1)
    ratios = [
        s / c for s in (noisy_sum - sum_bound, noisy_sum + sum_bound) for c in (smallest, largest)
    ]
    return max(min(ratios), low), min(max(ratios), high)


def _mean_cell(plan: MeasurePlan, cell: Cell) -> Cell:
    if cell.support is None:  # pragma: no cover - execute always releases a mean's count
        raise ValueError("a mean cell needs its released count")
    mean = cell.values[0]
    lower, upper = mean_interval(mean, cell.support, plan)
    bound = max(mean - lower, upper - mean, 0.0)
    low, high = plan.bounds or (-math.inf, math.inf)
    wide = upper - lower >= (high - low) / 2
    return cell._replace(error_bounds=(bound,), low_signal=(wide or _reaches_zero(mean, bound),))


def _quantile_cell(plan: MeasurePlan, cell: Cell, group_size: float | None) -> Cell:
    bounds = tuple(quantile_rank_bound(c.scale, len(plan.candidates)) for c in plan.components)
    flags = tuple(
        group_size is not None and bound >= min(alpha, 1 - alpha) * group_size
        for alpha, bound in zip(plan.quantiles, bounds, strict=True)
    )
    return cell._replace(error_bounds=bounds, low_signal=flags)


def plan_bounds(plan: MeasurePlan) -> Sequence[float]:
    """Each component's data-independent 95% bound (the estimate shows them before a query)."""
    return [component_bound(c, len(plan.candidates)) for c in plan.components]
