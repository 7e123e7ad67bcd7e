"""SQL that checks every value against the metadata while the import writes the table.

One ``CREATE TABLE ... AS SELECT`` reads the source once (DuckDB streams it, so memory does not
grow with the row count) and writes each column's converted value, plus what the report needs
that the stored value no longer shows:

- a column whose violations refuse the import (``refuse``, and the entity key) is stored as
  converted, with a boolean *type* column when a value can fail its type (a failed conversion
  stores NULL, or a rounded or infinite number); every other check is counted afterwards from
  the stored values (``zone.catalog._report``), which is cheaper than deciding it per row;
- a column under ``null`` or ``clamp`` is stored after its policy, with a one-byte *flag* per
  row saying what the source value was (:data:`FLAGS`), since the policy rewrites the value.

The helper columns are dropped before the version is committed. ``zone.catalog.quality``
states the checks and their order. Identifiers are quoted only after validation; every constant
(domain values, bounds) is a bound parameter, never SQL text.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zone.catalog._fields import is_column_name
from zone.catalog.metadata import ColumnMeta, DatasetMeta

Sql = tuple[str, tuple[Any, ...]]
SQL_TYPES = {
    "integer": "BIGINT",
    "float": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "DATE",
}
FLAGS = {"ok": 0, "type": 1, "control": 2, "length": 3, "domain": 4, "bounds": 5, "missing": 6,
         "null": 7}  # fmt: skip
# C0 controls except tab, LF and CR; DEL; C1 controls. Keys refuse tab, LF and CR as well.
_CONTROL = "[\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]"
_KEY_CONTROL = "[\\x00-\\x1F\\x7F-\\x9F]"


def quote(identifier: str) -> str:
    """Double-quote a column name that was validated against the name pattern."""
    if not is_column_name(identifier):
        raise ValueError("identifier was not validated")
    return f'"{identifier}"'


def flag_column(index: int) -> str:
    """The per-row flag of the ``index``-th column (``null`` and ``clamp`` policies)."""
    return f'"_zone_f{index}"'


def type_column(index: int) -> str:
    """The per-row type failure of the ``index``-th column (columns that refuse)."""
    return f'"_zone_t{index}"'


def unlisted_column(index: int) -> str:
    """The unlisted value of a ``null``-policy domain column (the stored value is NULL)."""
    return f'"_zone_u{index}"'


@dataclass(frozen=True)
class Layout:
    """How one import writes its table, which the report must know to read it back.

    ``check_controls``: look for control characters in every string (False when a byte scan
    of a CSV file found none; the key's tab, LF and CR are checked either way).
    ``finite_floats``: float columns that DuckDB's reader parsed as DOUBLE; their stored value
    is the parsed number, so a type failure is exactly a non-finite one (no helper column).
    ``check_breaks``: look for tab, LF and CR in the key (False when a CSV file has no tab, CR
    or quote byte, so no value can hold one).
    ``exact_integers``: integer columns that DuckDB's reader parsed as DOUBLE and that refuse
    any violation; a value that is not an exact integer stops the write with
    :data:`NOT_AN_INTEGER` (the import is then redone with every column read as text, which
    counts it), so every stored value is exact (no helper column).
    """

    check_controls: bool = True
    finite_floats: frozenset[str] = frozenset()
    check_breaks: bool = True
    exact_integers: frozenset[str] = frozenset()


NOT_AN_INTEGER = "zone-import: a value is not an exact integer"
"""The error that stops a write at a value of an ``exact_integers`` column that is not one."""


def failure_of(index: int, name: str, meta: DatasetMeta, layout: Layout) -> str:
    """Condition on the stored table, never NULL, that the column's value failed its type."""
    if name in layout.finite_floats:
        return f"(NOT coalesce(isfinite({quote(name)}), true))"
    if name in layout.exact_integers or type_failure("x", "x", meta.columns[name]) is None:
        return "false"
    return type_column(index)


def flagged(name: str, meta: DatasetMeta) -> bool:
    """Whether the column is stored after a rewriting policy (``null`` or ``clamp``)."""
    return name != meta.entity_key and meta.columns[name].on_violation != "refuse"


def converted(source: str, column: ColumnMeta) -> str:
    """The source value converted to the declared type (NULL when it does not convert)."""
    if column.type == "string":
        return f"CAST({source} AS VARCHAR)"
    return f"TRY_CAST({source} AS {SQL_TYPES[column.type]})"


def type_failure(source: str, value: str, column: ColumnMeta) -> str | None:
    """Condition, for a non-NULL source, that it is not exactly of the declared type."""
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


def domain_params(column: ColumnMeta) -> tuple[Any, ...]:
    """The declared domain as the values DuckDB stores (dates as ``datetime.date``)."""
    values = column.domain or ()
    if column.type == "date":
        return tuple(datetime.date.fromisoformat(str(v)) for v in values)
    return tuple(values)


def value_checks(
    name: str, value: str, meta: DatasetMeta, check_controls: bool, check_breaks: bool = True
) -> list[tuple[str, Sql]]:
    """(kind, condition) of every check after ``type``, in order, on a non-NULL ``value``.

    ``check_controls`` False: a byte scan found no control character in the source file, so
    only the key's tab, LF and CR (invisible to that scan) are checked, and those only with
    ``check_breaks``.
    """
    column, is_key = meta.columns[name], name == meta.entity_key
    checks: list[tuple[str, Sql]] = []
    if column.type == "string":
        if check_controls:
            pattern = _KEY_CONTROL if is_key else _CONTROL
            checks.append(("control", (f"regexp_matches({value}, '{pattern}')", ())))
        elif is_key and check_breaks:
            tests = " OR ".join(f"contains({value}, chr({c}))" for c in (9, 10, 13))
            checks.append(("control", (f"({tests})", ())))
        checks.append(("length", (f"length({value}) > {int(meta.max_length(name))}", ())))
        if is_key:
            # blank: empty or spaces only (trim only where the first character is a space)
            blank = f"({value} = '' OR (starts_with({value}, ' ') AND trim({value}) = ''))"
            checks.append(("missing", (blank, ())))
    if column.domain is not None:
        domain = domain_params(column)
        checks.append(("domain", (f"{value} NOT IN ({', '.join('?' for _ in domain)})", domain)))
    if column.bounds is not None:
        low, high = float(column.bounds[0]), float(column.bounds[1])
        checks.append(("bounds", (f"({value} < ? OR {value} > ?)", (low, high))))
    return checks


def _flag(name: str, source: str, value: str, meta: DatasetMeta, check_controls: bool) -> Sql:
    """``CASE`` giving the value's flag; the first failing check wins."""
    column = meta.columns[name]
    whens = [f"WHEN {source} IS NULL THEN {FLAGS['null']}"]
    failure = type_failure(source, value, column)
    if failure is not None:
        whens.append(f"WHEN {failure} THEN {FLAGS['type']}")
    params: list[Any] = []
    for kind, (condition, condition_params) in value_checks(name, value, meta, check_controls):
        whens.append(f"WHEN {condition} THEN {FLAGS[kind]}")
        params += condition_params
    return f"CAST(CASE {' '.join(whens)} ELSE 0 END AS UTINYINT)", tuple(params)


def _stored(index: int, column: ColumnMeta) -> Sql:
    """The stored value of a flagged column after its policy."""
    value, flag = f"_zone_v{index}", f"_zone_f{index}"
    if column.on_violation == "clamp" and column.bounds is not None:
        low, high = column.bounds
        if column.type == "integer":
            low, high = math.ceil(low), math.floor(high)
        target = SQL_TYPES[column.type]
        clamped = f"CAST(least(greatest({value}, ?), ?) AS {target})"
        return f"CASE WHEN {flag} = {FLAGS['bounds']} THEN {clamped} ELSE {value} END", (low, high)
    return f"CASE WHEN {flag} BETWEEN 1 AND 5 THEN NULL ELSE {value} END", ()


def column_sql(
    index: int, name: str, source: str, meta: DatasetMeta, layout: Layout
) -> tuple[Sql, Sql]:
    """(inner, outer) SQL of the ``index``-th column read from ``source`` (an expression)."""
    column = meta.columns[name]
    value = converted(source, column)
    if name in layout.exact_integers:  # a DOUBLE from the reader, integral and in BIGINT range
        value = (f"CASE WHEN {source} = trunc({source}) AND abs({source}) < 9.2e18 "
                 f"THEN CAST({source} AS BIGINT) WHEN {source} IS NOT NULL "
                 f"THEN error('{NOT_AN_INTEGER}') END")  # fmt: skip
    inner, inner_params = f"{value} AS _zone_v{index}", ()
    if not flagged(name, meta):
        failure = type_failure(source, value, column)
        outer = f"_zone_v{index} AS {quote(name)}"
        if failure_of(index, name, meta, layout) == type_column(index):
            inner += f", ({source} IS NOT NULL AND ({failure})) AS _zone_t{index}"
            outer += f", _zone_t{index} AS {type_column(index)}"
        return (inner, inner_params), (outer, ())
    flag, flag_params = _flag(name, source, value, meta, layout.check_controls)
    inner += f", {flag} AS _zone_f{index}"
    stored, stored_params = _stored(index, column)
    outer = f"{stored} AS {quote(name)}, _zone_f{index} AS {flag_column(index)}"
    if column.domain is not None and column.on_violation == "null":
        outer += f", CASE WHEN _zone_f{index} = {FLAGS['domain']} THEN _zone_v{index} END"
        outer += f" AS {unlisted_column(index)}"
    return (inner, flag_params), (outer, stored_params)


def checked_select_sql(
    sources: Sequence[str],
    source_sql: str,
    meta: DatasetMeta,
    layout: Layout,
) -> tuple[str, list[Any]]:
    """The ``SELECT`` of the checked values of ``source_sql`` (a FROM item).

    ``sources[i]`` reads the i-th declared column from the source; the parameters returned
    precede those of ``source_sql``.
    """
    parts = [column_sql(i, name, sources[i], meta, layout) for i, name in enumerate(meta.columns)]
    inner = ", ".join(text for (text, _), _ in parts)
    outer = ", ".join(text for _, (text, _) in parts)
    params: list[Any] = [x for _, (_, ps) in parts for x in ps]
    params += [x for (_, ps), _ in parts for x in ps]
    return f"SELECT {outer} FROM (SELECT {inner} FROM {source_sql})", params


def helper_columns(meta: DatasetMeta, layout: Layout) -> list[str]:
    """The helper columns to drop once the report is counted."""
    helpers = []
    for index, (name, column) in enumerate(meta.columns.items()):
        if flagged(name, meta):
            helpers.append(flag_column(index))
            if column.domain is not None and column.on_violation == "null":
                helpers.append(unlisted_column(index))
        elif failure_of(index, name, meta, layout) == type_column(index):
            helpers.append(type_column(index))
    return helpers
