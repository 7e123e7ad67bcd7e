"""Per-measure planning: mechanism, budget, calibrated scale, sensitivity and SQL pieces.

SQL pieces reference the dataset table as alias ``t``; column names were validated against
the metadata (and are double-quoted); every constant is a bound ``?`` parameter.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

import zone.products.statistics.mechanisms as mechanisms
from zone.catalog.metadata import DatasetMeta
from zone.products.statistics.columns import (
    domain_labels,
    granularity,
    integer_bounds,
    quote,
)
from zone.products.statistics.query import QUANTILE_CANDIDATES, Measure, MeasureKind


@dataclass(frozen=True)
class ComponentPlan:
    """One mechanism invocation of a measure (a mean has two: sum and count).

    Attributes:
        name: ``count``, ``sum`` or ``quantile(<alpha>)``.
        mechanism: the OpenDP mechanism.
        epsilon: this component's share (delta is 0: every component is pure DP).
        scale: the noise scale in the mechanism's units (integer units of ``granularity`` for
            sums; rank units of the quantile score for quantiles). What callers are told is
            :attr:`released_scale`.
        sensitivity: how much one entity can change the mechanism's input, in the same units
            (L1 for vectors of counts or integer sums; L-infinity of the scores for quantiles).
        granularity: the public unit of sums (None otherwise).
    """

    name: str
    mechanism: str
    epsilon: float
    scale: float
    sensitivity: float
    granularity: float | None = None

    @property
    def step(self) -> float:
        """The integer step of the noise in the released values' units (0 for quantiles).

        Discrete Laplace noise is a whole number of steps: the granularity for sums, 1 for
        counts. A quantile's release is one of the public candidates, not a value plus noise.
        """
        if self.mechanism == mechanisms.QUANTILE:
            return 0.0
        return self.granularity or 1.0

    @property
    def released_scale(self) -> float:
        """:attr:`scale` in the released values' units (a sum's scale times its granularity)."""
        return in_units(self.scale, self.granularity)

    @property
    def released_sensitivity(self) -> float:
        """:attr:`sensitivity` in the released values' units, like :attr:`released_scale`."""
        return in_units(self.sensitivity, self.granularity)


def in_units(steps: float, granularity: float | None) -> float:
    """``steps * granularity`` computed in decimal (so 3 x 0.1 is 0.3); ``steps`` without one."""
    if granularity is None:
        return steps
    return float(Decimal(repr(steps)) * Decimal(repr(granularity)))


@dataclass(frozen=True)
class MeasurePlan:
    """One measure, ready to run.

    Attributes:
        kind: count, sum, mean, histogram or quantile.
        column: the measured column ("" for count).
        epsilon: the measure's share of the query epsilon (its components add up to at most it).
        components: the mechanisms; for a mean, sum then count.
        bins: cells per group (1 except for histograms).
        bin_labels: histogram bin labels (numeric: ``[low, high)``; categorical: domain labels).
        categorical: whether the histogram bins are domain values (the bin is the column
            itself, labelled with ``CAST(... AS VARCHAR)`` after aggregation).
        bin_sql: SQL of the bin per row: an index in 0..bins-1 (NULL where the value is
            NULL), or the column (categorical); "" when not a histogram.
        value_sql: SQL of the per-row value: for sums and means the clamped value in integer
            units (NULL where the value is NULL), for quantiles the clamped value as DOUBLE;
            "" for counts and histograms.
        params: parameters of ``bin_sql`` and ``value_sql`` (at most one of them is set).
        extra_where: an additional condition for the per-row fetch of quantiles: the value is
            not NULL (DuckDB's ``greatest``/``least`` skip NULLs, so a NULL must never reach a
            clamp; sums, means and bins guard with ``CASE WHEN ... IS NOT NULL`` instead).
        bounds: the public bounds of the column, where used.
        unit_bounds: (lowest, highest) value in integer units for sums and means.
        candidates: the public quantile candidates.
        quantiles: the requested quantiles.
        note: how the measure is computed, in words.
    """

    kind: MeasureKind
    column: str
    epsilon: float
    components: tuple[ComponentPlan, ...]
    bins: int = 1
    bin_labels: tuple[str, ...] = ()
    categorical: bool = False
    bin_sql: str = ""
    value_sql: str = ""
    params: tuple[object, ...] = ()
    extra_where: str = ""
    bounds: tuple[float, float] | None = None
    unit_bounds: tuple[int, int] | None = None
    candidates: tuple[float, ...] = ()
    quantiles: tuple[float, ...] = ()
    note: str = ""

    @property
    def delta(self) -> float:
        """Always 0: every measure mechanism is pure epsilon-DP."""
        return 0.0

    @property
    def mechanism(self) -> str:
        """The mechanism name(s) of the components."""
        return " + ".join(dict.fromkeys(c.mechanism for c in self.components))


def plan_measure(measure: Measure, epsilon: float, meta: DatasetMeta) -> MeasurePlan:
    """The plan of one validated measure with ``epsilon`` as its share."""
    if measure.kind == "count":
        return _count(epsilon)
    if measure.kind == "histogram":
        return _histogram(measure, epsilon, meta)
    if measure.kind == "quantile":
        return _quantile(measure, epsilon, meta)
    return _sum_or_mean(measure, epsilon, meta)


def _laplace_component(name: str, sensitivity: int, epsilon: float) -> ComponentPlan:
    scale = mechanisms.laplace_scale(sensitivity, epsilon)
    return ComponentPlan(name, mechanisms.DISCRETE_LAPLACE, epsilon, scale, float(sensitivity))


def _count(epsilon: float) -> MeasurePlan:
    note = "entities per group; discrete Laplace on the exact counts (unbiased, may be < 0)"
    return MeasurePlan("count", "", epsilon, (_laplace_component("count", 1, epsilon),), note=note)


def _sum_or_mean(measure: Measure, epsilon: float, meta: DatasetMeta) -> MeasurePlan:
    column = meta.columns[measure.column]
    bounds = _bounds_of(column.bounds)
    g = granularity(column)
    lo_units, hi_units = integer_bounds(column)
    sensitivity = max(abs(lo_units), abs(hi_units), 1)
    integer = column.type == "integer"
    units, params = _units_sql(quote(measure.column), integer, bounds, g, (lo_units, hi_units))
    is_mean = measure.kind == "mean"
    total = replace(
        _laplace_component("sum", sensitivity, epsilon / 2 if is_mean else epsilon), granularity=g
    )
    components: tuple[ComponentPlan, ...] = (total,)
    note = f"values clamped to the bounds, summed exactly as integers in units of {g!r}"
    if is_mean:
        components = (total, _laplace_component("count", 1, epsilon / 2))
        note = "noisy sum / noisy count of non-null values, each with half of epsilon, clamped"
    return MeasurePlan(
        measure.kind,
        measure.column,
        epsilon,
        components,
        value_sql=units,
        params=params,
        bounds=bounds,
        unit_bounds=(lo_units, hi_units),
        note=note,
    )


def _units_sql(
    name: str,
    integer: bool,
    bounds: tuple[float, float],
    g: float,
    unit_bounds: tuple[int, int],
) -> tuple[str, tuple[object, ...]]:
    """SQL of a value clamped to the bounds in integer units of ``g`` (NULL stays NULL).

    In DOUBLE: ``clamp(floor(clamp(v, low, high) / g + 0.5), lo, hi)``, ``(lo, hi)`` being
    :func:`integer_bounds`. For an integer column at granularity 1 this equals ``clamp(v, lo,
    hi)`` for every BIGINT ``v``, so it is computed in BIGINT (no conversion per row, the same
    integers): a ``v`` in ``[lo, hi]`` has ``|v| <= 2**52`` (``units_problem``), every DOUBLE
    step is exact and gives ``v`` (where ``lo`` was snapped just below ``low``, ``floor(low +
    0.5)`` is ``lo = v``); a ``v`` below ``lo`` gives ``floor(low + 0.5) <= ceil(low)``,
    clamped to ``lo``, and symmetrically above ``hi``. The pinned-aggregate test holds both.
    """
    lo_units, hi_units = unit_bounds
    if integer and g == 1.0:
        sql = f"CASE WHEN {name} < ? THEN ? WHEN {name} > ? THEN ? ELSE {name} END"
        return sql, (lo_units, lo_units, hi_units, hi_units)
    units = f"CAST(least(greatest(floor(least(greatest({name}, ?), ?) / ? + 0.5), ?), ?) AS BIGINT)"
    return f"CASE WHEN {name} IS NOT NULL THEN {units} END", (*bounds, g, lo_units, hi_units)


def _bounds_of(bounds: tuple[float, float] | None) -> tuple[float, float]:
    if bounds is None:
        raise ValueError("the column has no public bounds")  # excluded by validation
    return bounds


def _histogram(measure: Measure, epsilon: float, meta: DatasetMeta) -> MeasurePlan:
    column = meta.columns[measure.column]
    component = (_laplace_component("count", 1, epsilon),)
    if measure.bins == 0:
        labels = domain_labels(column) or ()
        note = "entities per group and domain value (values outside the domain are not counted)"
        return MeasurePlan(
            "histogram",
            measure.column,
            epsilon,
            component,
            bins=len(labels),
            bin_labels=labels,
            categorical=True,
            bin_sql=quote(measure.column),
            note=note,
        )
    low, high = _bounds_of(column.bounds)
    width = (high - low) / measure.bins
    name = quote(measure.column)
    index = f"least(greatest(CAST(floor((least(greatest({name}, ?), ?) - ?) / ?) AS BIGINT), 0), ?)"
    bin_sql = f"CASE WHEN {name} IS NOT NULL THEN {index} END"
    edges = [low + i * width for i in range(measure.bins)] + [high]
    labels = tuple(
        f"[{_number(a)}, {_number(b)}{']' if i == measure.bins - 1 else ')'}"
        for i, (a, b) in enumerate(itertools.pairwise(edges))
    )
    note = "equal-width bins over the public bounds; values outside fall into the end bins"
    return MeasurePlan(
        "histogram",
        measure.column,
        epsilon,
        component,
        bins=measure.bins,
        bin_labels=labels,
        bin_sql=bin_sql,
        params=(low, high, low, width, measure.bins - 1),
        bounds=(low, high),
        note=note,
    )


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def candidates_for(low: float, high: float, integer: bool) -> tuple[float, ...]:
    """Public quantile candidates: every integer when few enough, else an even grid."""
    if integer and high - low < QUANTILE_CANDIDATES:
        return tuple(float(v) for v in range(math.ceil(low), math.floor(high) + 1))
    return tuple(float(v) for v in np.linspace(low, high, QUANTILE_CANDIDATES))


def _quantile(measure: Measure, epsilon: float, meta: DatasetMeta) -> MeasurePlan:
    column = meta.columns[measure.column]
    low, high = _bounds_of(column.bounds)
    share = split_evenly(epsilon, len(measure.quantiles))
    components = []
    for alpha in measure.quantiles:
        scale, sensitivity = mechanisms.quantile_scale(alpha, share)
        components.append(
            ComponentPlan(f"quantile({alpha!r})", mechanisms.QUANTILE, share, scale, sensitivity)
        )
    name = quote(measure.column)
    return MeasurePlan(
        "quantile",
        measure.column,
        epsilon,
        tuple(components),
        # clamp(v, low, high) as DOUBLE; CASE rather than least/greatest (twice as fast per
        # row in DuckDB), the same value: NaN, which DuckDB orders above every number, gives high.
        value_sql=(
            f"CASE WHEN {name} < ? THEN ? WHEN {name} > ? THEN ? ELSE CAST({name} AS DOUBLE) END"
        ),
        params=(low, low, high, high),
        extra_where=f"{name} IS NOT NULL",
        bounds=(low, high),
        candidates=candidates_for(low, high, column.type == "integer"),
        quantiles=measure.quantiles,
        note="exponential mechanism over public candidates; epsilon split over the quantiles",
    )


def split_evenly(total: float, parts: int) -> float:
    """The largest float share such that ``parts`` shares never add up to more than ``total``."""
    share = total / parts
    while math.fsum([share] * parts) > total or sum([share] * parts) > total:
        share = math.nextafter(share, 0.0)
    return share
