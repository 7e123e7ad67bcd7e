"""Join keys normalised the same way on both sides, as DuckDB SQL over validated names.

A key is stripped of surrounding whitespace and then upper- or lower-cased as the product's
``key_format.case`` says (``preserve`` keeps it). An integer entity key is joined on its decimal
text (``007`` and ``7`` are one key). Operator keys must then be non-empty, at most
``key_format.max_length`` characters and match ``key_format.pattern`` in full (when set): a key
that cannot exist in the registry is refused at upload, with a count and the first row, so that
a formatting mistake is caught before anything is spent.
"""

from __future__ import annotations

from collections.abc import Callable

from zone.catalog._joint import KeyFormat

_STRIP = r"regexp_replace({value}, '^\s+|\s+$', '', 'g')"
_INTEGER = r"^[+-]?[0-9]{1,18}$"


def _cased(expression: str, key_format: KeyFormat) -> str:
    if key_format.case == "upper":
        return f"upper({expression})"
    if key_format.case == "lower":
        return f"lower({expression})"
    return expression


def operator_key(column: str, key_format: KeyFormat, *, integer: bool) -> str:
    """SQL for the normalised operator key of text column ``column`` (NULL if malformed)."""
    stripped = _STRIP.format(value=column)
    if integer:
        return (
            f"CASE WHEN regexp_full_match({stripped}, '{_INTEGER}') "
            f"THEN CAST(CAST({stripped} AS BIGINT) AS VARCHAR) END"
        )
    return _cased(stripped, key_format)


def zone_key(column: str, key_format: KeyFormat, *, integer: bool) -> str:
    """SQL for the normalised dataset key of column ``column`` (typed as the dataset has it)."""
    if integer:
        return f"CAST({column} AS VARCHAR)"
    return _cased(_STRIP.format(value=f"CAST({column} AS VARCHAR)"), key_format)


def key_acceptable(normalised: str, key_format: KeyFormat, bind: Callable[[object], str]) -> str:
    """SQL true where a normalised operator key is acceptable; ``bind`` names a parameter."""
    condition = f"length({normalised}) BETWEEN 1 AND {bind(key_format.max_length)}"
    if key_format.pattern is not None:
        condition += f" AND regexp_full_match({normalised}, {bind(key_format.pattern)})"
    return condition
