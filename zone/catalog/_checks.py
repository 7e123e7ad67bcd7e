"""SQL that checks every value against the metadata while the import writes the table.

One ``CREATE TABLE ... AS SELECT`` reads the source once (DuckDB streams it, so memory does not
grow with the row count) and writes, per column, the value after its ``on_violation`` policy
and a one-byte *flag* saying what the source value was (:data:`FLAGS`). The quality report is
then counted from the flags in SQL (``zone.catalog.quality`` states the checks and their order);
the flag columns are dropped before the version is committed.

Identifiers are quoted only after validation; every constant (domain values, bounds) is a
bound parameter, never SQL text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zone.catalog._fields import is_column_name
from zone.catalog.metadata import ColumnMeta, DatasetMeta
from zone.catalog.quality import ColumnQuality, QualityReport, checked_kinds, refusing_kinds

SQL_TYPES = {
    "integer": "BIGINT",
    "float": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
}
FLAGS = {"ok": 0, "type": 1, "control": 2, "length": 3, "domain": 4, "bounds": 5, "missing": 6,
         "null": 7}  # fmt: skip
_KIND_OF_FLAG = {flag: kind for kind, flag in FLAGS.items()}
# C0 controls except tab, LF and CR; DEL; C1 controls. Keys refuse tab, LF and CR as well.
_CONTROL = "[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]"
_KEY_CONTROL = "[\\x00-\\x1F\\x7F-\\x9F]"


def quote(identifier: str) -> str:
    """Double-quote a column name that was validated against the name pattern."""
    if not is_column_name(identifier):
        raise ValueError("identifier was not validated")
    return f'"{identifier}"'


def flag_column(index: int) -> str:
    """The flag column of the ``index``-th declared column."""
    return f'"_zone_f{index}"'


def _unlisted_column(index: int) -> str:
    return f'"_zone_u{index}"'


@dataclass(frozen=True)
class ColumnSql:
    """The SQL of one column: inner expressions (value, flag) and outer ones (stored columns)."""

    inner: str
    inner_params: tuple[Any, ...]
    outer: str
    outer_params: tuple[Any, ...]


def _converted(source: str, column: ColumnMeta) -> str:
    target = SQL_TYPES[column.type]
    if column.type == "string":
        return f"CAST({source} AS VARCHAR)"
    return f"TRY_CAST({source} AS {target})"


def _type_violation(source: str, value: str, column: ColumnMeta) -> str | None:
    extra = {
        "integer": f"TRY_CAST({source} AS DOUBLE) IS DISTINCT FROM {value}",
        "float": f"NOT isfinite({value})",
        "date": f"TRY_CAST({source} AS TIMESTAMP) IS DISTINCT FROM CAST({value} AS TIMESTAMP)",
        "boolean": None,
        "string": None,
    }[column.type]
    if column.type == "string":
        return None
    return f"{value} IS NULL" + (f" OR {extra}" if extra else "")


def _domain_params(column: ColumnMeta) -> tuple[Any, ...]:
    import datetime

    values = column.domain or ()
    if column.type == "date":
        return tuple(datetime.date.fromisoformat(str(v)) for v in values)
    return tuple(values)


def _flag(
    name: str, source: str, value: str, column: ColumnMeta, meta: DatasetMeta
) -> tuple[str, tuple[Any, ...]]:
    """``CASE`` giving the value's flag; the first failing check wins (see ``quality``)."""
    is_key = name == meta.entity_key
    whens: list[str] = [f"WHEN {source} IS NULL THEN {FLAGS['missing' if is_key else 'null']}"]
    params: list[Any] = []
    type_violation = _type_violation(source, value, column)
    if type_violation is not None:
        whens.append(f"WHEN {type_violation} THEN {FLAGS['type']}")
    if column.type == "string":
        pattern = _KEY_CONTROL if is_key else _CONTROL
        whens.append(f"WHEN regexp_matches({value}, '{pattern}') THEN {FLAGS['control']}")
        whens.append(f"WHEN length({value}) > {int(meta.max_length(name))} THEN {FLAGS['length']}")
        if is_key:
            whens.append(f"WHEN trim({value}) = '' THEN {FLAGS['missing']}")
    if column.domain is not None:
        domain = _domain_params(column)
        marks = ", ".join("?" for _ in domain)
        whens.append(f"WHEN {value} NOT IN ({marks}) THEN {FLAGS['domain']}")
        params += domain
    if column.bounds is not None:
        whens.append(f"WHEN {value} < ? OR {value} > ? THEN {FLAGS['bounds']}")
        params += [float(column.bounds[0]), float(column.bounds[1])]
    return f"CAST(CASE {' '.join(whens)} ELSE 0 END AS UTINYINT)", tuple(params)


def _stored(index: int, name: str, column: ColumnMeta) -> tuple[str, tuple[Any, ...]]:
    """The stored value after the column's policy (a refused import stores nothing)."""
    value, flag = f"_zone_v{index}", f"_zone_f{index}"
    if column.on_violation == "null":
        return f"CASE WHEN {flag} BETWEEN 1 AND 5 THEN NULL ELSE {value} END", ()
    if column.on_violation == "clamp" and column.bounds is not None:
        low, high = column.bounds
        if column.type == "integer":
            low, high = math.ceil(low), math.floor(high)
        target = SQL_TYPES[column.type]
        clamped = f"CAST(least(greatest({value}, ?), ?) AS {target})"
        return f"CASE WHEN {flag} = {FLAGS['bounds']} THEN {clamped} ELSE {value} END", (low, high)
    return value, ()


def column_sql(index: int, name: str, source: str, meta: DatasetMeta) -> ColumnSql:
    """Inner and outer SQL of the ``index``-th column read from ``source`` (an expression)."""
    column = meta.columns[name]
    value = _converted(source, column)
    flag, flag_params = _flag(name, source, value, column, meta)
    inner = f"{value} AS _zone_v{index}, {flag} AS _zone_f{index}"
    stored, stored_params = _stored(index, name, column)
    outer = f"{stored} AS {quote(name)}, _zone_f{index} AS {flag_column(index)}"
    if column.domain is not None and column.on_violation == "null":
        outer += f", CASE WHEN _zone_f{index} = {FLAGS['domain']} THEN _zone_v{index} END"
        outer += f" AS {_unlisted_column(index)}"
    return ColumnSql(inner, flag_params, outer, stored_params)


def create_table_sql(
    table: str, sources: Sequence[str], source_sql: str, meta: DatasetMeta
) -> tuple[str, list[Any]]:
    """``CREATE TABLE <table> AS`` the checked values of ``source_sql`` (a FROM item).

    ``sources[i]`` is the expression reading the i-th declared column from the source.
    """
    parts = [column_sql(i, name, sources[i], meta) for i, name in enumerate(meta.columns)]
    inner = ", ".join(p.inner for p in parts)
    outer = ", ".join(p.outer for p in parts)
    params: list[Any] = [x for p in parts for x in p.outer_params]
    params += [x for p in parts for x in p.inner_params]
    sql = f"CREATE TABLE {table} AS SELECT {outer} FROM (SELECT {inner} FROM {source_sql})"
    return sql, params


def helper_columns(meta: DatasetMeta) -> list[str]:
    """The flag and helper columns to drop once the report is counted."""
    helpers = []
    for index, column in enumerate(meta.columns.values()):
        helpers.append(flag_column(index))
        if column.domain is not None and column.on_violation == "null":
            helpers.append(_unlisted_column(index))
    return helpers


def count_report(con: Any, table: str, meta: DatasetMeta, dataset: str, fmt: str) -> QualityReport:
    """Count the quality report from the flag columns of ``table`` (a DuckDB connection)."""
    names = list(meta.columns)
    totals = ", ".join(
        f"count(*) FILTER (WHERE {flag_column(i)} = {FLAGS['null']}), "
        f"count(*) FILTER (WHERE {flag_column(i)} BETWEEN 1 AND 6)"
        for i in range(len(names))
    )
    row = con.execute(f"SELECT count(*), {totals} FROM {table}").fetchone()
    rows = int(row[0])
    columns = []
    refused = []
    for index, name in enumerate(names):
        column = meta.columns[name]
        nulls, violating = int(row[1 + 2 * index]), int(row[2 + 2 * index])
        counts = dict.fromkeys(checked_kinds(name, column, meta), 0)
        if violating:
            counts.update(_kind_counts(con, table, index))
        if name == meta.entity_key:
            counts["duplicate"] = _duplicates(con, table, index, name)
        unlisted = None
        if column.domain is not None:
            unlisted = _unlisted(con, table, index, name, column) if counts["domain"] else 0
        quality = ColumnQuality(name, column.type, column.on_violation, rows, nulls, counts,
                                unlisted)  # fmt: skip
        columns.append(quality)
        refusing = refusing_kinds(name, column, meta)
        if any(counts[kind] for kind in refusing):
            refused.append(name)
    return QualityReport(dataset, fmt, rows, tuple(columns), tuple(refused))


def _kind_counts(con: Any, table: str, index: int) -> dict[str, int]:
    flag = flag_column(index)
    found = con.execute(
        f"SELECT {flag}, count(*) FROM {table} WHERE {flag} BETWEEN 1 AND 6 GROUP BY 1"
    ).fetchall()
    return {_KIND_OF_FLAG[int(code)]: int(count) for code, count in found}


def _duplicates(con: Any, table: str, index: int, name: str) -> int:
    """Rows whose (valid) key another row already has: sum over repeated keys of count - 1."""
    row = con.execute(
        f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {table} "
        f"WHERE {flag_column(index)} = 0 GROUP BY {quote(name)} HAVING count(*) > 1)"
    ).fetchone()
    return int(row[0])


def _unlisted(con: Any, table: str, index: int, name: str, column: ColumnMeta) -> int:
    held = _unlisted_column(index) if column.on_violation == "null" else quote(name)
    row = con.execute(
        f"SELECT count(DISTINCT {held}) FROM {table} WHERE {flag_column(index)} = {FLAGS['domain']}"
    ).fetchone()
    return int(row[0])
