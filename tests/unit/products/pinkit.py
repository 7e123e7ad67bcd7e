"""A small table and a varied set of queries whose exact aggregates are pinned.

``test_statistics_pinned`` runs every query through the real path (plan, DuckDB, OpenDP) and
records what each OpenDP mechanism received, in call order: the exact per-key counts of key
selection, the exact integer vectors given to discrete Laplace, and the rank counts of each
group given to the quantile mechanism (with the candidates). Those are the pre-noise
aggregates: the same inputs in the same order give the same release for the same noise.
``pinned_aggregates.json`` holds them as computed by the SQL of c3471cc (one statement per
measure, keys joined before aggregation, clamping in DOUBLE), quantiles as the sorted values of
each group that path fetched (the test derives their rank counts and OpenDP's scores from
them); regenerate only when a change of the aggregates is intended (quantile events are then
written as rank counts, which the test also accepts):

    PYTHONPATH=. python tests/unit/products/pinkit.py
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

import zone.products.statistics.mechanisms as mechanisms
from zone.catalog import DatasetMeta, StatisticsProduct
from zone.products.statistics import Filter, Measure, StatsQuery, execute, plan_query

PINNED = Path(__file__).resolve().parent / "pinned_aggregates.json"
EPSILON = 1000.0  # noise is irrelevant here (inputs are recorded), but keeps key selection stable
ROWS = 240

META: dict[str, Any] = {
    "description": "Pinned aggregates",
    "provider": "Tests",
    "entity_key": "id",
    "columns": {
        "id": {"type": "string", "level": "L3"},
        "city": {"type": "string", "level": "L1"},
        "region": {"type": "string", "level": "L1", "domain": ["north", "south", "east"]},
        "year": {"type": "integer", "level": "L1", "domain": [2020, 2021, 2022]},
        "day": {"type": "date", "level": "L1", "domain": ["2024-01-01", "2024-01-02"]},
        "flag": {"type": "boolean", "level": "L1"},
        "n": {"type": "integer", "level": "L1", "bounds": [0, 100]},  # grouped by selected keys
        "m": {"type": "integer", "level": "L2", "bounds": [-7.5, 12.5]},
        "k": {"type": "integer", "level": "L2", "bounds": [-1000, 1000], "granularity": 10},
        "h": {"type": "integer", "level": "L2", "bounds": [0, 50], "granularity": 0.5},
        "x": {"type": "float", "level": "L1", "bounds": [-10, 10], "granularity": 0.01},
        "y": {"type": "float", "level": "L2", "bounds": [0, 1000]},
    },
}
COLUMNS = ["city", "region", "year", "day", "flag", "n", "m", "k", "h", "x", "y"]


def product() -> StatisticsProduct:
    return StatisticsProduct.model_validate(
        {
            "id": "pin-stats",
            "kind": "statistics",
            "dataset": "pin",
            "description": "Pinned statistics",
            "columns": tuple(COLUMNS),
            "group_by": ("city", "region", "year", "day", "flag", "n", "x"),
            "measures": ("count", "sum", "mean", "histogram", "quantile"),
            "max_epsilon_per_query": 1e6,
            "key_selection": True,
        }
    )


def meta() -> DatasetMeta:
    return DatasetMeta.model_validate(META)


def _cycle(values: list[Any], i: int, step: int = 1) -> Any:
    return values[(i * step) % len(values)]


def frame() -> pd.DataFrame:
    """Values inside and outside the bounds and domains, NULLs everywhere, rounding ties."""
    big = 2**62
    ints = [-5, 0, 1, 7, 50, 99, 100, 101, 150, -(big), big, 13, None, 42]
    ms = [-9, -8, -7, -1, 0, 3, 12, 13, 14, None, big, -big]
    ks = [-2000, -1005, -995, -15, -5, 0, 4, 5, 6, 15, 995, 1005, 7777, None]
    hs = [-3, 0, 1, 25, 49, 50, 51, None, 10**15]
    floats = [
        -1e300, -10.5, -10.0, -9.995, -0.015, -0.005, 0.0, -0.0, 0.005, 0.015, 1.115, 2.675,
        3.3333333, 9.995, 10.0, 10.004, 10.006, 1e300, None, 5e-324, -2.5e-3, 7.77,
    ]  # fmt: skip
    ys = [-1.0, 0.0, 0.0005, 0.0015, 1.2345, 499.9995, 999.9995, 1000.0, 1000.5, None, 1e12]
    cities = ["A", "A", "B", "A", "C", None, "B", "D"]
    regions = ["north", "south", "west", None, "north", "east", "south"]
    years = [2020, 2021, 2019, 2022, None, 2020, 2023, 2021, 2022]
    days = [datetime.date(2024, 1, 1), datetime.date(2024, 1, 2), datetime.date(2024, 1, 3), None]
    flags = [True, False, None, False, True]
    return pd.DataFrame(
        {
            "id": [f"e{i:04d}" for i in range(ROWS)],
            "city": [_cycle(cities, i, 3) for i in range(ROWS)],
            "region": [_cycle(regions, i) for i in range(ROWS)],
            "year": pd.array([_cycle(years, i, 5) for i in range(ROWS)], dtype="Int64"),
            "day": pd.Series([_cycle(days, i, 3) for i in range(ROWS)], dtype="object"),
            "flag": pd.array([_cycle(flags, i, 2) for i in range(ROWS)], dtype="boolean"),
            "n": pd.array([_cycle(ints, i, 3) for i in range(ROWS)], dtype="Int64"),
            "m": pd.array([_cycle(ms, i, 5) for i in range(ROWS)], dtype="Int64"),
            "k": pd.array([_cycle(ks, i, 3) for i in range(ROWS)], dtype="Int64"),
            "h": pd.array([_cycle(hs, i, 2) for i in range(ROWS)], dtype="Int64"),
            "x": pd.array([_cycle(floats, i, 7) for i in range(ROWS)], dtype="Float64"),
            "y": pd.array([_cycle(ys, i, 3) for i in range(ROWS)], dtype="Float64"),
        }
    )


def _q(*measures: Measure, **fields: Any) -> StatsQuery:
    return StatsQuery(product="pin-stats", measures=measures, epsilon=EPSILON, **fields)


ALL_SUMS = tuple(Measure("sum", c) for c in ("n", "m", "k", "h", "x", "y"))
ALL_MEANS = tuple(Measure("mean", c) for c in ("n", "m", "k", "h", "x", "y"))
HISTOGRAMS = (
    Measure("histogram", "n", bins=7),
    Measure("histogram", "m", bins=3),
    Measure("histogram", "x", bins=4),
    Measure("histogram", "y", bins=9),
    Measure("histogram", "region"),
    Measure("histogram", "year"),
    Measure("histogram", "day"),
    Measure("histogram", "flag"),
)
QUANTILES = (
    Measure("quantile", "n", quantiles=(0.25, 0.5)),
    Measure("quantile", "x", quantiles=(0.5,)),
    Measure("quantile", "k", quantiles=(0.1, 0.9)),
)
QUERIES: dict[str, StatsQuery] = {
    "count": _q(Measure("count")),
    "count by region": _q(Measure("count"), group_by=("region",)),
    "count by year, region": _q(Measure("count"), group_by=("year", "region")),
    "count by day, flag": _q(Measure("count"), group_by=("day", "flag")),
    "sums": _q(*ALL_SUMS),
    "sums by region": _q(*ALL_SUMS, group_by=("region",)),
    "means by year": _q(*ALL_MEANS, group_by=("year",)),
    "histograms": _q(*HISTOGRAMS),
    "histograms by flag": _q(*HISTOGRAMS, group_by=("flag",)),
    "quantiles": _q(*QUANTILES),
    "quantiles by region": _q(*QUANTILES, group_by=("region",)),
    "filters": _q(
        Measure("count"),
        Measure("sum", "n"),
        Measure("mean", "x"),
        group_by=("region",),
        filters=(
            Filter("city", "in", ("A", "B", "Z")),
            Filter("x", "range", (-10.0, None)),
            Filter("day", "range", (None, "2024-01-02")),
        ),
    ),
    "filters on types": _q(
        Measure("count"),
        Measure("histogram", "n", bins=5),
        Measure("quantile", "y", quantiles=(0.5,)),
        group_by=("day",),
        filters=(
            Filter("flag", "eq", (True,)),
            Filter("year", "in", (2020, 2022)),  # a value outside the domain is refused
            Filter("n", "range", (0, 100)),
        ),
    ),
    "everything": _q(
        Measure("count"),
        Measure("sum", "m"),
        Measure("mean", "y"),
        Measure("mean", "k"),
        Measure("histogram", "h", bins=4),
        Measure("histogram", "region"),
        Measure("quantile", "m", quantiles=(0.5,)),
        group_by=("region", "flag"),
        filters=(Filter("x", "range", (None, 9.995)),),
    ),
    "empty population": _q(
        Measure("count"),
        Measure("mean", "x"),
        Measure("histogram", "n", bins=2),
        Measure("quantile", "x", quantiles=(0.5,)),
        group_by=("region",),
        filters=(Filter("city", "eq", ("nobody",)),),
    ),
    "key selection": _q(Measure("count"), Measure("sum", "x"), group_by=("city",), delta=1e-6),
    "key selection, integer and float keys": _q(
        Measure("count"),
        Measure("sum", "m"),
        Measure("histogram", "n", bins=3),
        group_by=("n", "x"),
        delta=1e-6,
    ),
    "key selection, two columns": _q(
        Measure("count"),
        Measure("mean", "n"),
        Measure("histogram", "flag"),
        group_by=("city", "region"),
        delta=1e-6,
    ),
}


@contextmanager
def recording() -> Iterator[list[list[Any]]]:
    """Record what every mechanism receives (then run it as usual): a spy, not a fake."""
    events: list[list[Any]] = []
    originals = {
        name: getattr(mechanisms, name)
        for name in ("release_laplace", "release_quantiles_from_counts", "release_keys")
    }

    def laplace(values: Any, sensitivity: int, scale: float, epsilon: float) -> Any:
        events.append(["laplace", sensitivity, [int(v) for v in values]])
        return originals["release_laplace"](values, sensitivity, scale, epsilon)

    def quantiles(groups: Any, candidates: Any, alpha: float, scale: float, eps: float) -> Any:
        counts = [[g.n, list(g.below), list(g.at_or_below)] for g in groups]
        events.append(["quantile", alpha, len(candidates), counts, [float(c) for c in candidates]])
        return originals["release_quantiles_from_counts"](groups, candidates, alpha, scale, eps)

    def keys(counts: Any, scale: float, threshold: int, epsilon: float, delta: float) -> Any:
        events.append(["keys", sorted([*key, int(n)] for key, n in counts.items())])
        return originals["release_keys"](counts, scale, threshold, epsilon, delta)

    replacements: dict[str, Callable[..., Any]] = {
        "release_laplace": laplace,
        "release_quantiles_from_counts": quantiles,
        "release_keys": keys,
    }
    for name, replacement in replacements.items():
        setattr(mechanisms, name, replacement)
    try:
        yield events
    finally:
        for name, original in originals.items():
            setattr(mechanisms, name, original)


def observe(con: Any, table: str) -> dict[str, list[list[Any]]]:
    """Every query's mechanism inputs, in call order."""
    pin_meta, pin_product = meta(), product()
    observed = {}
    for name, query in QUERIES.items():
        plan = plan_query(query, pin_product, pin_meta)
        with recording() as events:
            execute(plan, con.cursor(), table)
        observed[name] = events
    return observed


def main() -> None:
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from statskit import load_table

    from zone.catalog import table_name

    with tempfile.TemporaryDirectory() as tmp:
        con = load_table(Path(tmp) / "pin.duckdb", "pin", frame())
        observed = observe(con, table_name("pin"))
        con.close()
    lines = [f"{json.dumps(k)}: {json.dumps(v, allow_nan=False)}" for k, v in observed.items()]
    PINNED.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"written: {PINNED}")


if __name__ == "__main__":
    main()
