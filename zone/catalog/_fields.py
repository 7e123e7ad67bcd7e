"""Name patterns and field types shared by the catalog's schemas (metadata and products)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict

DATASET_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
PRODUCT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

STRICT_FROZEN = ConfigDict(strict=True, extra="forbid", frozen=True)


def as_tuple(value: object) -> object:
    """Let strict tuple fields accept YAML/JSON lists (elements stay strictly validated)."""
    return tuple(value) if isinstance(value, list) else value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _matching(pattern: re.Pattern[str], what: str, advice: str = "") -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{what} must match {pattern.pattern}{advice}")
        return value

    return check


def is_column_name(value: str) -> bool:
    """Whether ``value`` is a valid column name (safe to use as a quoted identifier)."""
    return COLUMN_NAME.fullmatch(value) is not None


def is_dataset_name(value: str) -> bool:
    """Whether ``value`` is a valid dataset name (safe inside a quoted table name)."""
    return DATASET_NAME.fullmatch(value) is not None


def _unique(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(value)) != len(value):
        raise ValueError("entries must be unique")
    return value


NonEmptyStr = Annotated[str, AfterValidator(_not_blank)]
_COLUMN_ADVICE = (
    " (ASCII letters, digits and _): name a column such as 统一社会信用代码 in ASCII, pinyin or"
    " English, here and in the data file's header row, and keep the original in its description"
)
ColumnName = Annotated[str, AfterValidator(_matching(COLUMN_NAME, "column names"))]
DeclaredColumnName = Annotated[
    str, AfterValidator(_matching(COLUMN_NAME, "column names", _COLUMN_ADVICE))
]
"""A column name in dataset metadata: the refusal says how to name a column of the file."""
DatasetName = Annotated[str, AfterValidator(_matching(DATASET_NAME, "dataset names"))]
ProductId = Annotated[str, AfterValidator(_matching(PRODUCT_ID, "product ids"))]
ColumnList = Annotated[tuple[ColumnName, ...], BeforeValidator(as_tuple), AfterValidator(_unique)]
