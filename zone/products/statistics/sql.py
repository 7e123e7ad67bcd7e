"""SQL shared by a query's statements: released keys, per-row values, key selection counts.

The released keys are a bound-parameter table (``unnest`` of VARCHAR lists), so DuckDB returns
exactly the declared (or DP-selected) keys: a key absent from the data gets 0, and no key from
the data that was not declared can appear. Table names come from
:func:`zone.catalog.table_name` and are checked again here; every constant is a parameter.
Counts, sums, means and histograms run in one statement (``scan``), quantiles in their own
(``ranks``); the per-row value fetch here serves only grids that ``ranks`` cannot.

Nothing here is a release: these functions return exact values that must go through a
mechanism (see ``execute``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import duckdb
import numpy as np
import numpy.typing as npt

from zone.errors import InvalidArgument
from zone.products.statistics.measure_plans import MeasurePlan
from zone.products.statistics.plan import QueryPlan

_TABLE = re.compile(r'^"ds_[a-z][a-z0-9_]{0,62}"$')
Keys = Sequence[tuple[str, ...]]


def check_table(table: str) -> str:
    """``table`` if it is a quoted dataset table name (``"ds_<name>"``)."""
    if _TABLE.fullmatch(table) is None:
        raise InvalidArgument("invalid dataset table")
    return table


def keys_cte(columns: int) -> str:
    """The ``_zone_keys`` table: ``_k0.._k{columns-1}`` (labels) and ``_idx``, from parameters."""
    labels = ", ".join(f"unnest(?::VARCHAR[]) AS _k{i}" for i in range(columns))
    return f"_zone_keys AS (SELECT {labels}, unnest(?::BIGINT[]) AS _idx)"


def keys_params(plan: QueryPlan, keys: Keys) -> list[object]:
    """The parameters of :func:`keys_cte` for ``keys`` (none without grouping)."""
    if not plan.group_by:
        return []
    params: list[object] = [[key[i] for key in keys] for i in range(len(plan.group_by))]
    params.append(list(range(len(keys))))
    return params


def key_index(keys: Keys) -> dict[tuple[object, ...], int]:
    """Each released key's position, to look up a result row's labels (``row[:groups]``).

    A statement labels its groups ``CAST(<group value> AS VARCHAR)`` after aggregation; a row
    whose labels are not a released key (or hold a NULL) finds nothing and is dropped, as a
    join with the released keys would drop it. Without grouping the one key ``()`` matches the
    one row (an empty prefix).
    """
    return {tuple(key): i for i, key in enumerate(keys)}


def _values_statement(plan: QueryPlan, measure: MeasurePlan, keys: Keys, table: str) -> str:
    """Key index and clamped non-null value of every row of the population (quantiles).

    The rows are joined to the released keys with ``plan.key_sql`` (a row whose key is NULL
    or not released joins nothing).
    """
    where = f"{plan.where_sql} AND {measure.extra_where}"
    source = f"{check_table(table)} AS t"
    if not plan.group_by:
        return f"SELECT 0 AS _idx, {measure.value_sql} AS _v0 FROM {source} WHERE {where}"
    on = " AND ".join(f"{expr} = _zone_keys._k{i}" for i, expr in enumerate(plan.key_sql))
    return (
        f"WITH {keys_cte(len(plan.group_by))} SELECT _zone_keys._idx AS _idx, "
        f"{measure.value_sql} AS _v0 FROM {source} JOIN _zone_keys ON {on} WHERE {where}"
    )


def grouped_values(
    plan: QueryPlan,
    measure: MeasurePlan,
    keys: Keys,
    cursor: duckdb.DuckDBPyConnection,
    table: str,
) -> list[npt.NDArray[np.float64]]:
    """The clamped non-null values of the measured column, one array per key (not a release)."""
    sql = _values_statement(plan, measure, keys, table)
    params = [*keys_params(plan, keys), *measure.params, *plan.where_params]
    fetched = cursor.execute(sql, params).fetchnumpy()
    index = np.asarray(fetched["_idx"], dtype=np.int64)
    values = np.asarray(fetched["_v0"], dtype=np.float64)
    if len(keys) == 1:
        return [values]
    order = np.argsort(index, kind="stable")
    counts = np.bincount(index, minlength=len(keys))
    return list(np.split(values[order], np.cumsum(counts)[:-1]))


def key_counts(
    plan: QueryPlan, cursor: duckdb.DuckDBPyConnection, table: str
) -> dict[tuple[str, ...], int]:
    """Exact entity counts per key present in the data, restricted to the public domains.

    Keys with a NULL part, or a part outside its column's public domain, are dropped (a
    per-row restriction that depends on public facts only). Not a release.
    """
    if plan.key_selection is None:
        raise ValueError("the plan has no key selection")
    sql = plan.key_selection.select_sql.replace("{table}", check_table(table))
    counts: dict[tuple[str, ...], int] = {}
    allowed = [frozenset(domain) if domain is not None else None for domain in plan.domains]
    for row in cursor.execute(sql, list(plan.where_params)).fetchall():
        key = row[:-1]
        if all(_allowed(part, domain) for part, domain in zip(key, allowed, strict=True)):
            label = tuple(str(part) for part in key)
            counts[label] = counts.get(label, 0) + int(row[-1])
    return counts


def _allowed(part: object, domain: frozenset[str] | None) -> bool:
    return part is not None and (domain is None or str(part) in domain)
