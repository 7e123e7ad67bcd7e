"""Reading a source file (CSV or Parquet): its columns, its FROM item, its rejected rows.

DuckDB reads the file itself; the rows its CSV reader rejected become problems.

CSV follows RFC 4180 (quoted fields may hold commas, doubled quotes and line breaks; CRLF or LF;
an optional UTF-8 byte order mark). Every CSV column is read as text and converted in SQL
(``zone.catalog._checks``): DuckDB's typed reader would silently round ``1.5`` into an integer
and cannot apply a column's ``on_violation`` policy.

Problems never quote cell values: DuckDB's own messages (which do) are dropped and replaced by
counts, column names and the physical line of the file (counted from the byte offset DuckDB
reports, so a quoted line break before the bad row is counted too).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from zone.catalog._checks import quote
from zone.catalog._fields import is_column_name
from zone.catalog.metadata import DatasetMeta
from zone.errors import Problem

REJECTS = "_zone_import_rejects"
REJECTS_LIMIT = 10_000
"""Rejected CSV rows DuckDB keeps for the report; more are counted as 'at least'."""
_MAX_HEADER_BYTES = 1 << 20
_MAX_RECORD_BYTES = 4 << 20  # above DuckDB's largest accepted line (2 MiB by default)
_BOM = b"\xef\xbb\xbf"


UTF8_HINT = (
    "save the file as UTF-8; a GB18030 (GBK) export converts with: iconv -f GB18030 -t UTF-8"
)
ASCII_NAME_HINT = (
    "column names are ASCII letters, digits and _: rename it in the file's header row (pinyin "
    "or English) and keep the original name in the metadata's description"
)


class _NotUtf8(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def read_csv_header(source: Path, label: str) -> tuple[list[str], list[Problem]]:
    """Column names from the header record (decoded line by line, so only its own lines count)."""

    def lines(handle: Any) -> Iterator[str]:
        number = 0
        while True:
            raw = handle.readline(_MAX_HEADER_BYTES)
            if not raw:
                return
            number += 1
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _NotUtf8(number) from None

    try:
        with source.open("rb") as handle:
            header = next(csv.reader(lines(handle), strict=True), None)
    except _NotUtf8 as bad:
        return [], [Problem(label, bad.line, f"the header row is not valid UTF-8 ({UTF8_HINT})")]
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
        Problem(
            label,
            1,
            f"column {name!r} is not declared in the metadata"
            + ("" if is_column_name(name) else f" ({ASCII_NAME_HINT})"),
        )
        for name in dict.fromkeys(file_columns)
        if name not in meta.columns
    ]
    problems += [
        Problem(meta_source, None, f"column {name!r} is declared but not in {label}")
        for name in meta.columns
        if name not in file_columns
    ]
    return problems


def read_as_double(name: str, meta: DatasetMeta) -> bool:
    """Whether DuckDB's reader may parse column ``name`` as DOUBLE rather than as text.

    Only for columns whose violations refuse the import (a value the reader cannot parse is a
    rejected row, and the import is then redone with every column read as text, so the report
    still counts it): floats, and integers whose public bounds, or else whose declared domain,
    lie within +-2^53, where every allowed integer is exact as a double (a larger one is out
    of bounds or of the domain either way). Parsing in the reader is faster than converting
    text afterwards; integer text is still checked for exactness (``1.5`` is a type violation)
    by the conversion in ``zone.catalog._checks``.
    """
    column = meta.columns[name]
    if name == meta.entity_key or column.on_violation != "refuse":
        return False
    if column.type == "float":
        return True
    if column.type != "integer":
        return False
    allowed = column.bounds if column.bounds is not None else column.domain
    return allowed is not None and all(abs(float(v)) < 2.0**53 for v in allowed)


def csv_source(
    source: Path, header: Sequence[str], meta: DatasetMeta, typed: bool
) -> tuple[str, list[Any]]:
    """The strict RFC 4180 ``read_csv`` FROM item and its parameters.

    Every column is read as text, except (with ``typed``) those :func:`read_as_double` allows.
    """
    types = {n: "DOUBLE" if typed and read_as_double(n, meta) else "VARCHAR" for n in header}
    sql = (
        "read_csv(?, columns = ?, header = true, auto_detect = false, strict_mode = true, "
        "delim = ',', quote = '\"', escape = '\"', store_rejects = true, "
        f"rejects_table = '{REJECTS}', rejects_scan = '{REJECTS}_scan', "
        f"rejects_limit = {REJECTS_LIMIT})"
    )
    return sql, [str(source), types]


def only_cast_rejects(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether every rejected row failed only a typed column's parse (redo the read as text)."""
    row: Any = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE error_type = 'CAST') FROM {REJECTS}"
    ).fetchone()
    return int(row[0]) > 0 and int(row[0]) == int(row[1])


def drop_rejects(con: duckdb.DuckDBPyConnection) -> None:
    """Forget the rejected rows of a read that is being redone."""
    con.execute(f"DROP TABLE IF EXISTS {REJECTS}")
    con.execute(f"DROP TABLE IF EXISTS {REJECTS}_scan")


def parquet_columns(
    con: duckdb.DuckDBPyConnection, source: Path, label: str
) -> tuple[list[str], list[Problem]]:
    """The Parquet file's column names."""
    try:
        cursor = con.execute("SELECT * FROM read_parquet(?) LIMIT 0", [str(source)])
    except duckdb.Error:
        return [], [Problem(label, None, "the file cannot be read as Parquet")]
    return [str(column[0]) for column in cursor.description], []


def parquet_source(source: Path) -> tuple[str, list[Any]]:
    """The ``read_parquet`` FROM item and its parameters."""
    return "read_parquet(?)", [str(source)]


def source_columns(meta: DatasetMeta) -> list[str]:
    """The expression reading each declared column from the source, in declared order."""
    return [quote(name) for name in meta.columns]


_REJECT_REASONS = {
    "CAST": "value does not parse",
    "MISSING COLUMNS": "row has too few fields",
    "TOO MANY COLUMNS": "row has too many fields",
    "UNQUOTED VALUE": "bad quoting (for example an unterminated quote)",
    "INVALID ENCODING": "not valid UTF-8",
    "INVALID UNICODE": "not valid UTF-8",
    "LINE SIZE OVER MAXIMUM": "line too long",
}


def rejected_rows(con: duckdb.DuckDBPyConnection, source: Path, label: str) -> list[Problem]:
    """One problem per kind of rejected CSV row: how many rows, the first one's line."""
    found = con.execute(
        "SELECT error_type, CASE WHEN error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') "
        "THEN NULL ELSE column_name END, count(DISTINCT line), min(line_byte_position) "
        f"FROM {REJECTS} GROUP BY ALL ORDER BY 4, 1, 2"
    ).fetchall()
    if not found:
        return []
    offsets = [
        _first_bad_byte(source, int(start)) if kind == "INVALID ENCODING" else int(start)
        for kind, _, _, start in found
    ]
    lines = physical_lines(source, offsets)
    return [
        _reject_problem(label, str(kind), column, int(count), line)
        for (kind, column, count, _), line in zip(found, lines, strict=True)
    ]


def _first_bad_byte(source: Path, record_start: int) -> int:
    """The offset of the first byte that is not UTF-8 at or after a record's start."""
    with source.open("rb") as handle:
        handle.seek(record_start)
        chunk = handle.read(_MAX_RECORD_BYTES)
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as bad:
        return record_start + bad.start
    return record_start


def physical_lines(source: Path, offsets: Sequence[int]) -> list[int]:
    """The 1-based line of each byte offset (one pass up to the largest)."""
    line_at: dict[int, int] = {}
    lines, position = 1, 0
    with source.open("rb") as handle:
        for offset in sorted(set(offsets)):
            while position < offset:
                chunk = handle.read(min(1 << 20, offset - position))
                if not chunk:
                    break
                lines += chunk.count(b"\n")
                position += len(chunk)
            line_at[offset] = lines
    return [line_at[offset] for offset in offsets]


def _reject_problem(label: str, kind: str, column: str | None, count: int, line: int) -> Problem:
    reason = _REJECT_REASONS.get(kind, "row does not parse")
    where = f"column {column!r}: " if column else ""
    if count >= REJECTS_LIMIT:
        rows = f"at least {count:,} rows"
    else:
        rows = "1 row" if count == 1 else f"{count:,} rows"
    advice = f"; {UTF8_HINT}" if reason == "not valid UTF-8" else ""
    return Problem(label, line, f"{where}{reason} ({rows}; the first is on this line{advice})")
