"""Statistics queries refuse filters and group keys beyond a column's level, while planning.

Planning touches no data and runs before any reservation (``StatisticsService.run``), so a
refusal here charges nothing (the integration test checks the budget too). The products are
built directly, bypassing the loader's own level checks, to show that queries enforce the table
on their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from zone.catalog import DatasetMeta, StatisticsProduct
from zone.catalog.levels import Use, allows
from zone.errors import InvalidArgument
from zone.products.statistics import Filter, Measure, StatsQuery, plan_query

LEVELS = ("L1", "L2", "L3", "L4")
COLUMNS: dict[str, dict[str, object]] = {"id": {"type": "string", "level": "L3"}}
for _level in LEVELS:
    COLUMNS[f"num_{_level}"] = {"type": "integer", "level": _level, "bounds": [0, 100]}
    COLUMNS[f"cat_{_level}"] = {"type": "string", "level": _level, "domain": ["a", "b"]}
    COLUMNS[f"free_{_level}"] = {"type": "string", "level": _level}
META = DatasetMeta.model_validate(
    {"description": "d", "provider": "p", "entity_key": "id", "columns": COLUMNS}
)
OFFERED = tuple(name for name in COLUMNS if name != "id")
PRODUCT = StatisticsProduct.model_validate({
    "id": "p", "kind": "statistics", "dataset": "ds", "description": "d", "columns": OFFERED,
    "group_by": tuple(n for n in OFFERED if not n.startswith("num")),
    "measures": ("count", "sum", "mean", "histogram", "quantile"),
    "max_epsilon_per_query": 10.0, "key_selection": True,
})  # fmt: skip


def _problems(**fields: Any) -> list[str]:
    spec: dict[str, Any] = {"product": "p", "measures": (Measure("count"),), "epsilon": 1.0}
    query = StatsQuery(**{**spec, **fields})
    try:
        plan_query(query, PRODUCT, META)
    except InvalidArgument as exc:
        return [str(p.message) for p in getattr(exc, "problems", ())] or [str(exc)]
    return []


@pytest.mark.parametrize("level", LEVELS)
def test_filters_follow_the_table(level: str) -> None:
    problems = _problems(filters=(Filter(f"num_{level}", "range", (1, None)),))
    assert (problems == []) == allows(level, Use.FILTER)  # type: ignore[arg-type]
    assert all(f"classified {level}" in p for p in problems)


@pytest.mark.parametrize("level", LEVELS)
def test_group_keys_from_the_domain_follow_the_table(level: str) -> None:
    problems = _problems(group_by=(f"cat_{level}",))
    assert (problems == []) == allows(level, Use.GROUP_BY)  # type: ignore[arg-type]
    assert all(f"classified {level}" in p for p in problems)


@pytest.mark.parametrize("level", LEVELS)
def test_selected_group_keys_follow_the_table(level: str) -> None:
    problems = _problems(group_by=(f"free_{level}",), delta=1e-6)
    assert (problems == []) == allows(level, Use.KEY_SELECTION)  # type: ignore[arg-type]
    assert all(f"classified {level}" in p for p in problems)


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_but_l4_can_be_measured(level: str) -> None:
    column = f"num_{level}"
    measures = (Measure("sum", column), Measure("quantile", column, quantiles=(0.5,)))
    problems = _problems(measures=measures, group_by=("cat_L1",))
    assert (problems == []) == (level != "L4")


def test_an_l3_column_is_measured_within_groups_but_never_defines_them() -> None:
    assert _problems(measures=(Measure("mean", "num_L3"),), group_by=("cat_L2",)) == []
    assert _problems(measures=(Measure("histogram", "cat_L3"),), group_by=("cat_L1",)) == []
    refused = _problems(
        measures=(Measure("mean", "num_L2"),),
        group_by=("cat_L3",),
        filters=(Filter("num_L3", "eq", (5,)),),
    )
    assert len(refused) == 2 and all("classified L3 (sensitive)" in p for p in refused)
