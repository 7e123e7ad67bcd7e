"""Where a refused import's first bad value is: the row (and line) and what was expected.

The quality report counts violations per column and never names a value or a row (it is
stored, digested and shown in the catalog). An administrator whose import was refused still
needs to know where to look: for each refused column this finds the first data row with a
violation that refuses, and the import's error names that row's line and says what the column
expects (the value itself is not repeated, it is on that line).

It runs only after a refusal, on a connection of its own with one thread and insertion order
kept, so that ``row_number() OVER ()`` follows the file. Every column is read as text and
checked with the import's own conditions (``zone.catalog._checks``): the text reading is the
one the report's counts come from when a typed read fails.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from zone.catalog._checks import converted, quote, type_failure, value_checks
from zone.catalog.metadata import DatasetMeta
from zone.catalog.quality import QualityReport, refusing_kinds


@dataclass(frozen=True)
class FirstViolation:
    """The first row of a column whose value refuses the import.

    Attributes:
        row: The data row, counted from 1 (the header is not a row).
        kind: The check it failed first (``type``, ``domain``, ``duplicate``, ...).
        line: The physical line in a CSV file where that row starts (None for Parquet).
    """

    row: int
    kind: str
    line: int | None


_TYPE_HINTS = {
    "integer": "a whole number in plain digits (no thousands separators, no decimals)",
    "float": "a number in plain digits, such as 3175.18 (no thousands separators, no units)",
    "date": "a date written year first, YYYY-MM-DD, such as 2015-03-01",
    "boolean": "true or false (t/f, 1/0 and yes/no are read too)",
}
_HINTS = {
    "control": "the value holds a control character",
    "length": "the value is longer than the column's max_length",
    "domain": "the value is not in the column's declared domain (mind spaces around it)",
    "bounds": "the value is outside the column's public bounds",
    "missing": "the entity key is empty",
    "duplicate": "the entity key repeats an earlier row's",
}


def hint(kind: str, column_type: str) -> str:
    """What a value failing ``kind`` in a column of ``column_type`` should have been."""
    if kind == "type":
        return f"expected {_TYPE_HINTS.get(column_type, column_type)}"
    return _HINTS.get(kind, kind)


def first_violations(
    source: Path, fmt: str, header: list[str], meta: DatasetMeta, report: QualityReport
) -> dict[str, FirstViolation]:
    """The first refusing violation of each refused column of ``report``.

    Raises:
        duckdb.Error: DuckDB could not reread the file.
    """
    con = duckdb.connect(
        ":memory:",
        config={"threads": 1, "preserve_insertion_order": True, "memory_limit": "256MB"},
    )
    try:
        if fmt == "csv":
            columns = dict.fromkeys(header, "VARCHAR")
            source_sql = (
                "read_csv(?, columns = ?, header = true, auto_detect = false, "
                "strict_mode = true, delim = ',', quote = '\"', escape = '\"')"
            )
            params: list[Any] = [str(source), columns]
        else:
            source_sql, params = "read_parquet(?)", [str(source)]
        found = _scan(con, source_sql, params, meta, report)
    finally:
        con.close()
    lines = _record_lines(source, {row for row, _ in found.values()}) if fmt == "csv" else {}
    return {name: FirstViolation(row, kind, lines.get(row)) for name, (row, kind) in found.items()}


def _scan(
    con: duckdb.DuckDBPyConnection,
    source_sql: str,
    params: list[Any],
    meta: DatasetMeta,
    report: QualityReport,
) -> dict[str, tuple[int, str]]:
    """One pass over the file: per refused column, the first row failing a refusing check."""
    cases: list[str] = []
    firsts: list[str] = []
    names: list[str] = []
    case_params: list[Any] = []
    first_params: list[Any] = []
    for index, name in enumerate(report.refused_columns):
        column = meta.columns[name]
        counted = report.column(name).violations
        kinds = [k for k in sorted(refusing_kinds(name, column, meta)) if counted.get(k)]
        source, is_key = quote(name), name == meta.entity_key
        value = converted(source, column)
        whens = [f"WHEN {source} IS NULL THEN '{'missing' if is_key else 'null'}'"]
        failure = type_failure(source, value, column)
        if failure is not None:
            whens.append(f"WHEN {failure} THEN 'type'")
        for kind, (condition, extra) in value_checks(name, value, meta, True):
            whens.append(f"WHEN {condition} THEN '{kind}'")
            case_params += extra
        cases.append(f"CASE {' '.join(whens)} ELSE 'ok' END AS k{index}")
        wanted = f"k{index} IN ({', '.join('?' for _ in kinds) or 'NULL'})"
        firsts.append(f"min(n) FILTER ({wanted}), arg_min(k{index}, n) FILTER ({wanted})")
        first_params += [*kinds, *kinds]
        names.append(name)
    rows = f"SELECT row_number() OVER () AS n, * FROM {source_sql}"
    key = meta.entity_key
    key_value = converted(quote(key), meta.columns[key])
    row = con.execute(
        f"WITH rows AS ({rows}), checked AS (SELECT n, {key_value} AS key_v, "
        f"{', '.join(cases)} FROM rows) SELECT {', '.join(firsts)} FROM checked",
        [*params, *case_params, *first_params],
    ).fetchone()
    found: dict[str, tuple[int, str]] = {}
    for index, name in enumerate(names):
        if row is not None and row[2 * index] is not None:
            found[name] = (int(row[2 * index]), str(row[2 * index + 1]))
    if key in names and report.column(key).violations.get("duplicate"):
        position = names.index(key)
        repeated = con.execute(
            f"WITH rows AS ({rows}), checked AS (SELECT n, {key_value} AS key_v, "
            f"{cases[position]} FROM rows) SELECT min(n) FROM (SELECT n, row_number() OVER "
            f"(PARTITION BY key_v ORDER BY n) AS r FROM checked WHERE k{position} = 'ok') "
            "WHERE r > 1",
            [*params, *_params_of(meta, key)],
        ).fetchone()
        if repeated is not None and repeated[0] is not None:
            n = int(repeated[0])
            if key not in found or n < found[key][0]:
                found[key] = (n, "duplicate")
    return found


def _params_of(meta: DatasetMeta, name: str) -> list[Any]:
    value = converted(quote(name), meta.columns[name])
    return [p for _, (_, extra) in value_checks(name, value, meta, True) for p in extra]


def _record_lines(source: Path, rows: Iterable[int]) -> dict[int, int]:
    """The physical line where each wanted data row starts (quoted line breaks counted).

    A row after a field that Python's reader refuses (over its 128 KiB field limit) gets no
    line: the error then names the data row only.
    """
    wanted, found = set(rows), {}
    with source.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle, strict=True)
        with contextlib.suppress(csv.Error):
            next(reader, None)  # the header
            row, start = 0, reader.line_num + 1
            for record in reader:
                if record:
                    row += 1
                    if row in wanted:
                        found[row] = start
                        if len(found) == len(wanted):
                            break
                start = reader.line_num + 1
    return found
