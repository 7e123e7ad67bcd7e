"""Dataset metadata: column types, classification levels, public bounds and domains.

An administrator writes one metadata file per dataset (``enterprises.meta.yaml``)::

    description: Registered enterprises
    provider: Market regulation bureau
    entity_key: uscc
    columns:
      uscc: {type: string, level: L3, description: "Unified social credit code"}
      district: {type: string, level: L1, domain: [a, b, c]}
      founded_year: {type: integer, level: L1, bounds: [1980, 2025]}
      capital: {type: float, level: L2, bounds: [0, 100000], granularity: 0.01}

Bounds and domains are *public* facts (they are published in the catalog and used to scale and
to choose group keys); they must never be derived from the data. Column names are used as quoted
SQL identifiers, so they are restricted to ``[A-Za-z_][A-Za-z0-9_]{0,62}``.

Every imported value is checked against its column's declaration (``zone.catalog.quality``):
type, control characters and ``max_length`` (strings), domain, bounds. ``on_violation`` says what
a violating value does: ``refuse`` (the default: the import fails and nothing changes), ``null``
(it is stored as NULL) or ``clamp`` (bounds only: it is clamped to the bounds; any other
violation in that column refuses). The entity key always refuses. Both fields are omitted from
the canonical JSON at their defaults, so existing versions are unchanged.

``granularity`` (optional, numeric columns) is the public unit in which DP sums are computed:
values are clamped to the bounds and rounded to multiples of it, so that sums are exact integer
sums. Without it, integer columns use 1 and float columns a power of ten derived from the bounds
alone. It is omitted from the canonical JSON when absent, so existing versions are unchanged.
"""

from __future__ import annotations

import datetime
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, ValidationInfo, field_validator

from zone.catalog._fields import STRICT_FROZEN, DeclaredColumnName, NonEmptyStr, as_tuple
from zone.catalog.levels import LEVEL_DESCRIPTION, Level
from zone.catalog.opendata import OpenData
from zone.errors import Problem, ValidationFailed
from zone.money import parse_decimal
from zone.yamlio import load_yaml, validate_model

ColumnType = Literal["integer", "float", "string", "boolean", "date"]
DomainValue = str | int

OnViolation = Literal["refuse", "null", "clamp"]

NUMERIC_TYPES = frozenset({"integer", "float"})
DEFAULT_KEY_MAX_LENGTH = 256
"""Longest entity key (characters) when the metadata declares no ``max_length``."""
DEFAULT_MAX_LENGTH = 65_536
"""Longest string value (characters) of other columns when no ``max_length`` is declared."""
KEY_TYPES = frozenset({"integer", "string"})
BOOLEAN_DOMAIN: tuple[bool, ...] = (False, True)


def _check_domain_value(column_type: str, value: DomainValue) -> None:
    if column_type == "integer" and not isinstance(value, int):
        raise ValueError("domain values of an integer column must be integers")
    if column_type in ("string", "date") and not isinstance(value, str):
        raise ValueError(f"domain values of a {column_type} column must be strings (quote them)")
    if column_type == "date":
        try:
            datetime.date.fromisoformat(str(value))
        except ValueError:
            raise ValueError("domain values of a date column must be YYYY-MM-DD") from None


class ColumnMeta(BaseModel):
    """One column: its type, classification level, and public bounds or domain.

    Attributes:
        type: How the file's values are read: ``integer`` and ``date`` (YYYY-MM-DD) exactly
            (a value that does not convert is refused, never rounded), ``float``, ``string``,
            ``boolean``.
        level: Classification, L1 (public) to L4 (most sensitive). L4 columns are never read
            by any product and their bounds and domain are withheld from the catalog.
        description: What the column holds, shown in the catalog.
        bounds: Public ``[low, high]`` of a numeric column: values are clamped to it before
            any DP sum, mean or quantile, and training scales features with it. Derive it from
            standards or the data's design, never from the data.
        domain: Public list of the values of a string, integer or date column: the group keys
            released (absent groups come back as noisy zeros; other values never appear) and
            the categories of a one-hot feature.
        granularity: Public unit of DP sums of a numeric column: values are rounded to
            multiples of it so sums are exact integers (default: 1 for integers, a power of
            ten from the bounds for floats).
        max_length: Longest string value in characters, checked at import (strings only;
            default 256 for the entity key, 65,536 for other columns).
        on_violation: What a value failing the import checks (type, control characters,
            length, domain, bounds) does: ``refuse`` (the import fails, nothing changes),
            ``null`` (stored as NULL) or ``clamp`` (bounds only: clamped to the bounds; other
            violations refuse). The entity key always refuses.
    """

    model_config = STRICT_FROZEN

    type: ColumnType
    level: Level = Field(description=LEVEL_DESCRIPTION)
    description: str = ""
    bounds: Annotated[tuple[float, float], BeforeValidator(as_tuple)] | None = None
    domain: Annotated[tuple[DomainValue, ...], BeforeValidator(as_tuple)] | None = None
    # Declared after bounds so that its validator can see them.
    granularity: float | None = Field(default=None, exclude_if=lambda value: value is None)
    max_length: int | None = Field(default=None, ge=1, exclude_if=lambda value: value is None)
    on_violation: OnViolation = Field(default="refuse", exclude_if=lambda value: value == "refuse")

    @field_validator("bounds")
    @classmethod
    def _check_bounds(
        cls, value: tuple[float, float] | None, info: ValidationInfo
    ) -> tuple[float, float] | None:
        if value is None:
            return None
        column_type = info.data.get("type")
        if column_type is not None and column_type not in NUMERIC_TYPES:
            raise ValueError("bounds are allowed only on integer and float columns")
        low, high = value
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError("bounds must be finite numbers")
        if not low < high:
            raise ValueError("bounds must be [low, high] with low < high")
        return value

    @field_validator("domain")
    @classmethod
    def _check_domain(
        cls, value: tuple[DomainValue, ...] | None, info: ValidationInfo
    ) -> tuple[DomainValue, ...] | None:
        if value is None:
            return None
        column_type = info.data.get("type")
        if column_type == "float":
            raise ValueError("a float column cannot have a domain (use bounds)")
        if column_type == "boolean":
            raise ValueError("a boolean column has the fixed domain [false, true]; omit it")
        if not value:
            raise ValueError("a domain must list at least one value")
        if len(set(value)) != len(value):
            raise ValueError("domain values must be unique")
        if column_type is not None:
            for item in value:
                _check_domain_value(column_type, item)
        return value

    @field_validator("granularity")
    @classmethod
    def _check_granularity(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is None:
            return None
        column_type = info.data.get("type")
        if column_type is not None and column_type not in NUMERIC_TYPES:
            raise ValueError("granularity is allowed only on integer and float columns")
        if not (math.isfinite(value) and value > 0):
            raise ValueError("granularity must be a finite number > 0")
        bounds = info.data.get("bounds")
        if bounds is not None and value > bounds[1] - bounds[0]:
            raise ValueError("granularity must not exceed the width of the bounds")
        return value

    @field_validator("max_length")
    @classmethod
    def _check_max_length(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("type") not in (None, "string"):
            raise ValueError("max_length is allowed only on string columns")
        return value

    @field_validator("on_violation")
    @classmethod
    def _check_on_violation(cls, value: OnViolation, info: ValidationInfo) -> OnViolation:
        if value == "clamp" and info.data.get("bounds") is None:
            raise ValueError("on_violation: clamp needs bounds (it clamps only to bounds)")
        return value

    @property
    def is_numeric(self) -> bool:
        """Whether the column holds integers or floats."""
        return self.type in NUMERIC_TYPES

    @property
    def public_domain(self) -> tuple[DomainValue | bool, ...] | None:
        """The public set of values (declared domain, or false/true for booleans), if any."""
        if self.type == "boolean":
            return BOOLEAN_DOMAIN
        return self.domain


def _share(value: object) -> Decimal:
    share = parse_decimal(value)
    if not 0 < share <= 1:
        raise ValueError("a share must be > 0 and <= 1")
    return share


ProviderId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class ProviderShare(BaseModel):
    """A data provider of a dataset and its share of the revenue from charges on it.

    Attributes:
        id: The provider's id in revenue reports.
        share: Exact decimal in (0, 1] (at most 6 places); the shares of a dataset sum to 1.
    """

    model_config = STRICT_FROZEN

    id: ProviderId
    share: Annotated[Decimal, BeforeValidator(_share)]


class DatasetMeta(BaseModel):
    """Metadata of one dataset: every column of its data file, and the entity key.

    ``providers`` (optional) names the data providers and their revenue shares: exact
    decimals (at most 6 places) summing to exactly 1. Omitted from the canonical JSON when
    absent, so existing versions are unchanged.

    ``open_data`` (optional) carries the open-data catalog fields (``zone.catalog.opendata``);
    a ``closed`` dataset serves no product.

    ``budget_scope`` says what a new version does to privacy budgets: ``dataset`` (the
    default) keeps one budget per principal and dataset across all its versions, because a new
    version describes the same people and firms, so what earlier versions revealed still counts;
    ``version`` gives each version budgets (and zone-wide caps) of its own, for data about
    different subjects (e.g. a new year's registrations), at the cost of composing across
    versions if the subjects do overlap. Omitted from the canonical JSON at its default.

    Attributes:
        description: What the dataset is, shown in the catalog.
        provider: Who supplies the data, shown in the catalog.
        providers: Data providers and their revenue shares (omitted: no revenue shares).
        budget_scope: ``dataset`` (default: one privacy budget per principal across all the
            dataset's versions, for the same subjects) or ``version`` (each version has budgets
            and zone-wide caps of its own, for versions about different subjects).
        open_data: Open-data catalog fields (open level, open mode, responsible provider,
            registration record), shown in the catalog.
        columns: Every column of the data file, by name (``[A-Za-z_][A-Za-z0-9_]*``, unique
            regardless of case), in the file's order or any other.
        entity_key: The column identifying one entity (string or integer; non-empty and unique
            in the data): one row per entity, the privacy unit of every product.
    """

    model_config = STRICT_FROZEN

    description: NonEmptyStr
    provider: NonEmptyStr
    providers: Annotated[tuple[ProviderShare, ...], BeforeValidator(as_tuple)] | None = Field(
        default=None, exclude_if=lambda value: value is None
    )
    budget_scope: Literal["dataset", "version"] = Field(
        default="dataset", exclude_if=lambda value: value == "dataset"
    )
    open_data: OpenData | None = Field(default=None, exclude_if=lambda value: value is None)
    # Declared before entity_key so that its validator can see the columns.
    columns: dict[DeclaredColumnName, ColumnMeta]
    entity_key: str

    @field_validator("columns")
    @classmethod
    def _check_columns(cls, value: dict[str, ColumnMeta]) -> dict[str, ColumnMeta]:
        if not value:
            raise ValueError("at least one column must be declared")
        folded: dict[str, str] = {}
        for name in value:
            other = folded.setdefault(name.lower(), name)
            if other != name:
                raise ValueError(f"column names {other!r} and {name!r} differ only in case")
        return value

    @field_validator("providers")
    @classmethod
    def _check_providers(
        cls, value: tuple[ProviderShare, ...] | None
    ) -> tuple[ProviderShare, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("providers must list at least one provider (or be omitted)")
        ids = [p.id for p in value]
        if len(set(ids)) != len(ids):
            raise ValueError("provider ids must be unique")
        total = sum((p.share for p in value), Decimal(0))
        if total != 1:
            raise ValueError(f"provider shares must sum to exactly 1 (they sum to {total})")
        return value

    @field_validator("entity_key")
    @classmethod
    def _check_entity_key(cls, value: str, info: ValidationInfo) -> str:
        columns: dict[str, ColumnMeta] | None = info.data.get("columns")
        if columns is None:
            return value
        column = columns.get(value)
        if column is None:
            raise ValueError(f"entity key {value!r} is not one of the columns")
        if column.type not in KEY_TYPES:
            raise ValueError("the entity key must be a string or integer column")
        if column.on_violation != "refuse":
            raise ValueError("the entity key's on_violation must be refuse (keys never change)")
        return value

    @property
    def open_level(self) -> str:
        """The open level (开放等级), "" when the metadata declares none."""
        return self.open_data.open_level if self.open_data else ""

    def max_length(self, name: str) -> int:
        """The longest value (characters) string column ``name`` may hold."""
        column = self.columns[name]
        if column.max_length is not None:
            return column.max_length
        return DEFAULT_KEY_MAX_LENGTH if name == self.entity_key else DEFAULT_MAX_LENGTH

    def to_json(self) -> str:
        """Canonical JSON (no whitespace): the form stored and hashed.

        Fields come in the schema's order and columns in their declared order (kept so that
        the catalog lists columns as the metadata declares them): deterministic for a given
        metadata file.
        """
        return json.dumps(
            self.model_dump(mode="json"),
            sort_keys=False,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, text: str) -> DatasetMeta:
        """Parse what :meth:`to_json` produced (validated again)."""
        return cls.model_validate(json.loads(text))


def load_metadata(path: Path) -> DatasetMeta:
    """Load and validate a metadata YAML file.

    Raises:
        ValidationFailed: with every problem found, each located as ``file:line``.
    """
    doc = load_yaml(path)
    problems: list[Problem]
    if not isinstance(doc.data, dict):
        problems = [doc.problem((), "metadata must be a mapping")]
    else:
        meta, problems = validate_model(doc, DatasetMeta)
        if meta is not None:
            return meta
    raise ValidationFailed(problems, what=f"loading {doc.source}")
