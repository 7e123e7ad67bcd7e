"""Reading a leaked artifact: its numbers, each with a label (if any) and the precision it shows.

A leaked file may have been rounded, reformatted or had its columns shuffled. Each number keeps
the *quantum* its text shows (the place of its last non-zero digit: ``0.123`` -> 0.001,
``1.2e+06`` -> 100000, ``12300`` -> 100): whatever rounding produced the text, the original
value lies within half a quantum of it, so a release is compatible with a leaked number when its
value does. Labels (feature names, ``measure|group|index`` cells) are kept where the file has
them; they move with their values when columns are shuffled.

Formats read: JSON (a training result or weights object with ``weights`` and ``features``, a
statistics release with ``measures``, any object of named numbers, or plain lists), CSV of
weights (a header of names over one row of numbers, or two columns name/number), CSV of
statistics as ``zone stats query --csv`` writes it (``measure``, ``group``, ``values`` in any
column order), and CSV without a header (numbers only, unlabelled). A JSON object that repeats
a key is refused (readers disagree on which value counts); since any object of named numbers
is read, there are no undefined fields to refuse.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zone.errors import InvalidArgument
from zone.wire.jsontext import MalformedEvidence, load_strict

MAX_VALUES = 1_000_000


@dataclass(frozen=True)
class Number:
    """A leaked number and its quantum (see the module docstring)."""

    value: float
    quantum: float


@dataclass
class LeakedValues:
    """The numbers of a leaked artifact: labelled where the file names them, and all of them."""

    labelled: dict[str, Number] = field(default_factory=dict)
    values: list[Number] = field(default_factory=list)

    def add(self, label: str | None, number: Number) -> None:
        """Add one number (labelled if ``label``; duplicate labels keep the first)."""
        if len(self.values) >= MAX_VALUES:
            raise InvalidArgument(f"the artifact holds more than {MAX_VALUES} numbers")
        self.values.append(number)
        if label is not None:
            self.labelled.setdefault(label, number)


def quantum_of(text: str) -> float:
    """The place value of the last non-zero digit of a decimal number's text (1 for zero).

    Raises:
        ValueError: ``text`` is not a decimal number.
    """
    s = text.strip().lower().lstrip("+-")
    mantissa, _, exponent = s.partition("e")
    int_part, _, frac = mantissa.partition(".")
    if not (int_part + frac).isdigit():
        raise ValueError(f"not a decimal number: {text!r}")
    shift = int(exponent) if exponent else 0
    frac = frac.rstrip("0")
    if frac:
        return float(10.0 ** (shift - len(frac)))
    digits = int_part.lstrip("0")
    significant = digits.rstrip("0")
    return float(10.0 ** (shift + (len(digits) - len(significant) if significant else 0)))


def number(text: str) -> Number | None:
    """A finite decimal number from its text, or None if the text is not one."""
    try:
        value = float(text)
        return Number(value, quantum_of(text)) if math.isfinite(value) else None
    except ValueError:
        return None


def read_leaked(data: bytes) -> LeakedValues:
    """The numbers of a leaked artifact file (JSON or CSV, see the module docstring).

    Raises:
        InvalidArgument: the file is neither, or holds no number.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument("the artifact is not UTF-8 text (JSON or CSV)") from exc
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        leaked = _from_json(text)
    else:
        leaked = _from_csv(text)
    if not leaked.values:
        raise InvalidArgument("the artifact holds no number")
    return leaked


# --- JSON ----------------------------------------------------------------------------------


class _JsonNumber(float):
    """A float that remembers the text it was parsed from."""

    text: str


def _json_number(text: str) -> _JsonNumber:
    value = _JsonNumber(text)
    value.text = text
    return value


def _from_json(text: str) -> LeakedValues:
    try:
        doc = load_strict(
            text,
            "the artifact",
            parse_float=_json_number,
            parse_int=_json_number,
            parse_constant=float,
        )
    except MalformedEvidence as exc:
        raise InvalidArgument(str(exc)) from exc
    leaked = LeakedValues()
    for label, value in labelled_numbers(doc):
        if isinstance(value, _JsonNumber) and math.isfinite(value):
            leaked.add(label, Number(float(value), quantum_of(value.text)))
    return leaked


def labelled_numbers(doc: Any) -> Iterator[tuple[str | None, Any]]:
    """The numbers of a JSON document with their labels, as releases are labelled.

    A statistics release (``measures``) gives ``kind(column)|group|index`` labels; a training
    result or weights object (``weights``) gives feature names, ``intercept`` and
    ``metrics.NAME``; other objects give dotted key paths; list items are unlabelled.
    """
    if isinstance(doc, Mapping) and isinstance(doc.get("measures"), list):
        yield from statistics_numbers(doc)
    elif isinstance(doc, Mapping) and "weights" in doc:
        yield from training_numbers(doc)
    else:
        yield from _walk(doc, None)


def statistics_numbers(release: Mapping[str, Any]) -> Iterator[tuple[str | None, Any]]:
    """Cells of a statistics release dict, labelled like ``zone stats query --csv`` rows."""
    for measure in release.get("measures") or ():
        name = f"{measure.get('kind')}({measure.get('column', '')})"
        for cell in measure.get("cells") or ():
            group = "/".join(str(k) for k in cell.get("key") or ()) or "*"
            for i, value in enumerate(cell.get("values") or ()):
                yield f"{name}|{group}|{i}", value


def training_numbers(result: Mapping[str, Any]) -> Iterator[tuple[str | None, Any]]:
    """Weights (by feature name for a linear model), intercept and metrics of a training result."""
    weights, features = result.get("weights"), result.get("features")
    if (
        isinstance(weights, list)
        and isinstance(features, list)
        and len(features) == len(weights)
        and not any(isinstance(w, list) for w in weights)
    ):
        yield from ((str(f), w) for f, w in zip(features, weights, strict=True))
    else:
        yield from _walk(weights, "weights")
    yield from _walk(result.get("intercept"), "intercept")
    yield from _walk(result.get("metrics"), "metrics")


def _walk(doc: Any, label: str | None) -> Iterator[tuple[str | None, Any]]:
    if isinstance(doc, Mapping):
        for key, value in doc.items():
            yield from _walk(value, f"{label}.{key}" if label else str(key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _walk(value, f"{label}[{i}]" if label and len(doc) > 1 else label)
    elif isinstance(doc, int | float) and not isinstance(doc, bool):
        yield label, doc


# --- CSV -----------------------------------------------------------------------------------


def _from_csv(text: str) -> LeakedValues:
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    except csv.Error as exc:
        raise InvalidArgument("the artifact is not valid CSV") from exc
    leaked = LeakedValues()
    if not rows:
        return leaked
    header = [c.strip() for c in rows[0]]
    has_header = any(number(c) is None for c in header)
    body = rows[1:] if has_header else rows
    lowered = [c.lower() for c in header]
    if has_header and {"measure", "group", "values"} <= set(lowered):
        _stats_csv(leaked, body, [lowered.index(n) for n in ("measure", "group", "values")])
    elif _is_long_form(rows):
        for row in rows:
            name, value = _name_and_number(row)
            if value is not None:
                leaked.add(name, value)
    else:
        names = header if has_header and len(body) == 1 else []
        for row in body:
            for j, cell in enumerate(row):
                value = number(cell)
                if value is not None:
                    leaked.add(names[j] if j < len(names) and names[j] else None, value)
    return leaked


def _stats_csv(leaked: LeakedValues, body: Sequence[Sequence[str]], where: Sequence[int]) -> None:
    m, g, v = where
    for row in body:
        if max(where) >= len(row):
            continue
        for i, text in enumerate(row[v].split()):
            value = number(text)
            if value is not None:
                leaked.add(f"{row[m].strip()}|{row[g].strip()}|{i}", value)


def _is_long_form(rows: Sequence[Sequence[str]]) -> bool:
    """Two columns, one of names and one of numbers (either order), on every data row."""
    if not all(len(row) == 2 for row in rows):
        return False
    pairs = [_name_and_number(row) for row in rows]
    numeric_rows = sum(1 for _, value in pairs if value is not None)
    return numeric_rows >= max(1, len(rows) - 1) and all(
        name is not None for name, value in pairs if value is not None
    )


def _name_and_number(row: Sequence[str]) -> tuple[str | None, Number | None]:
    first, second = (c.strip() for c in row)
    a, b = number(first), number(second)
    if a is None and b is not None:
        return first, b
    if b is None and a is not None:
        return second, a
    return None, None
