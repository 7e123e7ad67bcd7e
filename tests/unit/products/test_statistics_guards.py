"""Guards: OpenDP's privacy map is enforced at release time; no hand-written noise, no grpc."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from statskit import ROOT, Dataset

from zone.products.statistics import (
    Measure,
    PrivacyMapError,
    QueryPlan,
    StatsQuery,
    execute,
    plan_query,
)

PACKAGE = ROOT / "zone" / "products"


def _halve_first_scale(plan: QueryPlan) -> QueryPlan:
    measure = plan.measures[0]
    component = dataclasses.replace(measure.components[0], scale=measure.components[0].scale / 2)
    measure = dataclasses.replace(measure, components=(component, *measure.components[1:]))
    return dataclasses.replace(plan, measures=(measure, *plan.measures[1:]))


@pytest.mark.parametrize(
    "measure",
    [
        Measure("count"),
        Measure("sum", "x"),
        Measure("mean", "n"),
        Measure("histogram", "region"),
        Measure("quantile", "x", quantiles=(0.5,)),
    ],
)
def test_a_plan_whose_noise_is_too_small_is_refused(toy: Dataset, measure: Measure) -> None:
    query = StatsQuery(product="toy-stats", measures=(measure,), group_by=("region",), epsilon=1.0)
    plan = _halve_first_scale(plan_query(query, toy.product, toy.meta))
    with pytest.raises(PrivacyMapError):
        execute(plan, toy.con.cursor(), toy.table)


def test_key_selection_map_is_enforced(toy: Dataset) -> None:
    query = StatsQuery(
        product="toy-stats",
        measures=(Measure("count"),),
        group_by=("city",),
        epsilon=1.0,
        delta=1e-6,
    )
    plan = plan_query(query, toy.product, toy.meta)
    assert plan.key_selection is not None
    low = dataclasses.replace(plan.key_selection, threshold=2)
    with pytest.raises(PrivacyMapError):
        execute(dataclasses.replace(plan, key_selection=low), toy.con.cursor(), toy.table)


def test_key_selection_with_quantiles_and_means(toy: Dataset) -> None:
    query = StatsQuery(
        product="toy-stats",
        measures=(Measure("quantile", "n", quantiles=(0.5,)), Measure("mean", "n")),
        group_by=("city",),
        epsilon=60.0,
        delta=1e-9,
    )
    release = execute(plan_query(query, toy.product, toy.meta), toy.con.cursor(), toy.table)
    frame = toy.frame
    for measure in release.measures:
        assert [cell.key for cell in measure.cells] == [("A",), ("B",)]
        for cell in measure.cells:
            values = frame[frame.city == cell.key[0]].n.clip(0, 100)
            expected = values.median() if measure.kind == "quantile" else values.mean()
            assert cell.values[0] == pytest.approx(expected, abs=2)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_hand_written_noise_and_no_grpc_in_products() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert files
    for path in files:
        imports = _imports(path)
        assert not {"random", "secrets", "numpy.random", "grpc"} & imports, path
        assert not any(name.startswith(("grpc", "zone._proto", "zone.server")) for name in imports)
        text = path.read_text(encoding="utf-8")
        assert "np.random" not in text and "numpy.random" not in text, path
