"""Execution on real DuckDB tables: exact keys, filters, sums, means, histograms, quantiles."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from statskit import Dataset

from zone.errors import InvalidArgument
from zone.products.statistics import (
    GUARANTEE,
    Filter,
    Measure,
    StatsQuery,
    StatsRelease,
    execute,
    plan_query,
)
from zone.products.statistics.scan import exact_aggregates

HIGH = 1000.0  # epsilon so large that discrete Laplace noise is 0 with overwhelming probability


def run(data: Dataset, **fields: Any) -> StatsRelease:
    spec: dict[str, Any] = {"product": data.product.id, "measures": (Measure("count"),)}
    spec.update({"epsilon": HIGH, **fields})
    plan = plan_query(StatsQuery(**spec), data.product, data.meta)
    return execute(plan, data.con.cursor(), data.table)


def test_released_keys_are_exactly_the_declared_ones_in_order(enterprises: Dataset) -> None:
    release = run(enterprises, group_by=("district", "industry"))
    districts = enterprises.meta.columns["district"].domain or ()
    industries = enterprises.meta.columns["industry"].domain or ()
    expected = [(d, i) for d in districts for i in industries]
    cells = release.measures[0].cells
    assert [cell.key for cell in cells] == expected
    exact = enterprises.frame.groupby(["district", "industry"]).size().to_dict()
    assert any(key not in exact for key in expected), "the data should miss some groups"
    for cell in cells:
        assert abs(cell.values[0] - exact.get(cell.key, 0)) <= 1


def test_keys_outside_the_domain_and_null_keys_are_never_released(toy: Dataset) -> None:
    release = run(toy, group_by=("region", "flag"))
    keys = [cell.key for cell in release.measures[0].cells]
    assert keys == [(r, f) for r in ("north", "south", "east") for f in ("false", "true")]
    by_key = {cell.key: cell.values[0] for cell in release.measures[0].cells}
    assert by_key[("east", "true")] == pytest.approx(0, abs=1)
    frame = toy.frame
    north_true = int(((frame.region == "north") & frame.flag).sum())
    assert by_key[("north", "true")] == pytest.approx(north_true, abs=1)


def test_date_group_keys_use_iso_labels(toy: Dataset) -> None:
    cells = run(toy, group_by=("day",)).measures[0].cells
    assert [c.key for c in cells] == [("2024-01-01",), ("2024-01-02",)]
    assert [c.values[0] for c in cells] == pytest.approx([301, 300], abs=1)


def test_ungrouped_count_has_one_cell_with_the_empty_key(toy: Dataset) -> None:
    cells = run(toy).measures[0].cells
    assert len(cells) == 1 and cells[0].key == ()
    assert cells[0].values[0] == pytest.approx(len(toy.frame), abs=1)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (Filter("district", "eq", ("Gaoxin",)), lambda f: f.district == "Gaoxin"),
        (Filter("founded_year", "range", (2000, 2010)), lambda f: f.founded_year.between(2000, 2010)),  # noqa: E501
        (Filter("founded_year", "range", (None, 1999)), lambda f: f.founded_year <= 1999),
        (Filter("founded_year", "range", (2015, None)), lambda f: f.founded_year >= 2015),
        (Filter("industry", "in", ("C", "F")), lambda f: f.industry.isin(["C", "F"])),
        (Filter("registered_capital", "range", (50.5, 1e4)), lambda f: f.registered_capital.between(50.5, 1e4)),  # noqa: E501
        (Filter("employees", "in", (0, 1, 2)), lambda f: f.employees.isin([0, 1, 2])),
    ],
)  # fmt: skip
def test_filters_restrict_the_population(enterprises: Dataset, flt: Filter, expected: Any) -> None:
    release = run(enterprises, filters=(flt,))
    exact = int(expected(enterprises.frame).sum())
    assert 0 < exact < len(enterprises.frame)
    assert release.measures[0].cells[0].values[0] == pytest.approx(exact, abs=1)


def test_filters_on_dates_and_booleans(toy: Dataset) -> None:
    filters = (Filter("day", "range", ("2024-01-02", None)), Filter("flag", "eq", (True,)))
    frame = toy.frame
    exact = int(((frame.day.astype(str) >= "2024-01-02") & frame.flag).sum())
    assert run(toy, filters=filters).measures[0].cells[0].values[0] == pytest.approx(exact, abs=1)


@pytest.mark.parametrize(
    "value",
    ["x' OR '1'='1", "Gaoxin' --", 'Gaoxin" OR 1=1', "东城区", "Gao\x00xin", "\u202egaoxin"],
)
def test_injection_in_filter_values_is_just_a_value(toy: Dataset, value: str) -> None:
    # A column without a declared domain: the value reaches SQL, as a bound parameter.
    release = run(toy, filters=(Filter("city", "in", (value, "A")),))
    assert release.measures[0].cells[0].values[0] == pytest.approx(600, abs=1)


def test_unicode_values_match_as_values(toy: Dataset) -> None:
    release = run(toy, filters=(Filter("city", "eq", ("A",)),))
    assert release.measures[0].cells[0].values[0] == pytest.approx(600, abs=1)


def test_a_bad_table_name_is_refused(enterprises: Dataset) -> None:
    query = StatsQuery(product="enterprise-stats", measures=(Measure("count"),), epsilon=1.0)
    plan = plan_query(query, enterprises.product, enterprises.meta)
    for table in ["ds_enterprises", '"ds_enterprises"; DROP TABLE x; --', '"_zone_datasets"']:
        with pytest.raises(InvalidArgument):
            execute(plan, enterprises.con.cursor(), table)


def _units(values: Any, low: float, high: float, g: float, lo: int, hi: int) -> int:
    total = 0
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        total += min(max(math.floor(min(max(float(value), low), high) / g + 0.5), lo), hi)
    return total


def test_exact_integer_sums_match_a_python_computation(toy: Dataset) -> None:
    query = StatsQuery(
        product="toy-stats",
        measures=(Measure("sum", "x"), Measure("mean", "n")),
        group_by=("region",),
        epsilon=1.0,
    )
    plan = plan_query(query, toy.product, toy.meta)
    x_plan, n_plan = plan.measures
    assert x_plan.components[0].granularity == 0.01 and x_plan.unit_bounds == (-1000, 1000)
    assert x_plan.components[0].sensitivity == 1000
    assert n_plan.components[0].granularity == 1.0 and n_plan.components[0].sensitivity == 100
    exact = exact_aggregates(plan, plan.group_keys, toy.con.cursor(), toy.table)
    x_sums, (n_sums, n_counts) = exact[0], exact[1]
    frame = toy.frame
    for i, (region,) in enumerate(plan.group_keys):
        rows = frame[frame.region == region]
        assert x_sums[0][i] == _units(rows.x.tolist(), -10, 10, 0.01, -1000, 1000)
        assert n_sums[i] == _units(rows.n.tolist(), 0, 100, 1.0, 0, 100)
        assert n_counts[i] == len(rows)
    assert x_sums[0][2] == 0 and n_counts[2] == 0  # "east" has no rows


def test_sums_and_means_at_high_epsilon(toy: Dataset) -> None:
    measures = (Measure("sum", "x"), Measure("mean", "x"), Measure("mean", "n"))
    release = run(toy, measures=measures, filters=(Filter("city", "eq", ("A",)),))
    rows = toy.frame[toy.frame.city == "A"]
    clamped = rows.x.dropna().astype(float).clip(-10, 10)
    total, mean_x, mean_n = (m.cells[0].values[0] for m in release.measures)
    sum_scale = release.measures[0].noise_scale["sum"]
    assert total == pytest.approx(clamped.sum(), abs=20 * sum_scale)  # P(fail) < e^-20
    assert mean_x == pytest.approx(clamped.mean(), abs=0.01)
    assert mean_n == pytest.approx(rows.n.clip(0, 100).mean(), abs=0.01)
    assert set(release.measures[1].noise_scale) == {"sum", "count"}
    assert release.measures[1].mechanism == "discrete_laplace"


def test_means_stay_within_the_public_bounds(toy: Dataset) -> None:
    release = run(toy, measures=(Measure("mean", "x"),), group_by=("region",), epsilon=0.01)
    for cell in release.measures[0].cells:
        assert -10 <= cell.values[0] <= 10


def _bins(values: Any) -> list[int]:
    index = np.minimum(np.floor((values.dropna().astype(float).clip(-10, 10) + 10) / 5), 3)
    return [int((index == b).sum()) for b in range(4)]


def test_numeric_histogram_bins_over_the_public_bounds(toy: Dataset) -> None:
    release = run(toy, measures=(Measure("histogram", "x", bins=4),), group_by=("region",))
    measure = release.measures[0]
    assert measure.bin_labels == ("[-10, -5)", "[-5, 0)", "[0, 5)", "[5, 10]")
    frame = toy.frame
    for cell in measure.cells:
        expected = _bins(frame[frame.region == cell.key[0]].x)
        assert list(cell.values) == pytest.approx(expected, abs=1)


def test_nulls_are_neither_summed_nor_binned(toy: Dataset) -> None:
    a_rows = toy.frame[toy.frame.city == "A"]
    assert a_rows.x.isna().sum() == 1
    measures = (Measure("histogram", "x", bins=4), Measure("sum", "x"), Measure("mean", "x"))
    release = run(toy, measures=measures, filters=(Filter("city", "eq", ("A",)),))
    histogram, total, mean = (m.cells[0].values for m in release.measures)
    assert list(histogram) == pytest.approx(_bins(a_rows.x), abs=1)
    clamped = a_rows.x.dropna().astype(float).clip(-10, 10)
    sum_scale = release.measures[1].noise_scale["sum"]
    assert total[0] == pytest.approx(clamped.sum(), abs=20 * sum_scale)
    assert mean[0] == pytest.approx(clamped.mean(), abs=0.01)


def test_categorical_histogram_per_domain_value(enterprises: Dataset) -> None:
    measure = run(enterprises, measures=(Measure("histogram", "industry"),)).measures[0]
    assert measure.bin_labels == enterprises.meta.columns["industry"].domain
    counts = enterprises.frame.industry.value_counts()
    expected = [int(counts.get(label, 0)) for label in measure.bin_labels]
    assert list(measure.cells[0].values) == pytest.approx(expected, abs=1)


def test_median_of_a_known_distribution(enterprises: Dataset) -> None:
    quantiles = (0.25, 0.5, 0.9)
    measure = Measure("quantile", "founded_year", quantiles=quantiles)
    release = run(enterprises, measures=(measure,), epsilon=10.0, group_by=("district",))
    frame = enterprises.frame
    for cell in release.measures[0].cells:
        years = frame[frame.district == cell.key[0]].founded_year
        if len(years) < 300:
            continue
        for q, value in zip(quantiles, cell.values, strict=True):
            assert value == pytest.approx(float(np.quantile(years, q)), abs=2)
            assert value.is_integer()


def test_quantile_on_a_float_column(toy: Dataset) -> None:
    release = run(toy, measures=(Measure("quantile", "x", quantiles=(0.5,)),), epsilon=50.0)
    median = float(toy.frame.x.dropna().astype(float).clip(-10, 10).median())
    assert release.measures[0].cells[0].values[0] == pytest.approx(median, abs=0.5)


def test_key_selection_releases_only_keys_with_enough_entities(toy: Dataset) -> None:
    query = StatsQuery(
        product="toy-stats",
        measures=(Measure("count"),),
        group_by=("city", "region"),
        epsilon=1.0,
        delta=1e-6,
    )
    plan = plan_query(query, toy.product, toy.meta)
    assert plan.group_keys == () and plan.key_selection is not None
    assert plan.key_selection.delta == 1e-6 and plan.key_selection.threshold > 10
    assert plan.composed_epsilon <= 1.0 and plan.measures[0].epsilon == 0.5
    release = execute(plan, toy.con.cursor(), toy.table)
    keys = [cell.key for cell in release.measures[0].cells]
    assert keys == [("A", "north"), ("A", "south"), ("B", "north"), ("B", "south")]
    assert release.key_selection is not None and release.key_selection.keys_released == 4
    assert release.delta == 1e-6


def test_release_digest_and_dict(toy: Dataset) -> None:
    release = run(toy, measures=(Measure("count"), Measure("histogram", "region")))
    data = release.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert release.payload_digest().startswith("sha256:") and len(release.payload_digest()) == 71
    assert release.payload_digest() == release.payload_digest()
    assert release.guarantee == GUARANTEE and "adding or removing one entity" in GUARANTEE
    other = run(toy, measures=(Measure("count"), Measure("histogram", "region")), epsilon=0.01)
    assert other.payload_digest() != release.payload_digest()
