"""The exact aggregates every mechanism receives stay exactly what they were (see ``pinkit``).

A rewrite of the SQL must give OpenDP the same exact inputs, in the same order, for every
measure kind, filters, group-bys (string, integer, date and boolean keys, NULL keys and values
outside the domains), float and integer columns, NULLs, and values far outside the bounds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pinkit import PINNED, QUERIES, frame, observe
from statskit import load_table

from zone.catalog import table_name


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    con = load_table(tmp_path_factory.mktemp("pin") / "pin.duckdb", "pin", frame())
    yield observe(con, table_name("pin"))
    con.close()


@pytest.mark.parametrize("name", list(QUERIES))
def test_mechanism_inputs_are_the_pinned_ones(observed: dict[str, Any], name: str) -> None:
    pinned = json.loads(PINNED.read_text())
    assert observed[name] == pinned[name]


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
