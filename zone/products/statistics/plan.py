"""Planning: validate a query, split its budget, calibrate every mechanism, prepare the SQL.

``plan_query`` touches no data and is cheap (a few OpenDP constructor and map calls, no
search over data), so cost estimation can call it freely.

Budget split (sequential composition): the query's epsilon is split evenly over its parts,
one part per measure plus one for DP key selection when a group_by column has no public
domain. A mean splits its part evenly into a sum and a count; a quantile measure splits its
part evenly over the requested quantiles. Within one measure, groups (and histogram bins)
partition the entities, so one entity affects exactly one cell: by parallel composition the
measure's epsilon covers all its cells. Every part is rounded down (by float steps) so that
the parts never add up to more than the requested epsilon. delta is 0 for every mechanism
except key selection, which spends the whole query delta.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import zone.products.statistics.measure_plans as measure_plans
from zone.catalog.metadata import DatasetMeta
from zone.catalog.product_models import StatisticsProduct
from zone.errors import Problem, ValidationFailed
from zone.products.statistics.columns import domain_labels, group_sql, key_sql
from zone.products.statistics.filters import filter_sql
from zone.products.statistics.measure_plans import ComponentPlan, MeasurePlan, split_evenly
from zone.products.statistics.mechanisms import KEY_SELECTION, threshold_params
from zone.products.statistics.query import MAX_GROUPS, StatsQuery
from zone.products.statistics.validate import needs_key_selection, query_problems

__all__ = [
    "ComponentPlan",
    "KeySelectionPlan",
    "MeasurePlan",
    "QueryPlan",
    "plan_query",
    "split_evenly",
]


@dataclass(frozen=True)
class KeySelectionPlan:
    """DP selection of the group keys when a group_by column has no public domain.

    Attributes:
        mechanism: the OpenDP mechanism (Laplace threshold on the per-key entity counts).
        epsilon: its share of the query epsilon.
        delta: the query delta (the probability bound of releasing a key held by one entity).
        scale: discrete Laplace scale on the counts (sensitivity l0 = l1 = linf = 1).
        threshold: keys whose noisy count is below it are not released.
        max_keys: at most this many keys (highest noisy counts) are kept (post-processing).
        select_sql: the exact per-key count query (``{table}`` placeholder), then WHERE params.
    """

    mechanism: str
    epsilon: float
    delta: float
    scale: float
    threshold: int
    max_keys: int
    select_sql: str


@dataclass(frozen=True)
class QueryPlan:
    """Everything needed to run a validated query; pure data, touches no data.

    Attributes:
        product: the product id.
        dataset: the dataset the product reads.
        epsilon: the epsilon charged for the query (the parts add up to at most this).
        delta: the delta charged (0 unless key selection).
        max_epsilon_per_query: the product's cap, for the caller to enforce.
        group_by: grouping columns in declared order.
        group_keys: the released keys: the cartesian product of the group_by columns' public
            domains in declared order (``((),)`` without grouping; empty when the keys come
            from DP key selection at execution).
        domains: each group_by column's public labels (None where keys are selected).
        key_sql: SQL of each group_by column as a VARCHAR label (table alias ``t``).
        group_sql: SQL of each group_by column as the value to group rows by, whose
            ``CAST(... AS VARCHAR)`` is the label (see ``columns.group_sql``).
        where_sql: the filter condition with ``?`` placeholders.
        where_params: its bound parameters.
        measures: per measure: mechanisms, budget, scales, sensitivities, SQL pieces.
        key_selection: the key selection step, when needed.
    """

    product: str
    dataset: str
    epsilon: float
    delta: float
    max_epsilon_per_query: float
    group_by: tuple[str, ...]
    group_keys: tuple[tuple[str, ...], ...]
    domains: tuple[tuple[str, ...] | None, ...]
    key_sql: tuple[str, ...]
    group_sql: tuple[str, ...]
    where_sql: str
    where_params: tuple[object, ...]
    measures: tuple[MeasurePlan, ...]
    key_selection: KeySelectionPlan | None

    @property
    def composed_epsilon(self) -> float:
        """The sum of every part's epsilon (sequential composition); never above ``epsilon``."""
        parts = [m.epsilon for m in self.measures]
        if self.key_selection is not None:
            parts.append(self.key_selection.epsilon)
        return math.fsum(parts)


def plan_query(query: StatsQuery, product: StatisticsProduct, meta: DatasetMeta) -> QueryPlan:
    """Validate ``query`` and plan its execution, without touching data.

    The product's ``max_epsilon_per_query`` is not enforced here (the caller maps it to a
    permission error); it is exposed on the plan.

    Raises:
        ValidationFailed: (an InvalidArgument) listing every problem, each with source "query".
    """
    problems = query_problems(query, product, meta)
    if problems:
        raise ValidationFailed(
            [Problem("query", None, message) for message in problems], what="statistics query"
        )
    selecting = needs_key_selection(query, meta)
    share = split_evenly(query.epsilon, len(query.measures) + int(selecting))
    columns = [meta.columns[name] for name in query.group_by]
    domains = tuple(domain_labels(column) for column in columns)
    where_sql, where_params = filter_sql(query.filters, meta)
    key_exprs = tuple(key_sql(n, c) for n, c in zip(query.group_by, columns, strict=True))
    group_exprs = tuple(group_sql(n, c) for n, c in zip(query.group_by, columns, strict=True))
    return QueryPlan(
        product=product.id,
        dataset=product.dataset,
        epsilon=float(query.epsilon),
        delta=float(query.delta),
        max_epsilon_per_query=product.max_epsilon_per_query,
        group_by=query.group_by,
        group_keys=() if selecting else _cartesian(domains),
        domains=domains,
        key_sql=key_exprs,
        group_sql=group_exprs,
        where_sql=where_sql,
        where_params=where_params,
        measures=tuple(measure_plans.plan_measure(m, share, meta) for m in query.measures),
        key_selection=(
            _plan_key_selection(share, query.delta, group_exprs, where_sql) if selecting else None
        ),
    )


def _cartesian(domains: tuple[tuple[str, ...] | None, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(itertools.product(*(domain or () for domain in domains)))


def _plan_key_selection(
    epsilon: float, delta: float, group_exprs: tuple[str, ...], where_sql: str
) -> KeySelectionPlan:
    """Key counts grouped on raw values, labelled after aggregation (one row per key)."""
    scale, threshold = threshold_params(epsilon, delta)
    inner = ", ".join(f"{expr} AS _g{i}" for i, expr in enumerate(group_exprs))
    labels = ", ".join(f"CAST(_g{i} AS VARCHAR)" for i in range(len(group_exprs)))
    found = f"SELECT {inner}, count(*) AS _n FROM {{table}} AS t WHERE {where_sql} GROUP BY ALL"
    sql = f"SELECT {labels}, _n FROM ({found}) AS _zone_found"
    return KeySelectionPlan(
        mechanism=KEY_SELECTION,
        epsilon=epsilon,
        delta=delta,
        scale=scale,
        threshold=threshold,
        max_keys=MAX_GROUPS,
        select_sql=sql,
    )
