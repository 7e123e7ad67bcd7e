"""Building statistics queries and reading their results (SDK side).

from zone.client.stats import count, mean, between
result = client.query_statistics(
    "enterprise-stats", [count(), mean("employees")], group_by=["district"],
    filters=[between("founded_year", 2010, 2020)], epsilon=0.5)
result.results[0].cells  # {("Dongcheng",): (1234.7,), ...}
result.results[0].error_bounds  # {("Dongcheng",): (3.1,), ...}: 95% bounds, same units
result.results[0].low_signal  # {("Dongcheng",): (False,), ...}

Error bounds are computed by the zone from the released values and the public noise scales only
(no data, no budget); quantile bounds are in ranks, not in the column's units (see
``Cell`` in proto/zone/v1/statistics.proto).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from zone._proto import common_pb2, statistics_pb2

Scalar = str | int | float | bool
# The request types the builders below return, named here so that callers need not import
# generated code.
Measure = statistics_pb2.Measure
Filter = statistics_pb2.Filter


def count() -> statistics_pb2.Measure:
    """Number of entities (per group)."""
    return statistics_pb2.Measure(kind=statistics_pb2.Measure.COUNT)


def sum_of(column: str) -> statistics_pb2.Measure:
    """Sum of a numeric column, clamped to its public bounds."""
    return statistics_pb2.Measure(kind=statistics_pb2.Measure.SUM, column=column)


def mean(column: str) -> statistics_pb2.Measure:
    """Mean of a numeric column (noisy sum / noisy count)."""
    return statistics_pb2.Measure(kind=statistics_pb2.Measure.MEAN, column=column)


def histogram(column: str, bins: int = 0) -> statistics_pb2.Measure:
    """Counts per bin: ``bins`` equal-width bins (numeric) or per domain value (bins=0)."""
    return statistics_pb2.Measure(kind=statistics_pb2.Measure.HISTOGRAM, column=column, bins=bins)


def quantiles(column: str, qs: Sequence[float]) -> statistics_pb2.Measure:
    """Quantiles of a numeric column over a public candidate grid."""
    return statistics_pb2.Measure(
        kind=statistics_pb2.Measure.QUANTILE, column=column, quantiles=list(qs)
    )


def value(v: Scalar) -> statistics_pb2.Value:
    """A typed filter value."""
    if isinstance(v, bool):
        return statistics_pb2.Value(bool_value=v)
    if isinstance(v, int):
        return statistics_pb2.Value(int_value=v)
    if isinstance(v, float):
        return statistics_pb2.Value(double_value=v)
    return statistics_pb2.Value(string_value=v)


def eq(column: str, v: Scalar) -> statistics_pb2.Filter:
    """Filter: the column equals ``v``."""
    return statistics_pb2.Filter(column=column, equals=value(v))


def between(column: str, low: Scalar | None, high: Scalar | None) -> statistics_pb2.Filter:
    """Filter: ``low <= column <= high``; None leaves that end open."""
    rng = statistics_pb2.Range()
    if low is not None:
        rng.low.CopyFrom(value(low))
    if high is not None:
        rng.high.CopyFrom(value(high))
    return statistics_pb2.Filter(column=column, range=rng)


def isin(column: str, values: Iterable[Scalar]) -> statistics_pb2.Filter:
    """Filter: the column is one of ``values``."""
    flt = statistics_pb2.Filter(column=column)
    getattr(flt, "in").values.extend(value(v) for v in values)  # "in" is a Python keyword
    return flt


def build_query(
    product: str,
    measures: Sequence[statistics_pb2.Measure],
    *,
    epsilon: float,
    delta: float = 0.0,
    group_by: Sequence[str] = (),
    filters: Sequence[statistics_pb2.Filter] = (),
) -> statistics_pb2.StatisticsQuery:
    """The request message."""
    return statistics_pb2.StatisticsQuery(
        product=product,
        measures=list(measures),
        group_by=list(group_by),
        filters=list(filters),
        epsilon=epsilon,
        delta=delta,
    )


@dataclass(frozen=True)
class MeasurePlan:
    """How a measure is (or would be) released: mechanisms, epsilon, noise scales.

    ``noise_scales``, ``sensitivities`` and ``steps`` have one entry per mechanism, in the
    units of the value that mechanism perturbs: the column's units for a sum (and a mean's
    sum), entities for counts (and a mean's count), ranks of the score for quantiles. The
    noise of a count or sum is a whole number of ``steps`` (0 for quantiles).
    ``error_bounds``: each mechanism's 95% noise bound in the same units (ranks for quantiles),
    known before the query runs.
    """

    kind: str
    column: str
    mechanisms: tuple[str, ...]
    epsilon: float
    delta: float
    noise_scales: tuple[float, ...]
    sensitivities: tuple[float, ...]
    steps: tuple[float, ...] = ()
    error_bounds: tuple[float, ...] = ()


@dataclass(frozen=True)
class CostEstimate:
    """What a query would spend, and what remains of the caller's budget."""

    epsilon: float
    delta: float
    remaining_epsilon: float
    remaining_delta: float
    dataset: str
    measures: tuple[MeasurePlan, ...]
    guarantee: str


@dataclass(frozen=True)
class MeasureRelease:
    """One released measure: cells keyed by group (empty tuple without group_by).

    ``error_bounds`` and ``low_signal`` hold one entry per value of each cell: the 95% error
    bound (in the value's units; in ranks for quantiles) and whether the value carries little
    signal. ``support`` holds a mean's noisy count per group. ``error_bound_method`` says how
    the bounds were computed.
    """

    plan: MeasurePlan
    group_by: tuple[str, ...]
    bin_labels: tuple[str, ...]
    cells: dict[tuple[str, ...], tuple[float, ...]]
    error_bounds: dict[tuple[str, ...], tuple[float, ...]] = field(default_factory=dict)
    low_signal: dict[tuple[str, ...], tuple[bool, ...]] = field(default_factory=dict)
    support: dict[tuple[str, ...], int] = field(default_factory=dict)
    error_bound_method: str = ""


@dataclass(frozen=True)
class StatisticsRelease:
    """A DP statistics release and what it cost."""

    release_id: str
    results: tuple[MeasureRelease, ...]
    charged_epsilon: float
    charged_delta: float
    remaining_epsilon: float
    remaining_delta: float
    dataset: str
    dataset_version: str
    output_digest: str
    guarantee: str


def _plan(p: statistics_pb2.MeasurePlan) -> MeasurePlan:
    return MeasurePlan(
        kind=statistics_pb2.Measure.Kind.Name(p.measure.kind).lower(),
        column=p.measure.column,
        mechanisms=tuple(p.mechanisms),
        epsilon=p.epsilon,
        delta=p.delta,
        noise_scales=tuple(p.noise_scales),
        sensitivities=tuple(p.sensitivities),
        steps=tuple(p.steps),
        error_bounds=tuple(p.error_bounds),
    )


def _budget(b: common_pb2.PrivacyBudget) -> tuple[float, float]:
    return b.epsilon, b.delta


def estimate_from_proto(reply: statistics_pb2.CostEstimate) -> CostEstimate:
    """Typed view of a CostEstimate reply."""
    return CostEstimate(
        *_budget(reply.cost),
        *_budget(reply.remaining),
        dataset=reply.dataset,
        measures=tuple(_plan(m) for m in reply.measures),
        guarantee=reply.guarantee,
    )


def release_from_proto(reply: statistics_pb2.StatisticsResult) -> StatisticsRelease:
    """Typed view of a StatisticsResult reply."""
    results = tuple(
        MeasureRelease(
            plan=_plan(r.plan),
            group_by=tuple(r.group_by),
            bin_labels=tuple(r.bin_labels),
            cells={tuple(c.key): tuple(c.values) for c in r.cells},
            error_bounds={tuple(c.key): tuple(c.error_bounds) for c in r.cells},
            low_signal={tuple(c.key): tuple(c.low_signal) for c in r.cells},
            support={tuple(c.key): c.support for c in r.cells if c.HasField("support")},
            error_bound_method=r.error_bound_method,
        )
        for r in reply.results
    )
    return StatisticsRelease(
        reply.release_id,
        results,
        *_budget(reply.charged),
        *_budget(reply.remaining),
        dataset=reply.dataset,
        dataset_version=reply.dataset_version,
        output_digest=reply.output_digest,
        guarantee=reply.guarantee,
    )
