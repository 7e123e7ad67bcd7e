"""Validation of a statistics query against its product and the dataset metadata.

Every problem is collected (never only the first), so a caller fixes a query in one round.
Nothing here touches data.
"""

from __future__ import annotations

import math

from zone.catalog.levels import Use, use_problem
from zone.catalog.metadata import ColumnMeta, DatasetMeta
from zone.catalog.product_models import StatisticsProduct
from zone.products.statistics.columns import column_problem, units_problem
from zone.products.statistics.filters import filter_problems
from zone.products.statistics.query import (
    MAX_BINS,
    MAX_FILTERS,
    MAX_GROUPS,
    MAX_HISTOGRAM_CELLS,
    MAX_MEASURES,
    MAX_QUANTILES,
    MEASURE_KINDS,
    Measure,
    StatsQuery,
)

MIN_EPSILON = 1e-6  # one micro-epsilon, the ledger's unit


def needs_key_selection(query: StatsQuery, meta: DatasetMeta) -> bool:
    """Whether some group_by column has no public domain (keys must then be selected with DP)."""
    return any(
        name in meta.columns and meta.columns[name].public_domain is None for name in query.group_by
    )


def declared_group_count(query: StatsQuery, meta: DatasetMeta) -> int:
    """Product of the domain sizes of the group_by columns that have a public domain."""
    sizes = (len(meta.columns[n].public_domain or ()) for n in query.group_by if n in meta.columns)
    return math.prod(size for size in sizes if size)


def query_problems(query: StatsQuery, product: StatisticsProduct, meta: DatasetMeta) -> list[str]:
    """Every reason why ``query`` cannot run on ``product`` (empty when it can)."""
    problems: list[str] = []
    if query.product != product.id:
        problems.append(f"the query names product {query.product!r}, not {product.id!r}")
    group_problems = _group_problems(query, product, meta)
    problems += group_problems
    problems += _budget_problems(query, meta if not group_problems else None)
    problems += _measures_problems(query, product, meta, not group_problems)
    if len(query.filters) > MAX_FILTERS:
        problems.append(f"at most {MAX_FILTERS} filters are allowed")
    for i, flt in enumerate(query.filters[:MAX_FILTERS]):
        offered = isinstance(flt.column, str) and flt.column in product.columns
        level = _level_problem(flt.column, meta, Use.FILTER) if offered else None
        problems += [f"filters[{i}]: {level}"] if level else filter_problems(i, flt, product, meta)
    return problems


def _level_problem(name: object, meta: DatasetMeta, use: Use) -> str | None:
    """Why the column's classification level forbids ``use`` (None if allowed or not a column).

    L4 is left to ``column_problem``, which refuses every use of it.
    """
    column = meta.columns.get(name) if isinstance(name, str) else None
    if column is None or column.level == "L4":
        return None
    return use_problem(str(name), column.level, use)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _budget_problems(query: StatsQuery, meta: DatasetMeta | None) -> list[str]:
    problems = []
    eps = query.epsilon
    if not (_is_number(eps) and math.isfinite(eps) and eps >= MIN_EPSILON):
        problems.append(f"epsilon must be a finite number >= {MIN_EPSILON:g}")
    delta = query.delta
    if not (_is_number(delta) and 0 <= delta < 1):
        problems.append("delta must be a number with 0 <= delta < 1")
    elif meta is not None:
        selecting = needs_key_selection(query, meta)
        if selecting and delta == 0:
            problems.append("grouping by a column without a public domain needs delta > 0")
        if not selecting and delta > 0:
            problems.append("delta must be 0: every mechanism of this query is pure epsilon-DP")
    return problems


def _group_problems(query: StatsQuery, product: StatisticsProduct, meta: DatasetMeta) -> list[str]:
    problems = []
    if len(set(query.group_by)) != len(query.group_by):
        problems.append("group_by columns must be unique")
    for i, name in enumerate(query.group_by):
        problem = column_problem(name, product, meta)
        if problem is None and name not in product.group_by:
            problem = f"product {product.id!r} does not allow grouping by {name!r}"
        if problem is None and meta.columns[name].public_domain is None:
            if not product.key_selection:
                problem = f"column {name!r} has no public domain to group by"
            else:
                problem = _level_problem(name, meta, Use.KEY_SELECTION)
        if problem is None:
            problem = _level_problem(name, meta, Use.GROUP_BY)
        if problem is not None:
            problems.append(f"group_by[{i}]: {problem}")
    if not problems and declared_group_count(query, meta) > MAX_GROUPS:
        problems.append(f"the grouping gives more than {MAX_GROUPS} groups")
    return problems


def _measures_problems(
    query: StatsQuery, product: StatisticsProduct, meta: DatasetMeta, groups_ok: bool
) -> list[str]:
    if not query.measures:
        return ["at least one measure is required"]
    if len(query.measures) > MAX_MEASURES:
        return [f"at most {MAX_MEASURES} measures are allowed"]
    groups = declared_group_count(query, meta) if groups_ok else 1
    problems = []
    for i, measure in enumerate(query.measures):
        problems += [
            f"measures[{i}]: {p}" for p in _measure_problems(measure, product, meta, groups)
        ]
    return problems


def _measure_problems(
    measure: Measure, product: StatisticsProduct, meta: DatasetMeta, groups: int
) -> list[str]:
    kind = measure.kind
    if kind not in MEASURE_KINDS:
        return [f"kind must be one of {', '.join(MEASURE_KINDS)}"]
    if kind not in product.measures:
        return [f"product {product.id!r} does not offer {kind}"]
    problems = _shape_problems(measure)
    if kind == "count":
        if measure.column != "":
            problems.append("count takes no column (it counts entities)")
        return problems
    problem = column_problem(measure.column, product, meta)
    if problem is not None:
        return [*problems, problem]
    column = meta.columns[measure.column]
    if kind == "histogram":
        return problems + _histogram_problems(measure, column, groups)
    if not (column.is_numeric and column.bounds is not None):
        return [*problems, f"{kind} needs a numeric column with public bounds"]
    if kind in ("sum", "mean"):
        unit_problem = units_problem(measure.column, column)
        problems += [unit_problem] if unit_problem else []
    return problems


def _shape_problems(measure: Measure) -> list[str]:
    problems = []
    bins = measure.bins
    if not isinstance(bins, int) or isinstance(bins, bool):
        problems.append("bins must be an integer")
    elif measure.kind != "histogram" and bins != 0:
        problems.append("bins applies only to histograms")
    quantiles = measure.quantiles
    if measure.kind != "quantile":
        return problems + (["quantiles applies only to quantile"] if quantiles else [])
    if not 1 <= len(quantiles) <= MAX_QUANTILES:
        problems.append(f"quantile needs 1 to {MAX_QUANTILES} quantiles")
    for i, q in enumerate(quantiles):
        if not (isinstance(q, float) and math.isfinite(q) and 0 < q < 1):
            problems.append(f"quantiles[{i}] must be a number strictly between 0 and 1")
    return problems


def _histogram_problems(measure: Measure, column: ColumnMeta, groups: int) -> list[str]:
    bins = measure.bins
    if not isinstance(bins, int) or isinstance(bins, bool):
        return []
    if bins < 0:
        return ["bins must not be negative"]
    if bins > 0:
        if not (column.is_numeric and column.bounds is not None):
            return ["a histogram with bins needs a numeric column with public bounds"]
        if bins > MAX_BINS:
            return [f"bins must be at most {MAX_BINS}"]
        cells = bins
    else:
        domain = column.public_domain
        if domain is None:
            return ["a histogram without bins needs a column with a public domain"]
        cells = len(domain)
    if cells * groups > MAX_HISTOGRAM_CELLS:
        return [f"the histogram would have more than {MAX_HISTOGRAM_CELLS} cells"]
    return []
