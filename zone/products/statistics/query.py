"""Statistics queries: what a caller asks for, before validation.

These are plain frozen dataclasses, built by the server from a request (or by tests). Nothing
is checked here: :func:`zone.products.statistics.plan.plan_query` validates a query against the
product and the dataset metadata and reports every problem at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MeasureKind = Literal["count", "sum", "mean", "histogram", "quantile"]
FilterOp = Literal["eq", "range", "in"]
FilterValue = str | int | float | bool | None

MEASURE_KINDS: tuple[MeasureKind, ...] = ("count", "sum", "mean", "histogram", "quantile")
FILTER_OPS: tuple[FilterOp, ...] = ("eq", "range", "in")

MAX_MEASURES = 10
MAX_GROUPS = 10_000
MAX_BINS = 100
MAX_HISTOGRAM_CELLS = 100_000
MAX_QUANTILES = 9
MAX_IN_VALUES = 1_000
MAX_FILTERS = 20
MAX_STRING_VALUE = 1_000
QUANTILE_CANDIDATES = 512


@dataclass(frozen=True)
class Measure:
    """One aggregate to release.

    Attributes:
        kind: ``count`` (entities; no column), ``sum``/``mean``/``quantile`` (a numeric column
            with public bounds) or ``histogram`` (numeric with bounds and ``bins`` > 0, or a
            column with a public domain and ``bins`` = 0).
        column: the measured column ("" for count).
        bins: number of equal-width bins over the public bounds (numeric histograms, 1..100).
        quantiles: the requested quantiles, each in (0, 1), 1..9 of them (quantile only).
    """

    kind: MeasureKind
    column: str = ""
    bins: int = 0
    quantiles: tuple[float, ...] = ()


@dataclass(frozen=True)
class Filter:
    """A restriction of the population, applied before aggregation.

    Attributes:
        column: the filtered column (must be offered by the product).
        op: ``eq`` (one value), ``range`` (low, high; inclusive; either may be None for an open
            end) or ``in`` (1..1000 values).
        values: typed like the column: int (integer), float or int (float), str (string),
            bool (boolean), ISO ``YYYY-MM-DD`` str (date). NaN and infinities are refused.
    """

    column: str
    op: FilterOp
    values: tuple[FilterValue, ...]


@dataclass(frozen=True, kw_only=True)
class StatsQuery:
    """A request for DP statistics from one statistics product.

    Attributes:
        product: the product id.
        measures: 1..10 measures; the query's epsilon is split evenly across them.
        group_by: grouping columns (public domains, or DP key selection where the product
            allows it); every measure is released per group.
        filters: restrictions combined with AND.
        epsilon: the privacy loss the caller is charged (finite, > 0).
        delta: 0 unless the query needs DP key selection, which requires 0 < delta < 1.
    """

    product: str
    measures: tuple[Measure, ...]
    group_by: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    epsilon: float
    delta: float = 0.0
