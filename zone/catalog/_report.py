"""Counting the quality report from the table an import wrote (see ``zone.catalog._checks``).

Flagged columns (``null``, ``clamp``) are counted from their flags. Every other column is first
summarised cheaply in one aggregate query over the new table: its NULLs and type failures, and
for each check an aggregate that is zero or within bounds exactly when no stored value fails it
(``min``/``max`` for bounds, ``max(length)`` for length, a count for the others). A column whose
summary is clean has no violation of any kind; only a column that is not gets a second, exact
query that classifies each value by the first check it fails. Clean imports, the common case,
pay for one columnar scan. The entity key's duplicates take one more query: a GROUP BY, which
DuckDB spills to disk when it outgrows memory.
"""

from __future__ import annotations

import math
from typing import Any

from zone.catalog._checks import (
    FLAGS,
    Layout,
    Sql,
    domain_params,
    failure_of,
    flag_column,
    flagged,
    quote,
    unlisted_column,
    value_checks,
)
from zone.catalog.metadata import DatasetMeta
from zone.catalog.quality import ColumnQuality, QualityReport, checked_kinds, refusing_kinds

Counts = dict[str, int]


def _join(parts: list[Sql], glue: str) -> Sql:
    return glue.join(text for text, _ in parts), tuple(p for _, ps in parts for p in ps)


class _Summary:
    """The one aggregate query over all columns: labelled aggregates, then their values."""

    def __init__(self) -> None:
        self.parts: list[Sql] = []
        self.labels: list[tuple[str, str]] = []
        self.values: dict[tuple[str, str], Any] = {}

    def add(self, column: str, label: str, aggregate: str, params: tuple[Any, ...] = ()) -> None:
        self.parts.append((aggregate, params))
        self.labels.append((column, label))

    def run(self, con: Any, table: str) -> int:
        select, params = _join([("count(*)", ()), *self.parts], ", ")
        row = con.execute(f"SELECT {select} FROM {table}", list(params)).fetchone()
        self.values = dict(zip(self.labels, row[1:], strict=True))
        return int(row[0])

    def __getitem__(self, key: tuple[str, str]) -> Any:
        return self.values[key]


def _domain_covers(name: str, meta: DatasetMeta) -> bool:
    """Whether every declared domain value passes the string checks (control, length).

    Then a column with no value outside its domain has no control or length violation
    either, and the summary needs only the domain count (no regular expression per value).
    """
    column = meta.columns[name]
    if column.type != "string" or column.domain is None or name == meta.entity_key:
        return False
    limit = meta.max_length(name)
    controls = {chr(c) for c in range(0x20) if c not in (9, 10, 13)} | {
        chr(c) for c in range(0x7F, 0xA0)
    }
    return all(len(str(v)) <= limit and not controls & set(str(v)) for v in column.domain)


def _summarise(summary: _Summary, index: int, name: str, meta: DatasetMeta, layout: Layout) -> None:
    value, typed = quote(name), failure_of(index, name, meta, layout)
    summary.add(name, "stored", f"count({value})")  # the clean column's NULLs are rows - stored
    if name in layout.finite_floats:  # a non-finite float shows in min or max (NaN sorts last)
        summary.add(name, "min", f"min({value})")
        summary.add(name, "max", f"max({value})")
    elif typed != "false":
        summary.add(name, "type", f"count(*) FILTER (WHERE {typed})")
    covered = _domain_covers(name, meta)
    checks = value_checks(name, value, meta, layout.check_controls, layout.check_breaks)
    for kind, (condition, params) in checks:
        if kind == "domain" or (covered and kind in ("control", "length")):
            continue  # the domain is checked by listing the column's distinct values
        if kind == "bounds" and name not in layout.finite_floats:  # min and max added above
            summary.add(name, "min", f"min({value})")
            summary.add(name, "max", f"max({value})")
        elif kind == "length":  # bytes >= characters: within the limit in bytes is within it
            summary.add(name, "longest", f"max(strlen({value}))")
        elif kind == "missing":  # blank keys are empty or start with a space (no trim per row)
            summary.add(name, kind, f"count(*) FILTER (WHERE {value} = '' OR {value} ^@ ' ')")
        else:
            summary.add(name, kind, f"count(*) FILTER (WHERE {condition})", params)


def _within_domain(con: Any, table: str, name: str, meta: DatasetMeta) -> bool:
    """Whether every stored value of ``name`` is in its declared domain.

    Lists the column's distinct values, stopping after one more than the domain has (a GROUP
    BY over a low-cardinality column is far cheaper than testing each row against the list).
    """
    domain = set(domain_params(meta.columns[name]))
    found = con.execute(
        f"SELECT {quote(name)} FROM {table} WHERE {quote(name)} IS NOT NULL "
        f"GROUP BY ALL LIMIT {len(domain) + 1}"
    ).fetchall()
    return all(value in domain for (value,) in found)


def _clean(summary: _Summary, name: str, meta: DatasetMeta, domain_ok: bool) -> bool:
    """Whether the summary shows that no stored value of ``name`` fails any check."""
    column = meta.columns[name]
    if summary.values.get((name, "type")) or not domain_ok:
        return False
    if (name, "min") in summary.values:
        low, high = summary[(name, "min")], summary[(name, "max")]
        if low is not None and not (math.isfinite(low) and math.isfinite(high)):
            return False  # non-finite floats parsed by the reader (type violations)
    for kind in checked_kinds(name, column, meta):
        if kind == "bounds" and column.bounds is not None:
            low, high = summary[(name, "min")], summary[(name, "max")]
            if low is not None and (low < column.bounds[0] or high > column.bounds[1]):
                return False
        elif kind == "length":
            longest = summary.values.get((name, "longest"))
            if longest is not None and longest > meta.max_length(name):
                return False
        elif (name, kind) in summary.values and summary[(name, kind)]:
            return False
    return True


def _exact(
    con: Any, table: str, index: int, name: str, meta: DatasetMeta, layout: Layout
) -> Counts:
    """Each value classified by the first check it fails (a column that is not clean)."""
    value, typed = quote(name), failure_of(index, name, meta, layout)
    whens: list[Sql] = [(f"WHEN {value} IS NULL AND NOT {typed} THEN 'null'", ()),
                        (f"WHEN {typed} THEN 'type'", ())]  # fmt: skip
    for kind, (condition, params) in value_checks(name, value, meta, layout.check_controls):
        whens.append((f"WHEN {condition} THEN '{kind}'", params))
    case, params = _join(whens, " ")
    found = con.execute(
        f"SELECT kind, count(*), count(DISTINCT {value}) FROM (SELECT {value}, CASE {case} "
        f"ELSE 'ok' END AS kind FROM {table}) GROUP BY kind",
        list(params),
    ).fetchall()
    counts = {str(kind): int(n) for kind, n, _ in found}
    counts["unlisted"] = next((int(d) for kind, _, d in found if kind == "domain"), 0)
    return counts


def _flag_counts(con: Any, table: str, index: int, name: str, meta: DatasetMeta) -> Counts:
    flag, column = flag_column(index), meta.columns[name]
    held = unlisted_column(index) if column.on_violation == "null" else quote(name)
    found = con.execute(
        f"SELECT {flag}, count(*), count(DISTINCT {held if column.domain else flag}) "
        f"FROM {table} GROUP BY 1"
    ).fetchall()
    kinds = {code: kind for kind, code in FLAGS.items()}
    counts = {kinds[int(code)]: int(n) for code, n, _ in found}
    counts["unlisted"] = next(
        (int(d) for code, _, d in found if int(code) == FLAGS["domain"] and column.domain), 0
    )
    return counts


def _duplicates(con: Any, table: str, meta: DatasetMeta, layout: Layout, clean: bool) -> int:
    """Rows whose (valid) key another row already has: sum over repeated keys of count - 1.

    The keys' 64-bit hashes are counted first, which is cheaper than grouping the text: equal
    keys have equal hashes, so when there are as many distinct hashes as keys no key repeats.
    Only a repeated hash (a duplicate, or rarely a collision) costs the exact count over the
    keys themselves. (``count(DISTINCT ...)`` takes half the CPU of a ``GROUP BY ... HAVING``
    over the same hashes and, at 50M keys, does not spill to disk under a 512 MB limit.)
    """
    key = quote(meta.entity_key)
    index = list(meta.columns).index(meta.entity_key)
    parts: list[Sql] = [(f"{key} IS NOT NULL", ())]
    if not clean:
        parts.append((f"NOT {failure_of(index, meta.entity_key, meta, layout)}", ()))
        for _, (condition, params) in value_checks(
            meta.entity_key, key, meta, layout.check_controls
        ):
            parts.append((f"NOT {condition}", params))
    condition, params = _join(parts, " AND ")
    repeated = con.execute(
        f"SELECT count(*) - count(DISTINCT hash({key})) FROM {table} WHERE {condition}",
        list(params),
    ).fetchone()
    if not int(repeated[0]):
        return 0
    row = con.execute(
        f"SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM {table} WHERE "
        f"{condition} GROUP BY {key} HAVING count(*) > 1)",
        list(params),
    ).fetchone()
    return int(row[0])


def count_report(
    con: Any, table: str, meta: DatasetMeta, dataset: str, fmt: str, layout: Layout
) -> QualityReport:
    """The quality report of the import that wrote ``table`` (a DuckDB connection)."""
    summary = _Summary()
    names = list(meta.columns)
    for index, name in enumerate(names):
        if not flagged(name, meta):
            _summarise(summary, index, name, meta, layout)
    rows = summary.run(con, table)
    columns, refused = [], []
    for index, name in enumerate(names):
        column = meta.columns[name]
        if flagged(name, meta):
            counts = _flag_counts(con, table, index, name, meta)
        elif _clean(
            summary, name, meta, column.domain is None or _within_domain(con, table, name, meta)
        ):
            counts = {"null": rows - int(summary[(name, "stored")])}
        else:
            counts = _exact(con, table, index, name, meta, layout)
        violations = {kind: counts.get(kind, 0) for kind in checked_kinds(name, column, meta)}
        nulls = counts.get("null", 0)
        if name == meta.entity_key:  # a NULL key is missing; so is a blank one
            violations["missing"] += nulls
            nulls = 0
            clean = sum(violations.values()) == 0
            violations["duplicate"] = _duplicates(con, table, meta, layout, clean)
        unlisted = counts.get("unlisted", 0) if column.domain is not None else None
        columns.append(ColumnQuality(name, column.type, column.on_violation, rows, nulls,
                                     violations, unlisted))  # fmt: skip
        if any(violations[kind] for kind in refusing_kinds(name, column, meta)):
            refused.append(name)
    return QualityReport(dataset, fmt, rows, tuple(columns), tuple(refused))
