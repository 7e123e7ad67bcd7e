"""Rank counts of a quantile measure in one DuckDB GROUP BY: no values leave DuckDB.

OpenDP's quantile score reads a group's values only through ``#(x < c)`` and ``#(x <= c)``
for each candidate ``c`` (see ``mechanisms.quantile_scores``). DuckDB computes, for each row,
``lt = #(c < x)`` and ``le = #(c <= x)`` (the candidates below, and at or below, its value) and
counts rows per (group, lt, le); then ``#(x < c_j)`` is the number of rows with ``le <= j`` and
``#(x <= c_j)`` the number with ``lt <= j``. So the statement returns at most ``groups * (2 *
candidates + 1)`` rows whatever the row count (the former path fetched every value into Python:
about 800 MB at 50M rows).

Per row, with candidates ``c_0 < ... < c_{m-1}`` (public, from the plan), a guess ``g`` of the
cell is computed arithmetically, ``clamp(floor((x - c_0) / step), 0, m - 1)`` with ``step =
(c_{m-1} - c_0) / (m - 1)``, and the row is joined (on ``g``) to the cell table holding
``c_{g-1}, c_g, c_{g+1}, c_{g+2}`` (``-inf`` / ``+inf`` past the ends). When ``c_{g-1} < x <
c_{g+2}`` (``ok``), every candidate up to ``c_{g-1}`` is below ``x`` and every one from
``c_{g+2}`` above it, so ``lt = g + [c_g < x] + [c_{g+1} < x]`` and ``le = g + [c_g <= x] +
[c_{g+1} <= x]`` exactly: the guess only picks which candidates to compare with, and every
comparison is an IEEE DOUBLE comparison in DuckDB, as OpenDP's on f64. The candidates are
evenly spaced (integers, or ``numpy.linspace``), so the guess is off by at most one cell; if
any row is not ``ok`` (a guess off by more), the caller falls back to fetching the values.

The row population and value are the former per-row fetch's: the measure's ``value_sql``
(clamped, as DOUBLE) where ``where_sql`` and the measure's ``extra_where`` hold. Groups form on
the raw key values, labelled after aggregation and matched to the released keys in Python (as
in ``scan``). Nothing here is a release: the counts must go through ``mechanisms``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import duckdb
import numpy as np

from zone.products.statistics.measure_plans import MeasurePlan
from zone.products.statistics.mechanisms import RankCounts
from zone.products.statistics.plan import QueryPlan
from zone.products.statistics.sql import Keys, check_table, key_index

_CELLS = (
    "_zone_cells AS (SELECT unnest(?::BIGINT[]) AS _j, unnest(?::DOUBLE[]) AS _a, "
    "unnest(?::DOUBLE[]) AS _b, unnest(?::DOUBLE[]) AS _c, unnest(?::DOUBLE[]) AS _d)"
)
_PER_ROW = (
    "_j + CAST(_b < _x AS BIGINT) + CAST(_c < _x AS BIGINT) AS _lt, "
    "_j + CAST(_b <= _x AS BIGINT) + CAST(_c <= _x AS BIGINT) AS _le, "
    "_a < _x AND _x < _d AS _ok"
)
# CASE, not least/greatest: DuckDB's variadic least/greatest cost twice as much per row.
_GUESS = "CAST(CASE WHEN _t < 0 THEN 0 WHEN _t > ? THEN ? ELSE _t END AS BIGINT) AS _q"


def _cells(candidates: Sequence[float]) -> list[object]:
    """The cell table's parameters: ``j, c_{j-1}, c_j, c_{j+1}, c_{j+2}`` for every ``j``."""
    c = [float(v) for v in candidates]
    inf = math.inf
    return [list(range(len(c))), [-inf, *c[:-1]], c, [*c[1:], inf], [*c[2:], inf, inf]]


def _step(candidates: Sequence[float]) -> float | None:
    """The grid step of the guess (1 for one candidate), None where it is not finite."""
    if len(candidates) == 1:
        return 1.0
    step = (candidates[-1] - candidates[0]) / (len(candidates) - 1)
    return step if math.isfinite(step) and step > 0 else None


def statement(plan: QueryPlan, measure: MeasurePlan, table: str) -> tuple[str, list[object]] | None:
    """The SQL and parameters; None where the candidates give no finite grid step."""
    candidates = measure.candidates
    step = _step(candidates)
    if step is None:
        return None
    groups = [f"_g{i}" for i in range(len(plan.group_by))]
    projected = [f"{sql} AS {g}" for sql, g in zip(plan.group_sql, groups, strict=True)]
    rows = (
        f"SELECT {', '.join([*projected, f'{measure.value_sql} AS _x'])} "
        f"FROM {check_table(table)} AS t WHERE {plan.where_sql} AND {measure.extra_where}"
    )
    cell = f"SELECT *, floor((_x - ?) / ?) AS _t FROM ({rows}) AS _zone_rows"
    guessed = f"SELECT *, {_GUESS} FROM ({cell}) AS _zone_cell"
    by = ", ".join([*groups, "_lt", "_le", "_ok"])
    agg = (
        f"SELECT {by}, count(*) AS _n FROM (SELECT {', '.join([*groups, _PER_ROW])} "
        f"FROM ({guessed}) AS _zone_guess JOIN _zone_cells ON _q = _j) AS _zone_ranks "
        f"GROUP BY {by}"
    )
    params: list[object] = [
        *_cells(candidates),
        len(candidates) - 1,  # the guess (clamped), then the cell, before the rows' own
        len(candidates) - 1,
        float(candidates[0]),
        step,
        *measure.params,
        *plan.where_params,
    ]
    labels = [f"CAST({g} AS VARCHAR)" for g in groups]
    selected = ", ".join([*labels, "_lt", "_le", "_ok", "_n"])
    return f"WITH {_CELLS} SELECT {selected} FROM ({agg}) AS _zone_agg", params


def rank_counts(
    plan: QueryPlan,
    measure: MeasurePlan,
    keys: Keys,
    cursor: duckdb.DuckDBPyConnection,
    table: str,
) -> list[RankCounts] | None:
    """The :class:`RankCounts` of every released key (in order), or None (see module).

    Not a release: exact counts that must go through a mechanism.
    """
    built = statement(plan, measure, table)
    if built is None:
        return None
    sql, params = built
    m = len(measure.candidates)
    # Row counts by the number of candidates below (lt) and at or below (le) each value.
    by_lt = np.zeros((len(keys), m + 1), dtype=np.int64)
    by_le = np.zeros((len(keys), m + 1), dtype=np.int64)
    head = len(plan.group_by)
    released = key_index(keys)
    for row in cursor.execute(sql, params).fetchall():
        lt, le, ok, n = row[head:]
        if not ok:
            return None
        k = released.get(row[:head])
        if k is None:  # a NULL key or one not released
            continue
        by_lt[k, int(lt)] += int(n)
        by_le[k, int(le)] += int(n)
    below = np.cumsum(by_le, axis=1)[:, :m]  # #(x < c_j) = #(le <= j)
    at_or_below = np.cumsum(by_lt, axis=1)[:, :m]  # #(x <= c_j) = #(lt <= j)
    return [
        RankCounts(int(by_lt[k].sum()), tuple(map(int, below[k])), tuple(map(int, at_or_below[k])))
        for k in range(len(keys))
    ]
