from __future__ import annotations

import datetime
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
Snapshot = Callable[[Path], tuple[list[Any], list[Any], list[Any]]]


def problems_of(db: Path, source: Path, meta: DatasetMeta, name: str = "firms") -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        import_dataset(db, source, name, meta, meta_source="firms.meta.yaml")
    return [str(problem) for problem in caught.value.problems]


def test_import_csv(tmp_path: Path, write: Write, small_meta: DatasetMeta) -> None:
    db = tmp_path / "zone.duckdb"
    info = import_dataset(db, write("firms.csv", GOOD_CSV), "firms", small_meta)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", info.version)
    assert (info.name, info.row_count, info.source_format) == ("firms", 3, "csv")
    assert info.meta == small_meta
    imported = datetime.datetime.strptime(info.imported_at, "%Y-%m-%dT%H:%M:%SZ")
    assert abs(datetime.datetime.now() - imported) < datetime.timedelta(days=1)
    with DatasetCatalog.open(db) as catalog:
        assert catalog.get("firms") == info
        rows = (
            catalog.cursor().execute(f"SELECT * FROM {table_name('firms')} ORDER BY 1").fetchall()
        )
    assert rows == [
        ("A1", "east", 10, 1.5, True, datetime.date(2020, 1, 1)),
        ("A2", "west", 20, 2.5, False, datetime.date(2021, 6, 30)),
        ("A3", "east", None, 3.0, None, None),
    ]


def test_import_parquet_and_csv_with_reordered_header(
    tmp_path: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    csv_db, parquet_db = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    reordered = "founded,uscc,capital,district,listed,employees\n2020-01-01,A1,1.5,east,1,7\n"
    import_dataset(csv_db, write("firms.csv", reordered), "firms", small_meta)
    parquet = tmp_path / "firms.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT '2020-01-01' AS founded, 'A1' AS uscc, 1.5 AS capital, 'east' AS district, "
        f"true AS listed, 7 AS employees) TO '{parquet}' (FORMAT parquet)"
    )
    con.close()
    info = import_dataset(parquet_db, parquet, "firms", small_meta)
    assert (info.source_format, info.row_count) == ("parquet", 1)
    expected = [[("A1", "east", 7, 1.5, True, datetime.date(2020, 1, 1))]]
    assert snapshot(csv_db)[2] == snapshot(parquet_db)[2] == expected


def test_parquet_values_that_do_not_convert_are_counted(
    tmp_path: Path, small_meta: DatasetMeta
) -> None:
    parquet = tmp_path / "firms.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES ('A1', 'east', '5', 1.5, true, DATE '2020-01-01'), "
        f"('A2', 'east', '{SECRET}', 1.0, true, NULL), ('A3', 'west', '2.5', 1.0, true, NULL)) "
        "t(uscc, district, employees, capital, listed, founded)) "
        f"TO '{parquet}' (FORMAT parquet)"
    )
    con.close()
    found = problems_of(tmp_path / "z.duckdb", parquet, small_meta)
    assert found == [
        f"{parquet}: column 'employees': 2 value(s) are not valid integer values "
        "(first in data row 2)"
    ]
    assert not (tmp_path / "z.duckdb").exists()


def test_column_mismatch_lists_every_problem(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    source = write(
        "firms.csv", "uscc,district,employees,capital,extra,other,other\nA1,e,1,1,x,y,z\n"
    )
    found = problems_of(tmp_path / "z.duckdb", source, small_meta)
    assert found == [
        f"{source}:1: column 'other' appears more than once",
        f"{source}:1: column 'extra' is not declared in the metadata",
        f"{source}:1: column 'other' is not declared in the metadata",
        f"firms.meta.yaml: column 'listed' is declared but not in {source}",
        f"firms.meta.yaml: column 'founded' is declared but not in {source}",
    ]


BROKEN = {
    "ragged row": (f"A9,east,1,1.0,true,2020-01-01\nA8,{SECRET}\n", 3, "too few fields"),
    "text in integer": (f"A9,east,{SECRET},1.0,true,2020-01-01\n", None, "not valid integer"),
    "fraction in integer": ("A9,east,1.5,1.0,true,2020-01-01\n", None, "not valid integer"),
    "text in float": (
        f"A9,east,1,{SECRET},true,2020-01-01\n",
        2,
        "'capital': value does not parse",
    ),
    "infinite float": ("A9,east,1,inf,true,2020-01-01\n", None, "not valid float"),
    "time in date": ("A9,east,1,1.0,true,2020-01-01 10:00\n", None, "not valid date"),
    "bad date": ("A9,east,1,1.0,true,2020-02-30\n", None, "not valid date"),
    "unterminated quote": (f'A9,east,1,1.0,true,2020-01-01\nA8,"{SECRET},1,1.0,t,\n', 3, "quote"),
    "too many columns": (f"A9,east,1,1.0,true,2020-01-01,{SECRET}\n", 2, "too many fields"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_csv_is_refused_and_database_unchanged(
    tmp_path: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot, case: str
) -> None:
    db = tmp_path / "zone.duckdb"
    before_info = import_dataset(db, write("firms.csv", GOOD_CSV), "firms", small_meta)
    before = snapshot(db)
    body, line, fragment = BROKEN[case]
    source = write("broken.csv", HEADER + body)
    found = problems_of(db, source, small_meta)
    assert len(found) == 1
    assert fragment in found[0]
    assert found[0].startswith(f"{source}:{line}:" if line else f"{source}: ")
    assert SECRET not in found[0]
    assert snapshot(db) == before
    assert list_datasets(db) == [before_info]


def test_failed_first_import_leaves_no_database_file(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    db = tmp_path / "zone.duckdb"
    problems_of(db, write("broken.csv", HEADER + "A1,east,x,1,true,\n"), small_meta)
    assert list(tmp_path.glob("zone.duckdb*")) == []


def test_reimport_replaces_atomically_and_changes_version(
    tmp_path: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    db = tmp_path / "zone.duckdb"
    first = import_dataset(db, write("firms.csv", GOOD_CSV), "firms", small_meta)
    import_dataset(db, write("other.csv", GOOD_CSV), "other", small_meta)
    second = import_dataset(
        db, write("v2.csv", HEADER + "B1,west,5,1.0,true,\n"), "firms", small_meta
    )
    assert second.version != first.version
    tables, catalog, rows = snapshot(db)
    assert tables == [("_zone_datasets",), ("ds_firms",), ("ds_other",)]
    assert [row[:3] for row in catalog] == [
        ("firms", second.version, 1),
        ("other", catalog[1][1], 3),
    ]
    assert rows[0] == [("B1", "west", 5, 1.0, True, None)]


def test_version_is_deterministic_and_covers_data_and_metadata(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    source = write("firms.csv", GOOD_CSV)
    a = import_dataset(tmp_path / "a.duckdb", source, "firms", small_meta)
    b = import_dataset(tmp_path / "b.duckdb", source, "other", small_meta)
    assert a.version == b.version
    changed_meta = small_meta.model_copy(update={"description": "Changed"})
    c = import_dataset(tmp_path / "c.duckdb", source, "firms", changed_meta)
    d = import_dataset(
        tmp_path / "d.duckdb", write("x.csv", GOOD_CSV + "A4,east,1,1,true,\n"), "f", small_meta
    )
    assert len({a.version, c.version, d.version}) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [(",east,1,1.0,true,\n", "1 row(s) have no value"), ("A1,east,1,1,true,\n", "repeat")],
)
def test_entity_key_must_be_present_and_unique(
    tmp_path: Path, write: Write, small_meta: DatasetMeta, body: str, message: str
) -> None:
    found = problems_of(tmp_path / "z.duckdb", write("k.csv", GOOD_CSV + body), small_meta)
    assert len(found) == 1 and "entity key 'uscc'" in found[0] and message in found[0]


def test_bad_name_extension_or_missing_file(tmp_path: Path, small_meta: DatasetMeta) -> None:
    db = tmp_path / "z.duckdb"
    for name in ("Firms", "1firms", 'x"; DROP TABLE t; --', "firms\n", "a" * 64):
        with pytest.raises(InvalidArgument, match="dataset names must match"):
            import_dataset(db, tmp_path / "f.csv", name, small_meta)
    with pytest.raises(InvalidArgument, match=".csv or .parquet"):
        import_dataset(db, tmp_path / "f.txt", "firms", small_meta)
    assert problems_of(db, tmp_path / "f.csv", small_meta) == [
        f"{tmp_path / 'f.csv'}: no such file"
    ]
    assert problems_of(db, tmp_path.joinpath("e.csv"), small_meta) == [
        f"{tmp_path / 'e.csv'}: no such file"
    ]


def test_empty_csv_is_refused(tmp_path: Path, write: Write, small_meta: DatasetMeta) -> None:
    source = write("e.csv", "")
    assert problems_of(tmp_path / "z.duckdb", source, small_meta) == [
        f"{source}:1: the file is empty: a header row is required"
    ]


def test_serving_catalog_is_read_only_without_external_access(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    db = tmp_path / "zone.duckdb"
    import_dataset(db, write("firms.csv", GOOD_CSV), "firms", small_meta)
    catalog = DatasetCatalog.open(db)
    cursor = catalog.cursor()
    with pytest.raises(duckdb.Error):
        cursor.execute("CREATE TABLE t (a INTEGER)")
    with pytest.raises(duckdb.Error):
        cursor.execute(f"DELETE FROM {table_name('firms')}")
    with pytest.raises(duckdb.Error):
        cursor.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()
    with pytest.raises(duckdb.Error):
        cursor.execute("SELECT * FROM read_csv(?)", [str(tmp_path / "firms.csv")]).fetchall()
    with pytest.raises(duckdb.Error):
        cursor.execute(f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'")
    assert not (tmp_path / "out.csv").exists()
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
    db = tmp_path / "zone.duckdb"
    import_dataset(db, write("firms.csv", GOOD_CSV), "firms", small_meta)
    results: list[int] = []
    with DatasetCatalog.open(db) as catalog:

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


def test_datasets_are_sorted_and_missing_database_is_reported(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    db = tmp_path / "zone.duckdb"
    assert list_datasets(db) == []
    with pytest.raises(FailedPrecondition, match="no dataset database"):
        DatasetCatalog.open(db)
    for name in ("zeta", "alpha", "mid"):
        import_dataset(db, write("firms.csv", GOOD_CSV), name, small_meta)
    assert [info.name for info in list_datasets(db)] == ["alpha", "mid", "zeta"]
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(FailedPrecondition, match="no catalog"):
        DatasetCatalog.open(empty)


HOLD_READ_ONLY = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("ready", flush=True)
sys.stdin.read()
"""


def test_import_into_locked_database_fails_cleanly(
    tmp_path: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    db = tmp_path / "zone.duckdb"
    import_dataset(db, write("firms.csv", GOOD_CSV), "firms", small_meta)
    before = snapshot(db)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_READ_ONLY, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(FailedPrecondition, match=r"in use \(is the zone server running\?\)"):
            import_dataset(
                db, write("v2.csv", HEADER + "B1,west,5,1.0,true,\n"), "firms", small_meta
            )
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()
    assert snapshot(db) == before


def test_duckdb_ddl_is_transactional(tmp_path: Path) -> None:
    """The property the atomic import relies on (measured on DuckDB 2.0.1)."""
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("CREATE TABLE ds_a AS SELECT 1 AS v")
    con.execute("BEGIN TRANSACTION")
    con.execute("CREATE TABLE staging AS SELECT 2 AS v")
    con.execute("DROP TABLE ds_a")
    con.execute("ALTER TABLE staging RENAME TO ds_a")
    assert con.execute("SELECT v FROM ds_a").fetchall() == [(2,)]
    con.execute("ROLLBACK")
    assert con.execute("SELECT v FROM ds_a").fetchall() == [(1,)]
    tables = con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    assert tables == [("ds_a",)]
    con.close()


def test_source_path_with_quotes_is_bound_not_spliced(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    odd = write("it's \"odd\"'); DROP TABLE x; --.csv", GOOD_CSV)
    info = import_dataset(tmp_path / "z.duckdb", odd, "firms", small_meta)
    assert info.row_count == 3
    parquet = tmp_path / "it's.parquet"
    con = duckdb.connect()
    plain = tmp_path / "plain.parquet"
    con.execute(f"COPY (SELECT * FROM read_csv(?)) TO '{plain}' (FORMAT parquet)", [str(odd)])
    con.close()
    plain.rename(parquet)
    assert import_dataset(tmp_path / "p.duckdb", parquet, "firms", small_meta).row_count == 3


def test_serving_catalog_applies_the_duckdb_settings(
    tmp_path: Path, write: Write, small_meta: DatasetMeta
) -> None:
    db = tmp_path / "zone.duckdb"
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
