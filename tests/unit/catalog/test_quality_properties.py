"""Property: for random small tables and random metadata, the quality report's counts (and the
values stored under each policy) equal a reference count written independently in Python."""

from __future__ import annotations

import datetime
import math
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from zone.catalog import DatasetCatalog, DatasetMeta, ImportRefused, import_dataset
from zone.catalog.quality import checked_kinds, refusing_kinds

CONTROL = {chr(c) for c in range(0x20) if c not in (9, 10, 13)} | {chr(0x7F), chr(0x85)}
KEY_CONTROL = CONTROL | {"\t", "\n", "\r"}

# Cells per type: (text written to the CSV, the value it converts to, or a marker)
TYPE_ERROR = object()
CELLS: dict[str, list[tuple[str, Any]]] = {
    "integer": [(str(v), v) for v in (-3, 0, 1, 2, 5, 7, 12)] + [("1.5", TYPE_ERROR),
               ("abc", TYPE_ERROR), ("inf", TYPE_ERROR), ("1e300", TYPE_ERROR), ("", None)],
    "float": [(t, float(t)) for t in ("-1.5", "0", "0.25", "3", "9.75")] + [("inf", TYPE_ERROR),
             ("nan", TYPE_ERROR), ("x1", TYPE_ERROR), ("", None)],
    "boolean": [("true", True), ("false", False), ("maybe", TYPE_ERROR), ("", None)],
    "date": [(f"2020-01-0{d}", datetime.date(2020, 1, d)) for d in (1, 2, 3)]
    + [("2020-02-30", TYPE_ERROR), ("2020-01-01 10:00", TYPE_ERROR), ("", None)],
    "string": [(t, t) for t in ("a", "b", "c", "ab", "abcdef", "a\x00b", "x\ty", "p\nq", "  ",
                                "c\x85", "é")] + [("", None)],
}  # fmt: skip
KEYS = ["k1", "k2", "k3", "k4", "k\x01", "k\t", "   ", "kkkkkkkkkk", ""]


@dataclass(frozen=True)
class Case:
    meta: DatasetMeta
    rows: list[list[str]]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    types = draw(st.lists(st.sampled_from(sorted(CELLS)), min_size=1, max_size=4))
    columns: dict[str, Any] = {"key": {"type": "string", "level": "L3", "max_length": 8}}
    for i, kind in enumerate(types):
        spec: dict[str, Any] = {"type": kind, "level": "L1"}
        valid = [v for _, v in CELLS[kind] if v is not None and v is not TYPE_ERROR]
        if kind in ("integer", "string", "date") and draw(st.booleans()):
            picked = draw(st.lists(st.sampled_from(valid), min_size=1, unique=True))
            spec["domain"] = [str(v) if kind == "date" else v for v in picked]
        if kind in ("integer", "float") and draw(st.booleans()):
            low = draw(st.sampled_from([-2.0, 0.0, 0.5]))
            spec["bounds"] = [low, low + draw(st.sampled_from([1.0, 4.5, 8.0]))]
        if kind == "string" and draw(st.booleans()):
            spec["max_length"] = draw(st.integers(1, 4))
        policies = ["refuse", "null"] + (["clamp"] if "bounds" in spec else [])
        spec["on_violation"] = draw(st.sampled_from(policies))
        columns[f"c{i}"] = spec
    meta = DatasetMeta.model_validate({"description": "d", "provider": "p", "entity_key": "key",
                                       "columns": columns})  # fmt: skip
    n = draw(st.integers(0, 12))
    rows = [
        [draw(st.sampled_from(KEYS))] + [draw(st.sampled_from(CELLS[kind]))[0] for kind in types]
        for _ in range(n)
    ]
    return Case(meta, rows)


def field(text: str) -> str:
    if text and any(c in text for c in ',"\n\r') or text.strip(" ") == "" and text:
        return '"' + text.replace('"', '""') + '"'
    return text


def convert(kind: str, text: str) -> Any:
    return next(v for t, v in CELLS[kind] if t == text)


def classify(name: str, text: str, meta: DatasetMeta) -> tuple[str, Any]:
    """(kind, converted value): the reference for one cell, checks in the documented order."""
    column = meta.columns[name]
    is_key = name == meta.entity_key
    if text == "":
        return ("missing" if is_key else "null"), None
    value = text if column.type == "string" else convert(column.type, text)
    if value is TYPE_ERROR:
        return "type", None
    if column.type == "string":
        if set(value) & (KEY_CONTROL if is_key else CONTROL):
            return "control", value
        if len(value) > meta.max_length(name):
            return "length", value
        if is_key and value.strip(" ") == "":
            return "missing", value
    domain = column.domain
    if domain is not None:
        listed = {datetime.date.fromisoformat(str(d)) if column.type == "date" else d
                  for d in domain}  # fmt: skip
        if value not in listed:
            return "domain", value
    if column.bounds is not None and not column.bounds[0] <= value <= column.bounds[1]:
        return "bounds", value
    return "ok", value


def stored(name: str, kind: str, value: Any, meta: DatasetMeta) -> Any:
    column = meta.columns[name]
    if kind in ("ok", "null"):
        return value
    if column.on_violation == "null":
        return None
    assert column.on_violation == "clamp" and kind == "bounds" and column.bounds is not None
    low, high = column.bounds
    if column.type == "integer":
        low, high = math.ceil(low), math.floor(high)
    return min(max(value, low), high)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_report_counts_equal_a_reference_count(case: Case) -> None:
    meta, names = case.meta, list(case.meta.columns)
    cells = [[classify(n, row[i], meta) for i, n in enumerate(names)] for row in case.rows]
    expected_refused = []
    for i, name in enumerate(names):
        column = meta.columns[name]
        counts = Counter(kind for kind, _ in (row[i] for row in cells))
        if name == meta.entity_key:
            valid = Counter(row[i][1] for row in cells if row[i][0] == "ok")
            counts["duplicate"] = sum(n - 1 for n in valid.values())
        if any(counts[k] for k in refusing_kinds(name, column, meta)):
            expected_refused.append(name)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "t.csv"
        text = ",".join(names) + "\n" + "".join(",".join(field(c) for c in r) + "\n"
                                                for r in case.rows)  # fmt: skip
        source.write_text(text, encoding="utf-8")
        try:
            result = import_dataset(Path(tmp) / "store", source, "t", meta, allow_empty=True)
            report = result.report
        except ImportRefused as refused:
            report = refused.report
        event("accepted" if report.accepted else "refused")
        assert report.rows == len(case.rows)
        assert list(report.refused_columns) == expected_refused
        for i, name in enumerate(names):
            column, got = meta.columns[name], report.column(name)
            kinds = Counter(row[i][0] for row in cells)
            expected = {k: kinds[k] for k in checked_kinds(name, column, meta)}
            if name == meta.entity_key:
                valid = Counter(row[i][1] for row in cells if row[i][0] == "ok")
                expected["duplicate"] = sum(n - 1 for n in valid.values())
            assert dict(got.violations) == expected, name
            assert got.nulls == kinds["null"]
            if column.domain is not None:
                unlisted = {row[i][1] for row in cells if row[i][0] == "domain"}
                assert got.unlisted_values == len(unlisted)
        if report.accepted:
            with DatasetCatalog.open(Path(tmp) / "store") as catalog:
                got_rows = (
                    catalog.cursor()
                    .execute(f"SELECT {', '.join(names)} FROM ds_t ORDER BY key")
                    .fetchall()
                )
            want = sorted(
                tuple(stored(n, *row[i], meta) for i, n in enumerate(names)) for row in cells
            )
            assert got_rows == want
