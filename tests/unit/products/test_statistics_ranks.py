"""Quantiles from rank counts computed in DuckDB: the same scores, the same distribution.

The release path no longer fetches values: DuckDB counts rows per (group, #candidates below,
#candidates at or below) and the exponential mechanism runs on scores computed from those
counts. These tests hold each link: the counts equal those of the values the former path
fetched (on the pinned edge-case table, and on hypothesis-drawn data), the scores equal
OpenDP's own score transformation, the released distribution equals OpenDP's
``make_private_quantile`` on the values, and a grid the guess cannot serve falls back to the
fetched values with the same counts.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import Any

import duckdb
import hypothesis.strategies as st
import numpy as np
import opendp.prelude as dp
import pytest
from hypothesis import given, settings
from pinkit import QUERIES, frame, meta, product
from statskit import load_table

import zone.products.statistics.mechanisms as mechanisms
import zone.products.statistics.ranks as ranks
import zone.products.statistics.sql as sql
from zone.catalog import table_name
from zone.products.statistics import execute, plan_query
from zone.products.statistics.measure_plans import MeasurePlan
from zone.products.statistics.plan import QueryPlan

ALPHAS = (0.5, 0.1, 0.25, 0.9, 0.99, 1 / 3, 0.12345, 0.001)


@pytest.fixture(scope="module")
def pin(tmp_path_factory: pytest.TempPathFactory) -> Any:
    con = load_table(tmp_path_factory.mktemp("ranks") / "pin.duckdb", "pin", frame())
    yield con
    con.close()


def _quantile_plans() -> list[tuple[str, QueryPlan, MeasurePlan]]:
    out = []
    for name, query in QUERIES.items():
        plan = plan_query(query, product(), meta())
        out += [(name, plan, m) for m in plan.measures if m.kind == "quantile"]
    return out


def _from_values(
    plan: QueryPlan, measure: MeasurePlan, con: duckdb.DuckDBPyConnection
) -> list[mechanisms.RankCounts]:
    values = sql.grouped_values(plan, measure, plan.group_keys, con.cursor(), table_name("pin"))
    return [mechanisms.rank_counts(v, measure.candidates) for v in values]


@pytest.mark.parametrize(("name", "plan", "measure"), _quantile_plans())
def test_duckdb_rank_counts_equal_those_of_the_fetched_values(
    pin: duckdb.DuckDBPyConnection, name: str, plan: QueryPlan, measure: MeasurePlan
) -> None:
    counted = ranks.rank_counts(plan, measure, plan.group_keys, pin.cursor(), table_name("pin"))
    assert counted is not None, "the guess must serve the planned grids (no fallback)"
    assert counted == _from_values(plan, measure, pin)


def test_the_statement_returns_at_most_two_rows_per_candidate_and_group(
    pin: duckdb.DuckDBPyConnection,
) -> None:
    for _, plan, measure in _quantile_plans():
        built = ranks.statement(plan, measure, table_name("pin"))
        assert built is not None
        rows = pin.cursor().execute(*built).fetchall()
        assert len(rows) <= max(len(plan.group_keys), 1) * (2 * len(measure.candidates) + 1)


def test_a_grid_the_guess_cannot_serve_falls_back_to_the_same_counts(
    pin: duckdb.DuckDBPyConnection,
) -> None:
    _, plan, measure = next(p for p in _quantile_plans() if p[0] == "quantiles by region")
    uneven = dataclasses.replace(measure, candidates=(-1e6, -5.0, 0.0, 1.0, 2.0, 3.0, 1e6))
    assert ranks.rank_counts(plan, uneven, plan.group_keys, pin.cursor(), table_name("pin")) is None
    infinite = dataclasses.replace(measure, candidates=(-1.7e308, 0.0, 1.7e308))
    assert ranks.statement(plan, infinite, table_name("pin")) is None
    swapped = dataclasses.replace(plan, measures=(uneven,))
    release = execute(swapped, pin.cursor(), table_name("pin"))  # the fallback path runs
    assert all(v in uneven.candidates for c in release.measures[0].cells for v in c.values)


@st.composite
def _data(draw: st.DrawFn) -> tuple[list[float], list[float], float]:
    grid = draw(st.sampled_from(["integers", "linspace", "tiny"]))
    if grid == "integers":
        low = draw(st.integers(-20, 20))
        candidates = [float(v) for v in range(low, low + draw(st.integers(1, 30)))]
    elif grid == "linspace":
        low = draw(st.floats(-1e6, 1e6))
        width = draw(st.floats(1e-3, 1e7))
        candidates = sorted(
            {float(v) for v in np.linspace(low, low + width, draw(st.integers(2, 600)))}
        )
    else:
        candidates = [float(v) for v in np.linspace(0.1, 0.3, 7)]
    lo, hi = candidates[0], candidates[-1]
    pool = st.one_of(
        st.sampled_from(candidates),
        st.floats(lo - 1, hi + 1, allow_nan=False),
        st.sampled_from([math.nextafter(c, math.inf) for c in candidates]),
        st.sampled_from([math.nextafter(c, -math.inf) for c in candidates]),
    )
    values = draw(st.lists(pool, max_size=80))
    return values, candidates, draw(st.sampled_from(ALPHAS))


@settings(max_examples=150, deadline=None)
@given(_data())
def test_counts_and_scores_match_opendp_on_drawn_data(
    data: tuple[list[float], list[float], float],
) -> None:
    values, candidates, alpha = data
    con = duckdb.connect()
    con.execute('CREATE TABLE "ds_d" (v DOUBLE)')
    con.execute('INSERT INTO "ds_d" SELECT unnest(?::DOUBLE[])', [values])
    built = _statement(candidates)
    rows = con.execute(*built).fetchall()
    con.close()
    counted = _collect(rows, len(candidates))
    expected = mechanisms.rank_counts(np.asarray(values, dtype=np.float64), candidates)
    if counted is not None:  # None: a guess off by more than one cell (the caller falls back)
        assert counted == expected
    opendp_scores = mechanisms._scores(tuple(candidates), alpha)(values)
    assert mechanisms.quantile_scores(expected, alpha) == [int(s) for s in opendp_scores]


def _statement(candidates: list[float]) -> tuple[str, list[object]]:
    plan = dataclasses.replace(
        plan_query(QUERIES["quantiles"], product(), meta()),
        group_by=(),
        group_sql=(),
        key_sql=(),
        where_sql="TRUE",
        where_params=(),
    )
    measure = MeasurePlan(
        "quantile",
        "v",
        1.0,
        (),
        value_sql='CAST(t."v" AS DOUBLE)',
        extra_where='t."v" IS NOT NULL',
        candidates=tuple(candidates),
    )
    built = ranks.statement(plan, measure, '"ds_d"')
    assert built is not None
    return built


def _collect(rows: list[Any], m: int) -> mechanisms.RankCounts | None:
    by_lt, by_le = [0] * (m + 1), [0] * (m + 1)
    for lt, le, ok, n in rows:
        if not ok:
            return None
        by_lt[lt] += n
        by_le[le] += n
    below = list(np.cumsum(by_le)[:m])
    at_or_below = list(np.cumsum(by_lt)[:m])
    return mechanisms.RankCounts(sum(by_lt), tuple(map(int, below)), tuple(map(int, at_or_below)))


@pytest.mark.parametrize(("alpha", "scale"), [(0.5, 1.0), (0.1, 0.7), (0.9, 2.0)])
def test_released_distribution_equals_opendp_private_quantile(alpha: float, scale: float) -> None:
    """Chi-square two-sample test of 8,000 draws each (a false alarm about 1 in 10^6)."""
    candidates = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    values = [0.5, 1.0, 1.0, 2.0, 2.5, 3.0, 3.0, 3.0, 4.9]
    whole = dp.m.make_private_quantile(
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.symmetric_distance(),
        dp.max_divergence(),
        candidates=candidates,
        alpha=alpha,
        scale=scale,
    )
    epsilon = float(whole.map(1))
    counts = [mechanisms.rank_counts(np.asarray(values), candidates)]
    n = 8000
    ours = Counter(
        mechanisms.release_quantiles_from_counts(counts, candidates, alpha, scale, epsilon)[0]
        for _ in range(n)
    )
    theirs = Counter(float(whole(values)) for _ in range(n))
    statistic, dof = 0.0, -1
    for c in candidates:
        a, b = ours.get(c, 0), theirs.get(c, 0)
        if a + b >= 20:
            statistic += (a - b) ** 2 / (a + b)
            dof += 1
    assert statistic < 25.0 + 4.0 * dof, (sorted(ours.items()), sorted(theirs.items()))


def test_the_checked_map_is_opendps_private_quantile_map() -> None:
    candidates = tuple(float(v) for v in np.linspace(0, 1000, 512))
    for alpha in ALPHAS:
        loss, _ = mechanisms._selection(candidates, alpha, 3.5)
        whole = mechanisms._quantile(candidates, alpha, 3.5)
        assert loss == whole.map(1)


def test_a_map_above_the_share_releases_nothing() -> None:
    counts = [mechanisms.rank_counts(np.asarray([1.0, 2.0]), [0.0, 1.0, 2.0])]
    loss, _ = mechanisms._selection((0.0, 1.0, 2.0), 0.5, 1.0)
    with pytest.raises(mechanisms.PrivacyMapError):
        mechanisms.release_quantiles_from_counts(counts, [0.0, 1.0, 2.0], 0.5, 1.0, loss * 0.99)


def test_execute_reads_no_values_for_planned_grids(
    pin: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spy on the value fetch (it still runs if called): the release path never calls it."""
    fetched: list[str] = []
    original = sql.grouped_values

    def spy(*args: Any) -> Any:
        fetched.append(args[1].column)
        return original(*args)

    monkeypatch.setattr(sql, "grouped_values", spy)
    for name in ("quantiles", "quantiles by region", "everything", "empty population"):
        plan = plan_query(QUERIES[name], product(), meta())
        execute(plan, pin.cursor(), table_name("pin"))
    assert fetched == []


@pytest.mark.parametrize(
    ("column_type", "values"),
    [
        ("DOUBLE", [math.nan, math.inf, -math.inf, -0.0, 0.0, -7.5, 12.5, 3.25, 1e300, -1e300]),
        ("BIGINT", [-(2**63), 2**63 - 1, 2**53 + 1, -8, -7, 0, 12, 13, 5]),
    ],
)
def test_the_case_clamp_is_the_former_least_greatest_clamp(
    column_type: str, values: list[float]
) -> None:
    """The quantile value (CASE) equals ``CAST(least(greatest(v, low), high) AS DOUBLE)``."""
    plan = plan_query(QUERIES["quantiles"], product(), meta())
    measure = next(m for m in plan.measures if m.kind == "quantile")
    low, high = -7.5, 12.5
    con = duckdb.connect()
    con.execute(f'CREATE TABLE "ds_c" (v {column_type})')
    con.execute(f'INSERT INTO "ds_c" SELECT unnest(?::{column_type}[])', [values])
    case = measure.value_sql.replace(f't."{measure.column}"', "t.v")
    new = con.execute(f'SELECT {case} FROM "ds_c" AS t', [low, low, high, high]).fetchall()
    old = con.execute(
        'SELECT CAST(least(greatest(t.v, ?), ?) AS DOUBLE) FROM "ds_c" AS t', [low, high]
    ).fetchall()
    con.close()
    assert [r[0] for r in new] == [r[0] for r in old]
