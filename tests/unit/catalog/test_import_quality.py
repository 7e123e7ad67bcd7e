"""Each class of bad file: the right outcome per violation policy, exact report counts, and the
store (the serving version included) untouched whenever the import is refused."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from zone.catalog import DatasetMeta, ImportRefused, QualityReport, import_dataset
from zone.errors import ValidationFailed

HEADER = "uscc,district,employees,capital,listed,founded\n"
GOOD_CSV = HEADER + "A1,east,10,1.5,true,2020-01-01\nA2,west,20,2.5,false,2021-06-30\n"
SECRET = "zz-secret-value"

Write = Callable[[str, str], Path]
Snapshot = Callable[[Path], tuple[str, list[str], list[Any]]]


def meta_with(meta: DatasetMeta, column: str, **changes: Any) -> DatasetMeta:
    columns = {**meta.columns, column: meta.columns[column].model_copy(update=changes)}
    return DatasetMeta.model_validate({**meta.model_dump(), "columns": {
        n: c.model_dump() for n, c in columns.items()}})  # fmt: skip


@pytest.fixture
def store(tmp_path: Path, write: Write, small_meta: DatasetMeta) -> Path:
    """A store serving a good first version of ``firms``."""
    path = tmp_path / "store"
    import_dataset(path, write("good.csv", GOOD_CSV), "firms", small_meta)
    return path


def refused(store: Path, source: Path, meta: DatasetMeta, snapshot: Snapshot) -> ValidationFailed:
    before = snapshot(store)
    with pytest.raises(ValidationFailed) as caught:
        import_dataset(store, source, "firms", meta, replace_existing=True)
    assert snapshot(store) == before  # nothing half-written, the served version untouched
    assert not list(store.glob("firms/.*"))
    text = "\n".join(str(p) for p in caught.value.problems)
    assert SECRET not in text
    if isinstance(caught.value, ImportRefused):
        assert SECRET not in caught.value.report.to_json() + caught.value.report.to_text()
    return caught.value


def rows_of(store: Path) -> list[tuple[Any, ...]]:
    from zone.catalog import DatasetCatalog

    with DatasetCatalog.open(store) as catalog:
        return catalog.cursor().execute('SELECT * FROM "ds_firms" ORDER BY 1').fetchall()


PARSE_ERRORS = {
    "ragged row": (f"A9,east,1,1.0,true,2020-01-01\nA8,{SECRET}\n", 3, "too few fields"),
    "too many fields": (f"A9,east,1,1.0,true,2020-01-01,{SECRET}\n", 2, "too many fields"),
    "unterminated quote": (
        f'A9,east,1,1.0,true,2020-01-01\nA8,"{SECRET},1,1.0,t,\n',
        3,
        "quote",
    ),  # fmt: skip
    "10M-character cell": (f"A9,{'x' * 10_000_000},1,1.0,true,\n", 2, "line too long"),
}


@pytest.mark.parametrize("case", sorted(PARSE_ERRORS))
def test_rows_that_do_not_parse_are_refused_with_their_true_line(
    store: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot, case: str
) -> None:
    body, line, fragment = PARSE_ERRORS[case]
    source = write("bad.csv", HEADER + body)
    error = refused(store, source, small_meta, snapshot)
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert (problem.source, problem.line) == (str(source), line)
    assert fragment in problem.message


def test_non_utf8_byte_on_line_27_is_reported_on_line_27(
    store: Path, tmp_path: Path, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    rows = b"".join(b"K%d,east,1,1.0,true,\n" % i for i in range(25))
    source = tmp_path / "latin1.csv"
    source.write_bytes(HEADER.encode() + rows + b"K99,\xe9ast,1,1.0,true,\n")
    error = refused(store, source, small_meta, snapshot)
    assert [(p.line, "not valid UTF-8" in p.message) for p in error.problems] == [(27, True)]
    quoted = b'A9,"east",1,1.0,true,\nA8,"two\nlines",2,1.0,true,\n' * 12  # lines 2-37
    source.write_bytes(HEADER.encode() + quoted + b'A7,e,1,1,t,\nA6,"x\ny\xff",1,1.0,true,\n')
    error = refused(store, source, small_meta, snapshot)
    assert [(p.line, "not valid UTF-8" in p.message) for p in error.problems] == [(40, True)]
    source.write_bytes(b"uscc,d\xe9strict\n")
    error = refused(store, source, small_meta, snapshot)
    assert [(p.line, p.message.split(" (")[0]) for p in error.problems] == [
        (1, "the header row is not valid UTF-8")
    ]


def test_quoted_line_breaks_and_quotes_follow_rfc_4180(
    store: Path, write: Write, small_meta: DatasetMeta
) -> None:
    body = 'B1,"east",1,1.0,true,\r\n"B2","west",2,"2.0",false,\r\n'
    meta = meta_with(small_meta, "district", domain=None)
    text = HEADER + body + 'B3,"a, ""quoted""\nand a\r\nline break",3,3.0,true,2020-01-01\n'
    import_dataset(store, write("rfc.csv", text), "firms", meta, replace_existing=True)
    assert [row[:2] for row in rows_of(store)] == [
        ("B1", "east"), ("B2", "west"), ("B3", 'a, "quoted"\nand a\r\nline break'),
    ]  # fmt: skip


def test_empty_and_header_only_files(
    store: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    empty = write("empty.csv", "")
    assert [str(p) for p in refused(store, empty, small_meta, snapshot).problems] == [
        f"{empty}:1: the file is empty: a header row is required"
    ]
    header_only = write("header.csv", HEADER)
    assert "--allow-empty" in str(refused(store, header_only, small_meta, snapshot).problems[0])
    result = import_dataset(store, header_only, "firms", small_meta, replace_existing=True,
                            allow_empty=True)  # fmt: skip
    assert result.info.row_count == 0 and rows_of(store) == []


BAD_VALUES = HEADER + (
    "B1,east,10,1.5,true,2020-01-01\n"
    f"B2,Atlantis,{SECRET},2.5,maybe,2020-02-30\n"  # domain, type, type, type
    "B3,Atlantis,-5,2000,false,2021-01-01 10:00\n"  # domain, bounds, bounds, type
    "B4,nowhere,1.5,inf,true,\n"  # domain, type, type
    "B5,,20000,-1,,\n"  # null, bounds, bounds, null, null
)


def test_refuse_counts_every_violation_by_kind_and_never_quotes_values(
    store: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    error = refused(store, write("bad.csv", BAD_VALUES), small_meta, snapshot)
    assert isinstance(error, ImportRefused)
    report = error.report
    assert (report.rows, report.accepted) == (5, False)
    assert report.refused_columns == ("district", "employees", "capital", "listed", "founded")
    district = report.column("district")
    assert (district.nulls, dict(district.violations), district.unlisted_values) == (
        1, {"control": 0, "length": 0, "domain": 3}, 2)  # fmt: skip
    assert dict(report.column("employees").violations) == {"type": 2, "bounds": 2}
    assert dict(report.column("capital").violations) == {"type": 1, "bounds": 2}
    assert dict(report.column("listed").violations) == {"type": 1}
    assert report.column("listed").nulls == 1
    assert (report.column("founded").nulls, dict(report.column("founded").violations)) == (
        2, {"type": 2})  # fmt: skip
    uscc = report.column("uscc")
    assert dict(uscc.violations) == {"control": 0, "length": 0, "missing": 0, "duplicate": 0}
    assert "column 'employees': 2 type, 2 bounds (on_violation: refuse)" in str(error)
    assert QualityReport.from_json(report.to_json()) == report


def test_null_and_clamp_policies_apply_and_are_reported(
    store: Path, write: Write, small_meta: DatasetMeta
) -> None:
    meta = meta_with(small_meta, "district", on_violation="null")
    meta = meta_with(meta, "employees", on_violation="clamp")
    meta = meta_with(meta, "capital", on_violation="null")
    meta = meta_with(meta, "listed", on_violation="null")
    meta = meta_with(meta, "founded", on_violation="null")
    text = HEADER + (
        "B1,east,10,1.5,true,2020-01-01\n"
        "B2,Atlantis,-5,inf,maybe,2020-02-30\n"
        "B3,Atlantis,20000,2000,false,\n"
        "B4,nowhere,,-1,,\n"
    )
    result = import_dataset(store, write("v.csv", text), "firms", meta, replace_existing=True)
    report = result.report
    assert report.accepted and report.refused_columns == ()
    assert (dict(report.column("district").violations)["domain"],
            report.column("district").unlisted_values) == (3, 2)  # fmt: skip
    assert dict(report.column("employees").violations) == {"type": 0, "bounds": 2}
    assert dict(report.column("capital").violations) == {"type": 1, "bounds": 2}
    assert rows_of(store) == [
        ("B1", "east", 10, 1.5, True, datetime.date(2020, 1, 1)),
        ("B2", None, 0, None, None, None),
        ("B3", None, 10000, None, False, None),
        ("B4", None, None, None, None, None),
    ]
    assert "clamped" in report.to_text() and "nulled" in report.to_text()


def test_clamp_refuses_violations_other_than_bounds(
    store: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    meta = meta_with(small_meta, "employees", on_violation="clamp")
    error = refused(store, write("v.csv", HEADER + "B1,east,1.5,1.0,true,\n"), meta, snapshot)
    assert isinstance(error, ImportRefused) and error.report.refused_columns == ("employees",)


@pytest.mark.parametrize(
    ("rows", "kind", "count"),
    [
        (",east,1,1.0,true,\n   ,west,1,1.0,true,\n", "missing", 2),
        ("A1,east,1,1.0,true,\nA1,east,1,1.0,true,\nA1,west,1,1.0,true,\nA2,east,1,1.0,true,\n"
         "A2,east,1,1.0,true,\n", "duplicate", 3),
        ("A\x001,east,1,1.0,true,\nA\t2,east,1,1.0,true,\n", "control", 2),
        ('A\t1,east,1,1.0,true,\n"A\n2",east,1,1.0,true,\n', "control", 2),  # no other control
        ("A1,east,1,1.0,true,\nA\t2,east,1,1.0,true,\n", "control", 1),  # a tab, no quote
        ('A1,east,1,1.0,true,\n"A\n2",east,1,1.0,true,\n', "control", 1),  # a quote, no tab
        ("K" + "x" * 1_000_000 + ",east,1,1.0,true,\n", "length", 1),
    ],
)  # fmt: skip
def test_entity_key_violations_always_refuse(
    store: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot,
    rows: str, kind: str, count: int,
) -> None:  # fmt: skip
    error = refused(store, write("k.csv", HEADER + rows), small_meta, snapshot)
    assert isinstance(error, ImportRefused)
    assert error.report.column("uscc").violations[kind] == count
    assert error.report.refused_columns == ("uscc",)


def test_control_characters_and_length_in_other_strings(
    store: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    meta = meta_with(small_meta, "district", domain=None, max_length=5)
    text = HEADER + 'B1,"a\x00b",1,1.0,true,\nB2,"tab\there",1,1.0,true,\nB3,"multi\nline",1,1,t,\n'
    error = refused(store, write("c.csv", text), meta, snapshot)
    assert isinstance(error, ImportRefused)
    assert dict(error.report.column("district").violations) == {"control": 1, "length": 2}
    allowed = meta_with(small_meta, "district", domain=None)
    import_dataset(store, write("ok.csv", HEADER + 'B1,"tab\there\nnewline",1,1.0,true,\n'),
                   "firms", allowed, replace_existing=True)  # fmt: skip
    assert rows_of(store)[0][1] == "tab\there\nnewline"


def test_parquet_values_are_checked_too(
    store: Path, tmp_path: Path, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    parquet = tmp_path / "firms.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES ('A1', 'east', '5', 1.5, true, DATE '2020-01-01'), "
        f"('A2', 'Atlantis', '{SECRET}', 1.0, true, NULL), ('A3', 'west', '2.5', 1e9, true, NULL),"
        f" ('A4', repeat('y', 10000000), '1', 1.0, true, NULL)) "
        "t(uscc, district, employees, capital, listed, founded)) "
        f"TO '{parquet}' (FORMAT parquet)"
    )
    con.close()
    meta = meta_with(small_meta, "district", max_length=100)
    error = refused(store, parquet, meta, snapshot)
    assert isinstance(error, ImportRefused)
    report = error.report
    assert report.source_format == "parquet"
    assert dict(report.column("employees").violations) == {"type": 2, "bounds": 0}
    assert dict(report.column("capital").violations) == {"type": 0, "bounds": 1}
    assert dict(report.column("district").violations) == {"control": 0, "length": 1, "domain": 1}


def test_a_unique_key_with_a_repeated_hash_is_not_a_duplicate(
    tmp_path: Path, write: Write, small_meta: DatasetMeta, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Duplicates are screened by the keys' hashes; a repeated hash alone is not a duplicate."""
    import zone.catalog._report as report_module

    original = report_module._duplicates

    def colliding(con: Any, table: str, *args: Any) -> int:
        # a table whose keys all hash alike: every hash repeats, no key does
        con.execute("CREATE MACRO hash(x) AS 7")
        try:
            return original(con, table, *args)
        finally:
            con.execute("DROP MACRO hash")

    monkeypatch.setattr(report_module, "_duplicates", colliding)
    result = import_dataset(tmp_path / "s", write("u.csv", GOOD_CSV), "firms", small_meta)
    assert result.report.column("uscc").violations["duplicate"] == 0
    rows = HEADER + "A1,east,1,1.0,true,\nA2,east,1,1.0,true,\nA1,west,1,1.0,true,\n"
    with pytest.raises(ImportRefused) as caught:
        import_dataset(tmp_path / "s2", write("d.csv", rows), "firms", small_meta)
    assert caught.value.report.column("uscc").violations["duplicate"] == 1


def test_integer_domain_columns_are_checked_exactly(
    store: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot
) -> None:
    """An integer column with a domain and no bounds (read by DuckDB as a number)."""
    meta = meta_with(small_meta, "employees", bounds=None, domain=(0, 1))
    rows = (
        "B1,east,1,1.0,true,\nB2,east,1.5,1.0,true,\nB3,east,2,1.0,true,\n"
        "B4,east,9007199254740993,1.0,true,\nB5,east,1e0,1.0,true,\nB6,east,,1.0,true,\n"
    )
    error = refused(store, write("d.csv", HEADER + rows), meta, snapshot)
    assert isinstance(error, ImportRefused)
    column = error.report.column("employees")
    assert (dict(column.violations), column.nulls, column.unlisted_values) == (
        {"type": 1, "domain": 2}, 1, 2)  # fmt: skip
    error = refused(store, write("t.csv", HEADER + rows + "B7,east,x,1.0,true,\n"), meta,
                    snapshot)  # fmt: skip
    assert isinstance(error, ImportRefused)
    assert dict(error.report.column("employees").violations) == {"type": 2, "domain": 2}


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_floats_without_bounds_are_type_violations(
    store: Path, write: Write, small_meta: DatasetMeta, snapshot: Snapshot, value: str
) -> None:
    meta = meta_with(small_meta, "capital", bounds=None)
    rows = f"B1,east,1,1.0,true,\nB2,east,1,{value},true,\nB3,east,1,,true,\n"
    error = refused(store, write("f.csv", HEADER + rows), meta, snapshot)
    assert isinstance(error, ImportRefused)
    column = error.report.column("capital")
    assert (dict(column.violations), column.nulls) == ({"type": 1}, 1)


def test_compact_text_compresses_unique_text(tmp_path: Path, write: Write,
                                             small_meta: DatasetMeta) -> None:  # fmt: skip
    """By default unique text is stored uncompressed (a faster import); compact_text packs it.

    Text with a declared domain is stored compressed either way (statistics group and filter
    on it: uncompressed, a GROUP BY took 3.6 times as long).
    """
    rows = "".join(f"K{i:017d},{('east', 'west')[i % 2]},1,1.0,true,\n" for i in range(200_000))
    source = write("big.csv", HEADER + rows)
    sizes = {}
    for compact in (False, True):
        result = import_dataset(tmp_path / f"s{compact}", source, "firms", small_meta,
                                compact_text=compact)  # fmt: skip
        assert result.info.row_count == 200_000
        sizes[compact] = result.info.path.stat().st_size
        with duckdb.connect(str(result.info.path), read_only=True) as con:
            (keys,) = con.execute('SELECT count(DISTINCT uscc) FROM "ds_firms"').fetchone() or (0,)
            methods = con.execute(
                "SELECT DISTINCT compression FROM pragma_storage_info('ds_firms') "
                "WHERE column_name = 'district' AND segment_type = 'VARCHAR'"
            ).fetchall()
        assert keys == 200_000
        assert ("Uncompressed",) not in methods, (compact, methods)
    assert sizes[True] < sizes[False]
