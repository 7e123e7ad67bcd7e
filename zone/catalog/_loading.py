"""Reading a source file (CSV or Parquet) into a typed staging table, collecting problems.

Every function here runs inside the import transaction opened by ``store.import_dataset`` and
never commits. Problems never quote cell values: DuckDB's own messages (which do) are dropped and
replaced by counts, column names and line or row numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from zone.catalog._fields import is_column_name
from zone.catalog.metadata import ColumnMeta, DatasetMeta
from zone.errors import Problem

SQL_TYPES = {
    "integer": "BIGINT",
    "float": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
}
# Integers and dates are read as text and converted afterwards: DuckDB's CSV reader silently
# rounds "1.5" into a BIGINT and truncates "2020-01-01 10:00" into a DATE.
CSV_READ_TYPES = {**SQL_TYPES, "integer": "VARCHAR", "date": "VARCHAR"}
RAW_TABLE = "_zone_import_raw"
STAGING_TABLE = "_zone_import_staging"
_REJECTS = "_zone_import_rejects"
_LINE = re.compile(r"Line: (\d+)")


def quote(identifier: str) -> str:
    """Double-quote a column or table name that was validated against the name patterns."""
    if not is_column_name(identifier):
        raise ValueError("identifier was not validated")
    return f'"{identifier}"'


def read_csv_header(source: Path, label: str) -> tuple[list[str], list[Problem]]:
    """Column names from the header row (the same dialect DuckDB is told to use)."""
    try:
        with source.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle, strict=True), None)
    except UnicodeDecodeError:
        return [], [Problem(label, 1, "the header row is not valid UTF-8")]
    except csv.Error:
        return [], [Problem(label, 1, "the header row is not valid CSV")]
    if not header:
        return [], [Problem(label, 1, "the file is empty: a header row is required")]
    return header, []


def column_problems(
    file_columns: Sequence[str], meta: DatasetMeta, label: str, meta_source: str
) -> list[Problem]:
    """Every difference between the file's columns and the declared ones."""
    problems = [
        Problem(label, 1, f"column {name!r} appears more than once")
        for index, name in enumerate(file_columns)
        if name in file_columns[:index]
    ]
    problems += [
        Problem(label, 1, f"column {name!r} is not declared in the metadata")
        for name in dict.fromkeys(file_columns)
        if name not in meta.columns
    ]
    problems += [
        Problem(meta_source, None, f"column {name!r} is declared but not in {label}")
        for name in meta.columns
        if name not in file_columns
    ]
    return problems


def load_raw_csv(
    con: duckdb.DuckDBPyConnection, source: Path, label: str, meta: DatasetMeta, header: list[str]
) -> list[Problem]:
    """Read the CSV strictly into the raw table; rows that do not parse become problems."""
    read_types = {name: CSV_READ_TYPES[meta.columns[name].type] for name in header}
    try:
        con.execute(
            f"CREATE TEMP TABLE {RAW_TABLE} AS SELECT * FROM read_csv(?, columns = ?, "
            "header = true, auto_detect = false, strict_mode = true, delim = ',', "
            "quote = '\"', escape = '\"', store_rejects = true, "
            f"rejects_table = '{_REJECTS}', rejects_scan = '{_REJECTS}_scan')",
            [str(source), read_types],
        )
    except duckdb.Error as exc:
        match = _LINE.search(str(exc))
        line = int(match.group(1)) if match else None
        return [Problem(label, line, "the file cannot be read as CSV")]
    rejects = con.execute(
        "SELECT error_type, CASE WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') "
        "THEN NULL ELSE column_name END AS column_name, count(DISTINCT line), min(line) "
        f"FROM {_REJECTS} GROUP BY ALL ORDER BY 4, 1, 2"
    ).fetchall()
    return [_reject_problem(label, *row) for row in rejects]


_REJECT_REASONS = {
    "CAST": "value does not parse as the declared type",
    "MISSING COLUMNS": "row has too few fields",
    "TOO MANY COLUMNS": "row has too many fields",
    "UNQUOTED VALUE": "bad quoting (for example an unterminated quote)",
    "INVALID ENCODING": "not valid UTF-8",
    "LINE SIZE OVER MAXIMUM": "line too long",
}


def _reject_problem(
    label: str, error_type: str, column: str | None, count: int, line: int
) -> Problem:
    reason = _REJECT_REASONS.get(error_type, "row does not parse")
    where = f"column {column!r}: " if column else ""
    rows = "1 row" if count == 1 else f"{count} rows"
    return Problem(label, int(line), f"{where}{reason} ({rows}; the first is on this line)")


def load_raw_parquet(
    con: duckdb.DuckDBPyConnection, source: Path, label: str, meta: DatasetMeta, meta_source: str
) -> list[Problem]:
    """Read the Parquet file into the raw table (original types) after checking its columns."""
    try:
        cursor = con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [str(source)])
        file_columns = [str(column[0]) for column in cursor.description]
    except duckdb.Error:
        return [Problem(label, None, "the file cannot be read as Parquet")]
    problems = column_problems(file_columns, meta, label, meta_source)
    if problems:
        return problems
    names = ", ".join(quote(name) for name in meta.columns)
    con.execute(
        f"CREATE TEMP TABLE {RAW_TABLE} AS SELECT {names} FROM read_parquet(?)", [str(source)]
    )
    return []


def _bad_value(name: str, column: ColumnMeta) -> str | None:
    """SQL condition true where a raw value does not convert exactly to the declared type."""
    value = quote(name)
    target = SQL_TYPES[column.type]
    if column.type == "string":
        return None
    extra = {
        "integer": f"TRY_CAST({value} AS DOUBLE) IS DISTINCT FROM TRY_CAST({value} AS BIGINT)",
        "float": f"NOT isfinite(TRY_CAST({value} AS DOUBLE))",
        "date": (
            f"TRY_CAST({value} AS TIMESTAMP) IS DISTINCT FROM "
            f"CAST(TRY_CAST({value} AS DATE) AS TIMESTAMP)"
        ),
        "boolean": "false",
    }[column.type]
    return f"{value} IS NOT NULL AND (TRY_CAST({value} AS {target}) IS NULL OR {extra})"


def conversion_problems(
    con: duckdb.DuckDBPyConnection, meta: DatasetMeta, label: str
) -> list[Problem]:
    """Count, per column, values that are not exactly of the declared type."""
    checks = [(name, _bad_value(name, column)) for name, column in meta.columns.items()]
    checked = [(name, condition) for name, condition in checks if condition is not None]
    if not checked:
        return []
    aggregates = ", ".join(
        f"count(*) FILTER (WHERE {condition}), min(rowid) FILTER (WHERE {condition})"
        for _, condition in checked
    )
    row: Any = con.execute(f"SELECT min(rowid), {aggregates} FROM {RAW_TABLE}").fetchone()
    first_rowid, results = row[0], row[1:]
    problems = []
    for index, (name, _) in enumerate(checked):
        count, rowid = results[2 * index], results[2 * index + 1]
        if count:
            kind = meta.columns[name].type
            problems.append(
                Problem(
                    label,
                    None,
                    f"column {name!r}: {count} value(s) are not valid {kind} values "
                    f"(first in data row {rowid - first_rowid + 1})",
                )
            )
    return problems


def create_staging(con: duckdb.DuckDBPyConnection, meta: DatasetMeta) -> int:
    """Create the typed staging table from the raw one; returns its row count."""
    columns = ", ".join(
        f"CAST({quote(name)} AS {SQL_TYPES[column.type]}) AS {quote(name)}"
        for name, column in meta.columns.items()
    )
    con.execute(f"CREATE TABLE {STAGING_TABLE} AS SELECT {columns} FROM {RAW_TABLE}")
    con.execute(f"DROP TABLE {RAW_TABLE}")
    row: Any = con.execute(f"SELECT count(*) FROM {STAGING_TABLE}").fetchone()
    return int(row[0])


def entity_key_problems(
    con: duckdb.DuckDBPyConnection, meta: DatasetMeta, label: str
) -> list[Problem]:
    """The entity key identifies one row per entity: no missing and no repeated values."""
    key = quote(meta.entity_key)
    blank = f" OR trim({key}) = ''" if meta.columns[meta.entity_key].type == "string" else ""
    row: Any = con.execute(
        f"SELECT count(*) FILTER (WHERE {key} IS NULL{blank}), "
        f"count({key}) - count(DISTINCT {key}) FROM {STAGING_TABLE}"
    ).fetchone()
    missing, repeated = int(row[0]), int(row[1])
    problems = []
    if missing:
        problems.append(
            Problem(label, None, f"entity key {meta.entity_key!r}: {missing} row(s) have no value")
        )
    if repeated:
        problems.append(
            Problem(
                label,
                None,
                f"entity key {meta.entity_key!r}: {repeated} row(s) repeat a key of another row",
            )
        )
    return problems
