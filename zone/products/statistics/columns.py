"""Column facts used by planning: access checks, quoting, public key labels and sum units.

Everything here is derived from public metadata (types, bounds, domains, granularity), never
from the data.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable

from zone.catalog._fields import is_column_name
from zone.catalog.metadata import ColumnMeta, DatasetMeta
from zone.catalog.product_models import StatisticsProduct

# Integer units per value are kept exactly representable as doubles (DuckDB rounds in DOUBLE).
MAX_UNITS = 2**52


def quote(name: str) -> str:
    """The double-quoted identifier of a column of the table aliased ``t``.

    Only names that passed :func:`column_problem` reach this function; the metadata schema
    restricts them to ``[A-Za-z_][A-Za-z0-9_]{0,62}``, so no quote can occur inside.
    """
    if not is_column_name(name):
        raise ValueError("invalid column name")
    return f't."{name}"'


def column_problem(name: object, product: StatisticsProduct, meta: DatasetMeta) -> str | None:
    """Why ``name`` cannot be read by a query of ``product`` (None when it can)."""
    if not isinstance(name, str) or not is_column_name(name):
        return f"{_shown(name)} is not a valid column name"
    column = meta.columns.get(name)
    if column is not None and column.level == "L4":
        return f"column {name!r} is classified L4 and can never be queried"
    if column is None or name not in product.columns:
        return f"column {name!r} is not offered by product {product.id!r}"
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 70 else text[:67] + "..."


def key_label(value: str | int | bool) -> str:
    """The public label of a domain value: what ``CAST(column AS VARCHAR)`` gives in DuckDB."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def domain_labels(column: ColumnMeta) -> tuple[str, ...] | None:
    """Labels of the column's public domain in declared order (None without a domain)."""
    domain = column.public_domain
    if domain is None:
        return None
    if column.type == "date":
        return tuple(datetime.date.fromisoformat(str(v)).isoformat() for v in domain)
    return tuple(key_label(v) for v in domain)


def key_sql(name: str, column: ColumnMeta) -> str:
    """SQL text of the column as a key label (VARCHAR), matching :func:`domain_labels`."""
    if column.type == "string":
        return quote(name)
    return f"CAST({quote(name)} AS VARCHAR)"


def group_sql(name: str, column: ColumnMeta) -> str:
    """SQL of the column as a grouping value whose ``CAST(... AS VARCHAR)`` is its key label.

    The column itself where distinct values have distinct labels (string, integer, date,
    boolean), so groups form on raw values and are labelled after aggregation; a float key
    (DP-selected keys only: floats have no domain) is grouped by its label, since 0.0 and
    -0.0 group together but are labelled apart.
    """
    return key_sql(name, column) if column.type == "float" else quote(name)


def granularity(column: ColumnMeta) -> float:
    """The public unit of sums: declared, else 1 (integers) or 10**floor(log10(width / 1e6))."""
    if column.granularity is not None:
        return column.granularity
    if column.type == "integer":
        return 1.0
    low, high = _bounds(column)
    return float(10.0 ** math.floor(math.log10((high - low) / 1e6)))


def integer_bounds(column: ColumnMeta) -> tuple[int, int]:
    """The public bounds in integer units of the granularity: (ceil(low/g), floor(high/g))."""
    low, high = _bounds(column)
    g = granularity(column)
    return _snap(low / g, math.ceil), _snap(high / g, math.floor)


def _snap(ratio: float, direction: Callable[[float], int]) -> int:
    """An integer ratio spoilt by float division (0.7 / 0.1) snaps to it, else ceil/floor."""
    nearest = round(ratio)
    if abs(ratio - nearest) <= 1e-9 * max(1.0, abs(ratio)):
        return int(nearest)
    return direction(ratio)


def units_problem(name: str, column: ColumnMeta) -> str | None:
    """Why sums of ``name`` cannot be computed in integer units (None when they can)."""
    lo_units, hi_units = integer_bounds(column)
    if lo_units > hi_units:
        return f"the bounds of column {name!r} contain no multiple of its granularity"
    if max(abs(lo_units), abs(hi_units)) > MAX_UNITS:
        return f"the granularity of column {name!r} is too fine for its bounds"
    return None


def _bounds(column: ColumnMeta) -> tuple[float, float]:
    if column.bounds is None:
        raise ValueError("the column has no public bounds")
    return column.bounds
