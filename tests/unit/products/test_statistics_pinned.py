"""The exact aggregates every mechanism receives stay exactly what they were (see ``pinkit``).

A rewrite of the SQL must give OpenDP the same exact inputs, in the same order, for every
measure kind, filters, group-bys (string, integer, date and boolean keys, NULL keys and values
outside the domains), float and integer columns, NULLs, and values far outside the bounds.
Quantiles: the rank counts computed in DuckDB equal those of the values the former path
fetched, and OpenDP's score of those values equals the score computed from the counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pinkit import PINNED, QUERIES, frame, observe
from statskit import load_table

import zone.products.statistics.mechanisms as mechanisms
from zone.catalog import table_name


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    con = load_table(tmp_path_factory.mktemp("pin") / "pin.duckdb", "pin", frame())
    yield observe(con, table_name("pin"))
    con.close()


def _as_rank_counts(pinned: list[Any], seen: list[Any]) -> list[Any]:
    """A pinned quantile event (sorted values per group) as rank counts at the seen candidates.

    Also checks the link to OpenDP: its own score transformation on the pinned values gives
    the scores that ``mechanisms.quantile_scores`` computes from the observed counts.
    """
    if pinned[0] != "quantile" or len(pinned) == 5:
        return pinned
    _, alpha, m, groups = pinned
    candidates = seen[4]
    counts = [mechanisms.rank_counts(np.asarray(v, dtype=np.float64), candidates) for v in groups]
    for values, observed in zip(groups, seen[3], strict=True):
        opendp_scores = [int(s) for s in mechanisms._scores(tuple(candidates), alpha)(values)]
        counted = mechanisms.RankCounts(observed[0], tuple(observed[1]), tuple(observed[2]))
        assert mechanisms.quantile_scores(counted, alpha) == opendp_scores
    return [
        "quantile",
        alpha,
        m,
        [[c.n, list(c.below), list(c.at_or_below)] for c in counts],
        candidates,
    ]


@pytest.mark.parametrize("name", list(QUERIES))
def test_mechanism_inputs_are_the_pinned_ones(observed: dict[str, Any], name: str) -> None:
    pinned = json.loads(PINNED.read_text())[name]
    seen = observed[name]
    assert len(seen) == len(pinned)
    assert seen == [_as_rank_counts(p, s) for p, s in zip(pinned, seen, strict=True)]


def test_the_pinned_table_exercises_the_edge_cases() -> None:
    pinned = json.loads(PINNED.read_text())
    assert set(pinned) == set(QUERIES)
    sums = pinned["sums"]
    assert [event[0] for event in sums] == ["laplace"] * 6
    assert sums[0][2] != [0] and sums[4][2] != [0]
    selected = pinned["key selection"][0]
    assert selected[0] == "keys" and [row[0] for row in selected[1]] == ["A", "B", "C", "D"]
    floats = {row[1] for row in pinned["key selection, integer and float keys"][0][1]}
    assert {"0.0", "-0.0", "1e+300"} <= floats  # 0.0 and -0.0 are different keys
