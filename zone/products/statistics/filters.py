"""Filters: validation against the column types, and SQL with bound parameters.

Filter values never become SQL text: each is a ``?`` parameter. Column names are quoted only
after :func:`zone.products.statistics.columns.column_problem` accepted them.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Sequence

from zone.catalog.metadata import ColumnMeta, DatasetMeta
from zone.catalog.product_models import StatisticsProduct
from zone.products.statistics.columns import column_problem, quote
from zone.products.statistics.query import (
    FILTER_OPS,
    MAX_IN_VALUES,
    MAX_STRING_VALUE,
    Filter,
    FilterValue,
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT64 = 2**63
_RANGE_TYPES = frozenset({"integer", "float", "date"})
_TYPE_WORDS = {
    "integer": "an integer",
    "float": "a finite number",
    "string": f"a string of at most {MAX_STRING_VALUE} characters",
    "boolean": "true or false",
    "date": "a YYYY-MM-DD string",
}


def filter_problems(
    index: int, flt: Filter, product: StatisticsProduct, meta: DatasetMeta
) -> list[str]:
    """Every problem with ``flt`` (the ``index``-th filter), as messages prefixed by its place."""
    where = f"filters[{index}]"
    problem = column_problem(flt.column, product, meta)
    if problem is not None:
        return [f"{where}: {problem}"]
    column = meta.columns[flt.column]
    if flt.op not in FILTER_OPS:
        return [f"{where}: op must be one of {', '.join(FILTER_OPS)}"]
    problems = [f"{where}: {p}" for p in _arity_problems(flt, column)]
    for i, value in enumerate(flt.values):
        if value is None and flt.op == "range":
            continue
        if not _value_ok(column, value):
            problems.append(f"{where}.values[{i}]: must be {_TYPE_WORDS[column.type]}")
    if not problems and flt.op == "range" and _inverted(*flt.values):
        problems.append(f"{where}: range low must not exceed high")
    if not problems and flt.op in ("eq", "in") and column.domain is not None:
        problems += [
            f"{where}.values[{i}]: not in the declared domain of {flt.column!r}"
            for i, value in enumerate(flt.values)
            if not _in_domain(column, value)
        ]
    return problems


def _in_domain(column: ColumnMeta, value: FilterValue) -> bool:
    """Whether a valid value is one of the column's declared domain values.

    A value outside the domain can match no row that the statistics read (imports refuse or
    null such values), so the query is refused before anything is charged.
    """
    if column.type == "date":
        return datetime.date.fromisoformat(str(value)) in {
            datetime.date.fromisoformat(str(v)) for v in column.domain or ()
        }
    return value in (column.domain or ())


def _inverted(low: FilterValue, high: FilterValue) -> bool:
    """Whether a valid range has low > high (ISO dates compare correctly as strings)."""
    if isinstance(low, int | float) and isinstance(high, int | float):
        return low > high
    if isinstance(low, str) and isinstance(high, str):
        return low > high
    return False


def _arity_problems(flt: Filter, column: ColumnMeta) -> list[str]:
    count = len(flt.values)
    if flt.op == "eq" and count != 1:
        return ["eq takes exactly one value"]
    if flt.op == "in" and not 1 <= count <= MAX_IN_VALUES:
        return [f"in takes 1 to {MAX_IN_VALUES} values"]
    if flt.op == "range":
        if column.type not in _RANGE_TYPES:
            return ["range applies only to integer, float and date columns"]
        if count != 2:
            return ["range takes exactly two values (low, high); None leaves an end open"]
        if flt.values == (None, None):
            return ["range needs at least one bound"]
    return []


def _value_ok(column: ColumnMeta, value: object) -> bool:
    kind = column.type
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) and -_INT64 <= value < _INT64
    if kind == "float":
        return isinstance(value, int | float) and math.isfinite(value)
    if not isinstance(value, str):
        return False
    if kind == "string":
        return len(value) <= MAX_STRING_VALUE
    if _ISO_DATE.fullmatch(value) is None:
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _param(column: ColumnMeta, value: FilterValue) -> object:
    """The bound parameter for a valid value: dates as ``datetime.date``, floats as float."""
    if value is None:
        return None
    if column.type == "date":
        return datetime.date.fromisoformat(str(value))
    if column.type == "float":
        return float(value)
    return value


def filter_sql(filters: Sequence[Filter], meta: DatasetMeta) -> tuple[str, tuple[object, ...]]:
    """The WHERE condition (``TRUE`` without filters) and its parameters, for valid filters."""
    conditions: list[str] = []
    params: list[object] = []
    for flt in filters:
        column = meta.columns[flt.column]
        name = quote(flt.column)
        values = [_param(column, v) for v in flt.values]
        if flt.op == "eq":
            conditions.append(f"{name} = ?")
        elif flt.op == "in":
            conditions.append(f"{name} IN ({', '.join('?' for _ in values)})")
        else:
            bounds = [(op, v) for op, v in zip((">=", "<="), values, strict=True) if v is not None]
            conditions.extend(f"{name} {op} ?" for op, _ in bounds)
            values = [v for _, v in bounds]
        params.extend(values)
    return (" AND ".join(conditions) or "TRUE"), tuple(params)
