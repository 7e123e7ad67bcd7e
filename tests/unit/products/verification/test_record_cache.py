"""Match's record cache follows the serving set: a new dataset version or a product redefined
by a hot reload (same version) reads the records again; an unchanged product reuses them."""

from __future__ import annotations

from typing import Any

import duckdb

from zone.catalog import VerificationProduct
from zone.products.verification.records import RecordCache


def product(claims: dict[str, Any]) -> VerificationProduct:
    return VerificationProduct.model_validate(
        {"id": "capital-match", "kind": "verification", "dataset": "enterprises",
         "description": "d", "key": "uscc", "claims": claims}
    )  # fmt: skip


def test_a_product_redefined_at_the_same_version_reads_its_new_columns() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE ds_enterprises AS SELECT 'a' AS uscc, 10 AS employees, 7 AS tax")
    opened: list[int] = []

    def cursor() -> duckdb.DuckDBPyConnection:
        opened.append(1)
        return con.cursor()

    cache = RecordCache()
    first = cache.get(product({"employees": {"tolerance": 0}}), "v1", cursor)
    assert list(first.columns) == ["employees"]
    same = cache.get(product({"employees": {"tolerance": 0}}), "v1", cursor)
    assert same is first and len(opened) == 1  # an equal definition reuses the records
    redefined = cache.get(product({"tax": {"tolerance": 0}}), "v1", cursor)
    assert list(redefined.columns) == ["tax"]
    assert redefined.values("tax", redefined.lookup(["a"])).tolist() == [7.0]
    assert cache.get(product({"tax": {"tolerance": 0}}), "v2", cursor).version == "v2"
    assert len(opened) == 3
