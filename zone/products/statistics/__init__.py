"""DP statistics products: counts, sums, means, histograms and quantiles over DuckDB tables.

Usage (the caller charges the ledger for ``plan.epsilon``/``plan.delta`` in between)::

    plan = plan_query(query, product, meta)      # validates, touches no data
    release = execute(plan, catalog.cursor(), table_name(product.dataset))
    release = annotate(plan, release)            # 95% error bounds: post-processing, free
"""

from __future__ import annotations

from zone.products.statistics.accuracy import annotate
from zone.products.statistics.execute import GUARANTEE, execute
from zone.products.statistics.mechanisms import PrivacyMapError
from zone.products.statistics.plan import (
    ComponentPlan,
    KeySelectionPlan,
    MeasurePlan,
    QueryPlan,
    plan_query,
)
from zone.products.statistics.query import Filter, Measure, StatsQuery
from zone.products.statistics.release import (
    Cell,
    KeySelectionRelease,
    MeasureRelease,
    StatsRelease,
)

__all__ = [
    "GUARANTEE",
    "Cell",
    "ComponentPlan",
    "Filter",
    "KeySelectionPlan",
    "KeySelectionRelease",
    "Measure",
    "MeasurePlan",
    "MeasureRelease",
    "PrivacyMapError",
    "QueryPlan",
    "StatsQuery",
    "StatsRelease",
    "annotate",
    "execute",
    "plan_query",
]
