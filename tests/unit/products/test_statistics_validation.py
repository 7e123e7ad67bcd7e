"""Every invalid statistics query is refused by planning, before any data is touched."""

from __future__ import annotations

import math
from typing import Any

import pytest
from statskit import Dataset, toy_product

from zone.catalog import DatasetMeta
from zone.errors import InvalidArgument, ValidationFailed
from zone.products.statistics import Filter, Measure, StatsQuery, plan_query
from zone.products.statistics.query import FilterValue

COUNT = (Measure("count"),)


def query(**fields: Any) -> StatsQuery:
    spec: dict[str, Any] = {"product": "enterprise-stats", "measures": COUNT, "epsilon": 1.0}
    spec.update(fields)
    return StatsQuery(**spec)


def refused(q: StatsQuery, data: Dataset, product: Any = None) -> list[str]:
    """Plan only (no cursor exists here): the problems planning reports."""
    with pytest.raises(ValidationFailed) as caught:
        plan_query(q, product or data.product, data.meta)
    assert isinstance(caught.value, InvalidArgument)
    assert all(p.source == "query" for p in caught.value.problems)
    return [p.message for p in caught.value.problems]


def one_problem(q: StatsQuery, data: Dataset, expected: str, product: Any = None) -> None:
    messages = refused(q, data, product)
    assert len(messages) == 1, messages
    assert expected in messages[0], messages


def test_a_valid_query_plans(enterprises: Dataset) -> None:
    plan = plan_query(query(group_by=("district",)), enterprises.product, enterprises.meta)
    assert plan.epsilon == 1.0 and plan.delta == 0.0
    assert plan.max_epsilon_per_query == enterprises.product.max_epsilon_per_query


@pytest.mark.parametrize(
    ("measure", "expected"),
    [
        (Measure("sum", "legal_rep_id"), "classified L4"),
        (Measure("sum", "default_flag"), "not offered by product"),
        (Measure("sum", "no_such_column"), "not offered by product"),
        (Measure("sum", 'x" OR 1=1 --'), "not a valid column name"),
        (Measure("sum", ""), "not a valid column name"),
        (Measure("sum", "district"), "numeric column with public bounds"),
        (Measure("median", "employees"), "kind must be one of"),  # type: ignore[arg-type]
        (Measure("count", "employees"), "count takes no column"),
        (Measure("count", bins=3), "bins applies only to histograms"),
        (Measure("mean", "employees", quantiles=(0.5,)), "quantiles applies only to quantile"),
        (Measure("histogram", "employees", bins=101), "at most 100"),
        (Measure("histogram", "employees", bins=-1), "must not be negative"),
        (Measure("histogram", "employees"), "needs a column with a public domain"),
        (Measure("histogram", "district", bins=4), "numeric column with public bounds"),
        (Measure("quantile", "employees"), "1 to 9 quantiles"),
        (Measure("quantile", "employees", quantiles=(0.1,) * 10), "1 to 9 quantiles"),
        (Measure("quantile", "employees", quantiles=(0.0,)), "strictly between 0 and 1"),
        (Measure("quantile", "employees", quantiles=(1.0,)), "strictly between 0 and 1"),
        (Measure("quantile", "employees", quantiles=(math.nan,)), "strictly between 0 and 1"),
    ],
)
def test_bad_measures_are_refused(enterprises: Dataset, measure: Measure, expected: str) -> None:
    one_problem(query(measures=(measure,)), enterprises, expected)


def test_measure_kind_not_offered_by_the_product(toy: Dataset) -> None:
    product = toy_product(measures=["count", "sum"])
    q = query(product="toy-stats", measures=(Measure("quantile", "x", quantiles=(0.5,)),))
    one_problem(q, toy, "does not offer quantile", product)


def test_measure_counts_are_bounded(enterprises: Dataset) -> None:
    one_problem(query(measures=()), enterprises, "at least one measure")
    one_problem(query(measures=COUNT * 11), enterprises, "at most 10 measures")


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        (("founded_year",), "does not allow grouping"),
        (("legal_rep_id",), "classified L4"),
        (("district", "district"), "must be unique"),
        (('district"; DROP TABLE x; --',), "not a valid column name"),
    ],
)
def test_bad_group_by_is_refused(
    enterprises: Dataset, group_by: tuple[str, ...], expected: str
) -> None:
    one_problem(query(group_by=group_by), enterprises, expected)


def test_group_by_without_domain_needs_key_selection(toy: Dataset) -> None:
    q = query(product="toy-stats", group_by=("city",))
    one_problem(q, toy, "no public domain", toy_product(key_selection=False))


def test_too_many_groups_are_refused(toy: Dataset) -> None:
    columns = dict(toy.meta.model_dump()["columns"])
    columns["region"] = {**columns["region"], "domain": [f"r{i}" for i in range(5001)]}
    meta = DatasetMeta.model_validate({**toy.meta.model_dump(), "columns": columns})
    big = Dataset(meta, toy.product, toy.con, toy.table, toy.frame)
    q = query(product="toy-stats", group_by=("region", "flag"))
    one_problem(q, big, "more than 10000 groups")
    plan_query(query(product="toy-stats", group_by=("region",)), toy.product, meta)


def test_histogram_cells_are_bounded(toy: Dataset) -> None:
    columns = dict(toy.meta.model_dump()["columns"])
    columns["region"] = {**columns["region"], "domain": [f"r{i}" for i in range(2000)]}
    meta = DatasetMeta.model_validate({**toy.meta.model_dump(), "columns": columns})
    big = Dataset(meta, toy.product, toy.con, toy.table, toy.frame)
    histogram = (Measure("histogram", "n", bins=100),)
    one_problem(query(product="toy-stats", group_by=("region",), measures=histogram), big, "cells")


@pytest.mark.parametrize(
    ("epsilon", "delta", "expected"),
    [
        (0.0, 0.0, "epsilon must be"),
        (-1.0, 0.0, "epsilon must be"),
        (math.inf, 0.0, "epsilon must be"),
        (math.nan, 0.0, "epsilon must be"),
        (1e-9, 0.0, "epsilon must be"),
        (True, 0.0, "epsilon must be"),
        (1.0, -0.1, "delta must be"),
        (1.0, 1.0, "delta must be"),
        (1.0, math.nan, "delta must be"),
        (1.0, 1e-6, "delta must be 0"),
    ],
)
def test_bad_budgets_are_refused(
    enterprises: Dataset, epsilon: float, delta: float, expected: str
) -> None:
    one_problem(query(epsilon=epsilon, delta=delta), enterprises, expected)


def test_key_selection_needs_delta(toy: Dataset) -> None:
    q = query(product="toy-stats", group_by=("city",))
    one_problem(q, toy, "needs delta > 0")
    assert plan_query(StatsQuery(**{**q.__dict__, "delta": 1e-6}), toy.product, toy.meta)


def test_epsilon_above_the_product_cap_is_left_to_the_caller(enterprises: Dataset) -> None:
    plan = plan_query(query(epsilon=50.0), enterprises.product, enterprises.meta)
    assert plan.epsilon == 50.0 > plan.max_epsilon_per_query


def test_wrong_product_is_refused(enterprises: Dataset) -> None:
    one_problem(query(product="other"), enterprises, "names product 'other'")


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (Filter("legal_rep_id", "eq", ("x",)), "classified L4"),
        (Filter("uscc", "eq", ("x",)), "not offered by product"),
        (Filter("district' OR '1'='1", "eq", ("x",)), "not a valid column name"),
        (Filter("district", "like", ("x",)), "op must be one of"),  # type: ignore[arg-type]
        (Filter("district", "eq", ()), "exactly one value"),
        (Filter("district", "eq", ("a", "b")), "exactly one value"),
        (Filter("district", "in", ()), "1 to 1000 values"),
        (Filter("district", "in", ("a",) * 1001), "1 to 1000 values"),
        (Filter("district", "eq", (1,)), "must be a string"),
        (Filter("district", "eq", (None,)), "must be a string"),
        (Filter("district", "eq", ("x" * 1001,)), "must be a string"),
        (Filter("district", "range", ("a", "b")), "range applies only"),
        (Filter("founded_year", "eq", (2000.5,)), "must be an integer"),
        (Filter("founded_year", "eq", (True,)), "must be an integer"),
        (Filter("founded_year", "eq", ("2000",)), "must be an integer"),
        (Filter("founded_year", "eq", (2**63,)), "must be an integer"),
        (Filter("founded_year", "range", (2000,)), "exactly two values"),
        (Filter("founded_year", "range", (None, None)), "at least one bound"),
        (Filter("founded_year", "range", (2010, 2000)), "low must not exceed high"),
        (Filter("registered_capital", "eq", (math.nan,)), "finite number"),
        (Filter("registered_capital", "range", (-math.inf, 5.0)), "finite number"),
        (Filter("registered_capital", "in", (1.0, math.inf)), "finite number"),
    ],
)
def test_bad_filters_are_refused(enterprises: Dataset, flt: Filter, expected: str) -> None:
    one_problem(query(filters=(flt,)), enterprises, expected)


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [
        ("flag", (1,), "true or false"),
        ("day", ("2024-02-30",), "YYYY-MM-DD"),
        ("day", ("20240101",), "YYYY-MM-DD"),
        ("day", (20240101,), "YYYY-MM-DD"),
        ("x", (True,), "finite number"),
    ],
)
def test_filter_values_must_match_other_column_types(
    toy: Dataset, column: str, values: tuple[FilterValue, ...], expected: str
) -> None:
    q = query(product="toy-stats", filters=(Filter(column, "eq", values),))
    one_problem(q, toy, expected)


def test_date_ranges_are_checked(toy: Dataset) -> None:
    q = query(product="toy-stats", filters=(Filter("day", "range", ("2024-01-02", "2024-01-01")),))
    one_problem(q, toy, "low must not exceed high")


def test_every_problem_is_reported_at_once(enterprises: Dataset) -> None:
    q = query(
        measures=(Measure("sum", "legal_rep_id"), Measure("histogram", "employees", bins=500)),
        group_by=("founded_year",),
        filters=(Filter("district", "eq", (3,)), Filter("nope", "eq", ("x",))),
        epsilon=-1.0,
        delta=2.0,
    )
    messages = refused(q, enterprises)
    assert len(messages) == 7, messages
    text = "\n".join(messages)
    for fragment in ("measures[0]", "measures[1]", "group_by[0]", "filters[0]", "filters[1]"):
        assert fragment in text
    assert "epsilon" in text and "delta" in text


@pytest.mark.parametrize(
    ("column", "op", "values", "bad"),
    [
        ("region", "eq", ("west",), [0]),
        ("region", "in", ("north", "Atlantis", "south", "x' OR '1'='1"), [1, 3]),
        ("day", "eq", ("2024-01-03",), [0]),
    ],
)
def test_filter_values_outside_the_declared_domain_are_refused(
    toy: Dataset, column: str, op: str, values: tuple[FilterValue, ...], bad: list[int]
) -> None:
    q = query(product="toy-stats", filters=(Filter(column, op, values),))  # type: ignore[arg-type]
    assert refused(q, toy) == [
        f"filters[0].values[{i}]: not in the declared domain of {column!r}" for i in bad
    ]


def test_filter_values_inside_the_domain_and_on_columns_without_one_plan(toy: Dataset) -> None:
    filters = (
        Filter("region", "in", ("north", "east")),
        Filter("day", "eq", ("2024-01-02",)),
        Filter("city", "eq", ("not a listed city: no domain",)),
    )
    plan_query(query(product="toy-stats", filters=filters), toy.product, toy.meta)
