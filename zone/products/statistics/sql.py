"""SQL of a planned query: exact aggregates per released key, computed by DuckDB.

The released keys are joined in as a bound-parameter table (``unnest`` of VARCHAR lists), so
DuckDB aggregates exactly the declared (or DP-selected) keys: a key absent from the data gets
0, and no key from the data that was not declared can appear. Table names come from
:func:`zone.catalog.table_name` and are checked again here; every constant is a parameter.

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


def _keys_part(plan: QueryPlan, keys: Keys) -> tuple[str, str, str, list[object]]:
    """(CTE, key index expression, JOIN clause, parameters) for the released keys."""
    if not plan.group_by:
        return "", "0", "", []
    n = len(plan.group_by)
    columns = ", ".join(f"unnest(?::VARCHAR[]) AS _k{i}" for i in range(n))
    cte = f"WITH _zone_keys AS (SELECT {columns}, unnest(?::BIGINT[]) AS _idx) "
    on = " AND ".join(f"{expr} = _zone_keys._k{i}" for i, expr in enumerate(plan.key_sql))
    params: list[object] = [[key[i] for key in keys] for i in range(n)]
    params.append(list(range(len(keys))))
    return cte, "_zone_keys._idx", f" JOIN _zone_keys ON {on}", params


def statement(
    plan: QueryPlan, measure: MeasurePlan, keys: Keys, table: str
) -> tuple[str, list[object]]:
    """The exact-aggregate SQL of ``measure`` over ``keys`` and its parameters.

    Result columns: key index, then the bin (histograms), then ``measure.value_sql``; grouped
    by key (and bin) unless the measure fetches values (quantiles).
    """
    cte, index, join, params = _keys_part(plan, keys)
    items = [f"{index} AS _idx"]
    if measure.bin_sql:
        items.append(f"{measure.bin_sql} AS _bin")
    items += [f"{value} AS _v{i}" for i, value in enumerate(measure.value_sql)]
    where = plan.where_sql + (f" AND {measure.extra_where}" if measure.extra_where else "")
    grouped = "" if measure.kind == "quantile" else " GROUP BY ALL"
    sql = f"{cte}SELECT {', '.join(items)} FROM {check_table(table)} AS t{join} WHERE {where}"
    return sql + grouped, [*params, *measure.params, *plan.where_params]


def exact_aggregate(
    plan: QueryPlan,
    measure: MeasurePlan,
    keys: Keys,
    cursor: duckdb.DuckDBPyConnection,
    table: str,
) -> list[list[int]]:
    """Exact integer aggregates, one list per ``value_sql`` item, of ``len(keys) * bins`` cells.

    Cell ``k * bins + b`` holds key ``k``, bin ``b``; cells absent from the data are 0. For
    sums these are exact sums of clamped values in integer units (DuckDB sums BIGINT into
    HUGEINT exactly). Not a release: the result must go through a mechanism.
    """
    sql, params = statement(plan, measure, keys, table)
    size = len(keys) * measure.bins
    out = [[0] * size for _ in measure.value_sql]
    labels = {label: i for i, label in enumerate(measure.bin_labels)}
    first_value = 2 if measure.bin_sql else 1
    for row in cursor.execute(sql, params).fetchall():
        bin_index = _bin_index(measure, row[1], labels) if measure.bin_sql else 0
        if bin_index is None:
            continue
        cell = int(row[0]) * measure.bins + bin_index
        for j, value in enumerate(row[first_value:]):
            out[j][cell] = int(value or 0)
    return out


def _bin_index(measure: MeasurePlan, value: object, labels: dict[str, int]) -> int | None:
    if value is None:
        return None
    if measure.categorical:
        return labels.get(str(value))
    return int(str(value))


def grouped_values(
    plan: QueryPlan,
    measure: MeasurePlan,
    keys: Keys,
    cursor: duckdb.DuckDBPyConnection,
    table: str,
) -> list[npt.NDArray[np.float64]]:
    """The clamped non-null values of the measured column, one array per key (not a release)."""
    sql, params = statement(plan, measure, keys, table)
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
            counts[tuple(str(part) for part in key)] = int(row[-1])
    return counts


def _allowed(part: object, domain: frozenset[str] | None) -> bool:
    return part is not None and (domain is None or str(part) in domain)
