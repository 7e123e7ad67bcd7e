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


def test_cached_measurements_release_correctly_from_many_threads() -> None:
    """Releases share one cached OpenDP measurement per scale; 8 threads invoke it at once."""
    import threading

    from zone.products.statistics import mechanisms

    scale = mechanisms.laplace_scale(1, 1.0)
    exact = list(range(0, 1600, 100))
    results: list[list[int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(50):
                noisy = mechanisms.release_laplace(exact, 1, scale, 1.0)
                with lock:
                    results.append(noisy)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 400
    noise = [v - e for noisy in results for v, e in zip(noisy, exact, strict=True)]
    assert max(abs(n) for n in noise) < 40  # scale 1: |noise| >= 40 has probability ~1e-14
    assert len(set(map(tuple, results))) > 300  # fresh noise per invocation, not one draw
    sd = (sum(n * n for n in noise) / len(noise)) ** 0.5
    assert 1.2 < sd < 1.52  # discrete Laplace, scale 1: SD 1.357 (6,400 draws)
