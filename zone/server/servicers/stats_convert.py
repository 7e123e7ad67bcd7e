"""Statistics proto <-> domain conversion (requests are decoded without trusting them)."""

from __future__ import annotations

from zone._proto import common_pb2, statistics_pb2
from zone.errors import InvalidArgument
from zone.ledger import Amount, Balance
from zone.products.statistics import (
    Filter,
    Measure,
    MeasurePlan,
    QueryPlan,
    StatsQuery,
)
from zone.products.statistics.accuracy import plan_bounds
from zone.products.statistics.execute import GUARANTEE
from zone.products.statistics.query import FilterValue, MeasureKind
from zone.products.statistics.release import Cell
from zone.products.statistics.service import Estimate, Outcome

_KINDS: dict[int, MeasureKind] = {
    statistics_pb2.Measure.COUNT: "count",
    statistics_pb2.Measure.SUM: "sum",
    statistics_pb2.Measure.MEAN: "mean",
    statistics_pb2.Measure.HISTOGRAM: "histogram",
    statistics_pb2.Measure.QUANTILE: "quantile",
}
MAX_LIST = 1_000


def _value(v: statistics_pb2.Value) -> FilterValue:
    which = v.WhichOneof("kind")
    if which is None:
        raise InvalidArgument("a filter value is empty", reason="bad_filter")
    value: FilterValue = getattr(v, which)
    return value


def _filter(f: statistics_pb2.Filter) -> Filter:
    which = f.WhichOneof("condition")
    if which == "equals":
        return Filter(f.column, "eq", (_value(f.equals),))
    if which == "range":
        low = _value(f.range.low) if f.range.HasField("low") else None
        high = _value(f.range.high) if f.range.HasField("high") else None
        return Filter(f.column, "range", (low, high))
    if which == "in":
        values = getattr(f, "in").values
        if len(values) > MAX_LIST:
            raise InvalidArgument(f"an IN filter takes at most {MAX_LIST} values")
        return Filter(f.column, "in", tuple(_value(v) for v in values))
    raise InvalidArgument(f"filter on {f.column[:64]!r} has no condition", reason="bad_filter")


def _measure(m: statistics_pb2.Measure) -> Measure:
    kind = _KINDS.get(m.kind)
    if kind is None:
        raise InvalidArgument("measure kind is missing or unknown", reason="bad_measure")
    if len(m.quantiles) > MAX_LIST:
        raise InvalidArgument("too many quantiles")
    return Measure(kind, m.column, m.bins, tuple(m.quantiles))


def query_from_proto(q: statistics_pb2.StatisticsQuery) -> StatsQuery:
    """The domain query; structural problems raise InvalidArgument, the rest is the planner's."""
    if len(q.measures) > MAX_LIST or len(q.filters) > MAX_LIST or len(q.group_by) > MAX_LIST:
        raise InvalidArgument("query is too large", reason="bad_query")
    return StatsQuery(
        product=q.product,
        measures=tuple(_measure(m) for m in q.measures),
        group_by=tuple(q.group_by),
        filters=tuple(_filter(f) for f in q.filters),
        epsilon=q.epsilon,
        delta=q.delta,
    )


def _measure_plan(plan: MeasurePlan) -> statistics_pb2.MeasurePlan:
    return statistics_pb2.MeasurePlan(
        measure=statistics_pb2.Measure(kind=plan.kind.upper(), column=plan.column, bins=plan.bins),
        mechanisms=[c.mechanism for c in plan.components],
        epsilon=plan.epsilon,
        delta=0.0,
        noise_scales=[c.released_scale for c in plan.components],
        sensitivities=[c.released_sensitivity for c in plan.components],
        steps=[c.step for c in plan.components],
        error_bounds=plan_bounds(plan),
    )


def _cell(cell: Cell) -> statistics_pb2.Cell:
    message = statistics_pb2.Cell(
        key=list(cell.key),
        values=list(cell.values),
        error_bounds=list(cell.error_bounds),
        low_signal=list(cell.low_signal),
    )
    if cell.support is not None:
        message.support = cell.support
    return message


def _budget(amount: Amount) -> common_pb2.PrivacyBudget:
    return common_pb2.PrivacyBudget(epsilon=amount.epsilon, delta=amount.delta)


def _remaining(balance: Balance) -> common_pb2.PrivacyBudget:
    return _budget(balance.remaining)


def estimate_to_proto(estimate: Estimate) -> statistics_pb2.CostEstimate:
    """The reply of EstimateCost."""
    plan: QueryPlan = estimate.plan
    return statistics_pb2.CostEstimate(
        cost=common_pb2.PrivacyBudget(epsilon=plan.epsilon, delta=plan.delta),
        measures=[_measure_plan(m) for m in plan.measures],
        remaining=_remaining(estimate.balance),
        dataset=plan.dataset,
        guarantee=GUARANTEE,
    )


def outcome_to_proto(outcome: Outcome) -> statistics_pb2.StatisticsResult:
    """The reply of Query."""
    results = []
    for plan, released in zip(outcome.plan.measures, outcome.release.measures, strict=True):
        measure_plan = _measure_plan(plan)
        measure_plan.measure.quantiles.extend(released.quantiles)
        results.append(
            statistics_pb2.MeasureResult(
                plan=measure_plan,
                group_by=list(released.group_by),
                bin_labels=list(released.bin_labels),
                cells=[_cell(c) for c in released.cells],
                error_bound_method=released.error_bound_method,
            )
        )
    return statistics_pb2.StatisticsResult(
        release_id=outcome.release_id,
        results=results,
        charged=_budget(outcome.charged),
        remaining=_remaining(outcome.balance),
        dataset=outcome.plan.dataset,
        dataset_version=outcome.dataset_version,
        output_digest=outcome.output_digest,
        guarantee=outcome.release.guarantee,
    )
