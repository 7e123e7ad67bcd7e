from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from zone.catalog import (
    DatasetCatalog,
    DatasetMeta,
    import_dataset,
    list_datasets,
    table_name,
)
from zone.errors import FailedPrecondition, InvalidArgument, NotFound, ValidationFailed

GOOD_CSV = """\
uscc,district,employees,capital,listed,founded
A1,east,10,1.5,true,2020-01-01
A2,west,20,2.5,false,2021-06-30
A3,east,,3.0,,
"""
HEADER = "uscc,district,employees,capital,listed,founded\n"
SECRET = "zz-secret-value"

Write = Callable[[str, str], Path]
Snapshot = Callable[[Path], tuple[str, list[str], list[Any]]]


def problems_of(store: Path, source: Path, meta: DatasetMeta, name: str = "firms") -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        import_dataset(store, source, name, meta, meta_source="firms.meta.yaml",
                       replace_existing=True)  # fmt: skip
    return [str(problem) for problem in caught.value.problems]


def test_import_csv(tmp_path: Path, write: Write, small_meta: DatasetMeta) -> None:
    store = tmp_path / "store"
    result = import_dataset(store, write("firms.csv", GOOD_CSV), "firms", small_meta)
    info = result.info
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", info.version)
    assert (info.name, info.row_count, info.source_format) == ("firms", 3, "csv")
    assert (result.previous, result.activated) == (None, True)
    assert info.meta == small_meta and info.report == result.report
    imported = datetime.datetime.strptime(info.imported_at, "%Y-%m-%dT%H:%M:%SZ")
    assert abs(datetime.datetime.now() - imported) < datetime.timedelta(days=1)
    assert info.path == store / "firms" / f"{info.version[7:]}.duckdb"
    with DatasetCatalog.open(store) as catalog:
        assert catalog.get("firms") == info
        assert catalog.get("firms").report == result.report
        rows = (
            catalog.cursor().execute(f"SELECT * FROM {table_name('firms')} ORDER BY 1").fetchall()
        )
    assert rows == [
        ("A1", "east", 10, 1.5, True, datetime.date(2020, 1, 1)),
        ("A2", "west", 20, 2.5, False, datetime.date(2021, 6, 30)),
        ("A3", "east", None, 3.0, None, None),
    ]
    con = duckdb.connect(str(info.path), read_only=True)  # what a training worker opens
    assert con.execute('SELECT count(*) FROM "ds_firms"').fetchall() == [(3,)]
    tables = con.execute("SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()
    assert tables == [("_zone_version",), ("ds_firms",)]  # the check flags were dropped
    con.close()


def test_import_parquet_and_csv_with_reordered_header(
    tmp_path: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    csv_store, parquet_store = tmp_path / "a", tmp_path / "b"
    reordered = "founded,uscc,capital,district,listed,employees\n2020-01-01,A1,1.5,east,1,7\n"
    import_dataset(csv_store, write("firms.csv", reordered), "firms", small_meta)
    parquet = tmp_path / "firms.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT '2020-01-01' AS founded, 'A1' AS uscc, 1.5 AS capital, 'east' AS district, "
        f"true AS listed, 7 AS employees) TO '{parquet}' (FORMAT parquet)"
    )
    con.close()
    info = import_dataset(parquet_store, parquet, "firms", small_meta).info
    assert (info.source_format, info.row_count) == ("parquet", 1)
    expected = [[("A1", "east", 7, 1.5, True, datetime.date(2020, 1, 1))]]
    assert snapshot(csv_store)[2] == snapshot(parquet_store)[2] == expected


def test_column_mismatch_lists_every_problem(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    source = write(
        "firms.csv", "uscc,district,employees,capital,extra,other,other\nA1,e,1,1,x,y,z\n"
    )
    found = problems_of(tmp_path / "store", source, small_meta)
    assert found == [
        f"{source}:1: column 'other' appears more than once",
        f"{source}:1: column 'extra' is not declared in the metadata",
        f"{source}:1: column 'other' is not declared in the metadata",
        f"firms.meta.yaml: column 'listed' is declared but not in {source}",
        f"firms.meta.yaml: column 'founded' is declared but not in {source}",
    ]


def test_reimport_needs_replace_and_keeps_versions_side_by_side(
    tmp_path: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    store = tmp_path / "store"
    first = import_dataset(store, write("firms.csv", GOOD_CSV), "firms", small_meta).info
    import_dataset(store, write("other.csv", GOOD_CSV), "other", small_meta)
    v2 = write("v2.csv", HEADER + "B1,west,5,1.0,true,\n")
    before = snapshot(store)
    with pytest.raises(FailedPrecondition, match="pass --replace"):
        import_dataset(store, v2, "firms", small_meta)
    assert snapshot(store) == before
    second = import_dataset(store, v2, "firms", small_meta, replace_existing=True)
    assert second.info.version != first.version and second.previous == first.version
    with pytest.raises(FailedPrecondition, match="already version"):
        import_dataset(store, v2, "firms", small_meta, replace_existing=True)
    manifest, files, rows = snapshot(store)
    assert json.loads(manifest)["datasets"]["firms"]["active"] == second.info.version
    assert first.path.is_file() and second.info.path.is_file()  # side by side
    assert rows[0] == [("B1", "west", 5, 1.0, True, None)]
    assert [i.name for i in list_datasets(store)] == ["firms", "other"]


def test_staged_version_is_kept_but_not_active(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    first = import_dataset(store, write("firms.csv", GOOD_CSV), "firms", small_meta).info
    staged = import_dataset(store, write("v2.csv", HEADER + "B1,west,5,1.0,true,\n"), "firms",
                            small_meta, replace_existing=True, activate=False)  # fmt: skip
    assert not staged.activated and staged.info.path.is_file()
    assert list_datasets(store) == [first]


def test_version_is_deterministic_and_covers_data_and_metadata(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    source = write("firms.csv", GOOD_CSV)
    a = import_dataset(tmp_path / "a", source, "firms", small_meta).info
    b = import_dataset(tmp_path / "b", source, "other", small_meta).info
    assert a.version == b.version
    changed_meta = small_meta.model_copy(update={"description": "Changed"})
    c = import_dataset(tmp_path / "c", source, "firms", changed_meta).info
    d = import_dataset(
        tmp_path / "d", write("x.csv", GOOD_CSV + "A4,east,1,1,true,\n"), "f", small_meta
    ).info
    assert len({a.version, c.version, d.version}) == 3


def test_bad_name_extension_or_missing_file(tmp_path: Path, small_meta: DatasetMeta) -> None:
    store = tmp_path / "store"
    for name in ("Firms", "1firms", 'x"; DROP TABLE t; --', "firms\n", "a" * 64):
        with pytest.raises(InvalidArgument, match="dataset names must match"):
            import_dataset(store, tmp_path / "f.csv", name, small_meta)
    with pytest.raises(InvalidArgument, match=".csv or .parquet"):
        import_dataset(store, tmp_path / "f.txt", "firms", small_meta)
    assert problems_of(store, tmp_path / "f.csv", small_meta) == [
        f"{tmp_path / 'f.csv'}: no such file"
    ]


def test_serving_catalog_is_read_only_without_external_access(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    info = import_dataset(store, write("firms.csv", GOOD_CSV), "firms", small_meta).info
    catalog = DatasetCatalog.open(store)
    cursor = catalog.cursor()
    for statement in (
        f"DELETE FROM {table_name('firms')}",
        'INSERT INTO v0.main."ds_firms" SELECT * FROM v0.main."ds_firms"',
        "CREATE TABLE v0.main.t (a INTEGER)",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"ATTACH '{info.path}' AS again",
        f"ATTACH '{tmp_path / 'new.duckdb'}' AS new",
        "SET enable_external_access = true",
    ):
        with pytest.raises(duckdb.Error):
            cursor.execute(statement).fetchall()
    with pytest.raises(duckdb.Error):
        cursor.execute("SELECT * FROM read_csv(?)", [str(tmp_path / "firms.csv")]).fetchall()
    with pytest.raises(duckdb.Error):
        cursor.execute(f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'")
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "new.duckdb").exists()
    assert list(catalog.datasets()) == ["firms"]
    with pytest.raises(NotFound):
        catalog.get("nope")
    catalog.close()
    catalog.close()
    with pytest.raises(FailedPrecondition):
        catalog.cursor()


def test_catalog_cursors_work_from_threads(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    import_dataset(store, write("firms.csv", GOOD_CSV), "firms", small_meta)
    results: list[int] = []
    with DatasetCatalog.open(store) as catalog:

        def count() -> None:
            row = catalog.cursor().execute(f"SELECT count(*) FROM {table_name('firms')}").fetchone()
            assert row is not None
            results.append(int(row[0]))

        threads = [threading.Thread(target=count) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [3] * 8


def test_datasets_are_sorted_and_missing_or_legacy_store_is_reported(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    assert list_datasets(store) == []
    with pytest.raises(FailedPrecondition, match="no dataset store"):
        DatasetCatalog.open(store)
    for name in ("zeta", "alpha", "mid"):
        import_dataset(store, write("firms.csv", GOOD_CSV), name, small_meta)
    assert [info.name for info in list_datasets(store)] == ["alpha", "mid", "zeta"]
    legacy = tmp_path / "legacy.duckdb"
    duckdb.connect(str(legacy)).close()
    with pytest.raises(FailedPrecondition, match="single DuckDB file"):
        import_dataset(legacy, write("firms.csv", GOOD_CSV), "firms", small_meta)
    with pytest.raises(FailedPrecondition, match="single DuckDB file"):
        list_datasets(legacy)


def test_damaged_version_file_is_reported(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    store = tmp_path / "store"
    info = import_dataset(store, write("firms.csv", GOOD_CSV), "firms", small_meta).info
    info.path.write_bytes(b"not a database")
    with pytest.raises(FailedPrecondition, match="damaged at 'firms'"):
        DatasetCatalog.open(store)
    info.path.unlink()
    with pytest.raises(FailedPrecondition, match="damaged at 'firms'"):
        DatasetCatalog.open(store)


HOLD_READ_ONLY = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("ready", flush=True)
sys.stdin.read()
"""


def test_import_while_another_process_holds_the_served_version(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    """The FACTS lock: a reader of the served file does not block a new version's import."""
    store = tmp_path / "store"
    first = import_dataset(store, write("firms.csv", GOOD_CSV), "firms", small_meta).info
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_READ_ONLY, str(first.path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        second = import_dataset(store, write("v2.csv", HEADER + "B1,west,5,1.0,true,\n"),
                                "firms", small_meta, replace_existing=True)  # fmt: skip
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()
    assert list_datasets(store)[0].version == second.info.version


def test_source_path_with_quotes_is_bound_not_spliced(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    odd = write("it's \"odd\"'); DROP TABLE x; --.csv", GOOD_CSV)
    assert import_dataset(tmp_path / "z", odd, "firms", small_meta).info.row_count == 3
    parquet = tmp_path / "it's.parquet"
    con = duckdb.connect()
    plain = tmp_path / "plain.parquet"
    con.execute(f"COPY (SELECT * FROM read_csv(?)) TO '{plain}' (FORMAT parquet)", [str(odd)])
    con.close()
    plain.rename(parquet)
    odd_store = tmp_path / "it's store"
    assert import_dataset(odd_store, parquet, "firms", small_meta).info.row_count == 3
    assert list_datasets(odd_store)[0].row_count == 3


def test_serving_catalog_applies_the_duckdb_settings(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    db = tmp_path / "store"
    import_dataset(db, write("firms.csv", GOOD_CSV), "firms", small_meta)
    with DatasetCatalog.open(db, memory_limit="64MiB", threads=1) as catalog:
        cursor = catalog.cursor()
        settings = cursor.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('enable_external_access')"
        ).fetchone()
        assert settings == ("64.0 MiB", 1, False)
        with pytest.raises(duckdb.Error):
            cursor.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()
