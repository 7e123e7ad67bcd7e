"""An uploaded cohort CSV checked whole and written as the private Parquet file training reads.

Runs in the server process on the raw bytes the upload wrote to a private file, with an
in-memory DuckDB whose spill directory is the upload's own work directory (removed with it).
DuckDB reads the CSV strictly (every column as text, RFC 4180 quoting, at most
``MAX_LINE_BYTES`` per line: a 10-million-character cell is refused, not truncated); then one
aggregate query counts, per column, missing and invalid values and remembers the first data row
of each. Problems carry counts, column names and row or line numbers, never cell values (DuckDB's
own messages, which quote values, are dropped).

Refused: a header that does not list exactly the declared columns; undecodable text (not UTF-8);
bad quoting or a wrong number of fields; a missing or malformed key (after normalisation:
``zone.products.joint.keys``); a key repeated; a missing or unknown label; a missing feature
value, an integer or float that does not parse, a boolean that does not parse, a string outside
its declared domain; fewer rows than the product's ``min_cohort_rows`` or more than its
``max_cohort_rows``. Numeric values outside their public bounds are kept (training clips them).

The Parquet file holds, in upload order: ``k`` (the normalised key), ``y`` (the label: 0/1 for a
binary label, the value for a bounded one) and ``o0 .. o{n-1}`` (each operator feature as a
number: the value, 0/1, or the 1-based position of a string in its declared domain).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import duckdb

from zone.catalog._joint import JointTrainingProduct
from zone.errors import Problem, ValidationFailed
from zone.products.joint.keys import key_acceptable, operator_key
from zone.products.joint.schema import CohortSchema, OperatorFeature

MAX_LINE_BYTES = 1 << 20
_LINE = re.compile(r"Line: (\d+)")
_REASONS = {
    "CAST": "value does not parse",
    "MISSING COLUMNS": "row has too few fields",
    "TOO MANY COLUMNS": "row has too many fields",
    "UNQUOTED VALUE": "bad quoting (for example an unterminated quote)",
    "INVALID ENCODING": "not valid UTF-8",
    "LINE SIZE OVER MAXIMUM": f"line longer than {MAX_LINE_BYTES} bytes",
}
_SOURCE = "cohort"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def header_problems(path: Path, schema: CohortSchema) -> list[Problem]:
    """The header row must name exactly the declared columns (each once, any order)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle, strict=True), None)
    except UnicodeDecodeError:
        return [Problem(_SOURCE, 1, "the header row is not valid UTF-8")]
    except csv.Error:
        return [Problem(_SOURCE, 1, "the header row is not valid CSV (or a field is too long)")]
    if not header:
        return [Problem(_SOURCE, 1, "the file is empty: a header row is required")]
    declared = schema.columns
    problems = [
        Problem(_SOURCE, 1, f"column {n!r} appears more than once")
        for i, n in enumerate(header)
        if n in header[:i]
    ]
    problems += [
        Problem(_SOURCE, 1, f"column {n[:64]!r} is not declared in the schema")
        for n in dict.fromkeys(header)
        if n not in declared
    ]
    problems += [
        Problem(_SOURCE, 1, f"declared column {n!r} is not in the file")
        for n in declared
        if n not in header
    ]
    return problems


def _read(con: duckdb.DuckDBPyConnection, path: Path, schema: CohortSchema) -> list[Problem]:
    types = dict.fromkeys(schema.columns, "VARCHAR")
    try:
        con.execute(
            "CREATE TABLE raw AS SELECT * FROM read_csv(?, columns = ?, header = true, "
            "auto_detect = false, strict_mode = true, delim = ',', quote = '\"', escape = '\"', "
            "max_line_size = ?, store_rejects = true, rejects_table = 'rejects', "
            "rejects_scan = 'rejects_scan')",
            [str(path), types, MAX_LINE_BYTES],
        )
    except duckdb.Error as exc:
        match = _LINE.search(str(exc))
        return [
            Problem(
                _SOURCE, int(match.group(1)) if match else None, "the file cannot be read as CSV"
            )
        ]
    rejects = con.execute(
        "SELECT error_type, count(DISTINCT line), min(line) FROM rejects GROUP BY ALL ORDER BY 3"
    ).fetchall()
    return [
        Problem(
            _SOURCE,
            int(line),
            f"{_REASONS.get(kind, 'row does not parse')} "
            f"({count} row(s); the first is on this line)",
        )
        for kind, count, line in rejects
    ]


class _Params(dict[str, Any]):
    """Named query parameters: ``bind(value)`` returns the placeholder of a new one."""

    def bind(self, value: object) -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f"${name}"


def _feature_sql(feature: OperatorFeature, column: str, params: _Params) -> tuple[str, str]:
    """(number expression, validity condition) of one feature over its trimmed text."""
    text = f"trim({column})"
    if feature.type == "integer":
        value = f"TRY_CAST({text} AS DOUBLE)"
        return value, f"{value} IS NOT NULL AND {value} = TRY_CAST({text} AS BIGINT)"
    if feature.type == "float":
        value = f"TRY_CAST({text} AS DOUBLE)"
        return value, f"isfinite({value})"
    if feature.type == "boolean":
        value = f"CAST(TRY_CAST({text} AS BOOLEAN) AS DOUBLE)"
        return value, f"{value} IS NOT NULL"
    value = f"CAST(list_position({params.bind(list(feature.domain))}::VARCHAR[], {text}) AS DOUBLE)"
    return value, f"{value} IS NOT NULL"


def _label_sql(schema: CohortSchema, column: str, params: _Params) -> str:
    label = schema.label
    if label.kind == "binary":
        positive, negative = params.bind(label.classes[1]), params.bind(label.classes[0])
        return f"CASE trim({column}) WHEN {positive} THEN 1.0 WHEN {negative} THEN 0.0 END"
    return (
        f"CASE WHEN isfinite(TRY_CAST(trim({column}) AS DOUBLE)) "
        f"THEN TRY_CAST(trim({column}) AS DOUBLE) END"
    )


def _blank(column: str) -> str:
    return f"({column} IS NULL OR regexp_full_match({column}, '\\s*'))"


def _typed(
    con: duckdb.DuckDBPyConnection,
    schema: CohortSchema,
    product: JointTrainingProduct,
    integer_key: bool,
) -> None:
    """Table ``typed``: row number, the key (normalised, NULL if malformed), label, features.

    ``*_missing`` / ``n<i>`` flag empty cells; a non-empty cell whose value is NULL is invalid.
    """
    params = _Params()
    key = operator_key(_q(schema.key), product.key_format, integer=integer_key)
    acceptable = key_acceptable("k0", product.key_format, params.bind)
    label = _label_sql(schema, _q(schema.label.column), params)
    parts = [_feature_sql(f, _q(f.name), params) for f in schema.features]
    features = "".join(f", CASE WHEN {ok} THEN {v} END AS o{i}" for i, (v, ok) in enumerate(parts))
    blanks = "".join(f", {_blank(_q(f.name))} AS n{i}" for i, f in enumerate(schema.features))
    con.execute(
        f"CREATE TABLE typed AS SELECT r, k_missing, CASE WHEN {acceptable} THEN k0 END AS k, "
        f"y, y_missing{''.join(f', o{i}, n{i}' for i in range(len(parts)))} FROM ("
        f"SELECT rowid + 1 AS r, {_blank(_q(schema.key))} AS k_missing, {key} AS k0, "
        f"{label} AS y, {_blank(_q(schema.label.column))} AS y_missing{features}{blanks} "
        "FROM raw)",
        params,
    )


def _column_problems(con: duckdb.DuckDBPyConnection, schema: CohortSchema) -> list[Problem]:
    checks = [("key", schema.key, "k_missing", "NOT k_missing AND k IS NULL")]
    checks.append(("label", schema.label.column, "y_missing", "NOT y_missing AND y IS NULL"))
    for i, f in enumerate(schema.features):
        checks.append(("feature", f.name, f"n{i}", f"NOT n{i} AND o{i} IS NULL"))
    aggregates = ", ".join(
        f"count(*) FILTER ({missing}), min(r) FILTER ({missing}), "
        f"count(*) FILTER ({bad}), min(r) FILTER ({bad})"
        for _, _, missing, bad in checks
    )
    row: Any = con.execute(f"SELECT count(*), {aggregates} FROM typed").fetchone()
    problems = []
    for index, (what, name, _, _) in enumerate(checks):
        missing, first_missing, bad, first_bad = row[1 + 4 * index : 5 + 4 * index]
        if missing:
            problems.append(
                _problem(f"{what} {name!r}: {missing} row(s) have no value", first_missing)
            )
        if bad:
            invalid = _INVALID.get(what, "are not valid")
            problems.append(_problem(f"{what} {name!r}: {bad} value(s) {invalid}", first_bad))
    duplicates: Any = con.execute(
        "SELECT count(*), min(r) FROM (SELECT r, row_number() OVER (PARTITION BY k ORDER BY r) "
        "AS n FROM typed WHERE k IS NOT NULL) WHERE n > 1"
    ).fetchone()
    if duplicates[0]:
        repeated = f"key {schema.key!r}: {duplicates[0]} row(s) repeat the key of an earlier row"
        problems.append(_problem(f"{repeated} (after normalisation)", duplicates[1]))
    return problems


_INVALID = {
    "key": "are malformed (after normalisation: empty, too long or not matching the key format)",
    "label": "are not one of the declared classes (or not a finite number)",
    "feature": "are not valid for the declared type or domain",
}


def _problem(message: str, row: int) -> Problem:
    return Problem(_SOURCE, None, f"{message} (first in data row {row})")


def _size_problems(rows: int, product: JointTrainingProduct) -> list[Problem]:
    if rows < product.min_cohort_rows:
        return [
            Problem(
                _SOURCE,
                None,
                f"the cohort has {rows} rows; product {product.id!r} "
                f"needs at least {product.min_cohort_rows}",
            )
        ]
    if rows > product.max_cohort_rows:
        return [
            Problem(
                _SOURCE,
                None,
                f"the cohort has {rows} rows; product {product.id!r} "
                f"allows at most {product.max_cohort_rows}",
            )
        ]
    return []


def load_cohort(
    raw: Path,
    out: Path,
    schema: CohortSchema,
    product: JointTrainingProduct,
    *,
    integer_key: bool,
    work_dir: Path,
) -> int:
    """Check the raw CSV ``raw`` and write the canonical Parquet file ``out``; return its rows.

    Raises:
        ValidationFailed: every problem found (counts and row numbers, never values); ``out``
            is not written.
    """
    problems = header_problems(raw, schema)
    if problems:
        raise ValidationFailed(problems, what="checking the cohort")
    config: dict[str, str | bool | int | float | list[str]] = {
        "temp_directory": str(work_dir),
        "threads": 2,
        "memory_limit": "2GB",
    }
    with duckdb.connect(":memory:", config=config) as con:
        try:
            problems = _read(con, raw, schema)
            if not problems:
                _typed(con, schema, product, integer_key)
                problems = _column_problems(con, schema)
                rows = int(con.execute("SELECT count(*) FROM typed").fetchone()[0])  # type: ignore[index]
                problems += _size_problems(rows, product)
            if problems:
                raise ValidationFailed(problems, what="checking the cohort")
            columns = "".join(f", o{i}" for i in range(len(schema.features)))
            con.execute(
                f"COPY (SELECT k, y{columns} FROM typed ORDER BY r) TO ? (FORMAT parquet)",
                [str(out)],
            )
        except duckdb.Error:
            raise ValidationFailed(
                [Problem(_SOURCE, None, "the cohort could not be processed")],
                what="checking the cohort",
            ) from None
    return rows
